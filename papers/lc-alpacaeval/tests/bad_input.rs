//! Bad input: each fault is an error naming the file and record, and the other models' rows are
//! still computed.

use lc_alpacaeval::{pipeline::Options, run};
use shared::eval::alpaca_eval as ae;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A temporary AlpacaEval folder with the leaderboard, the stored weights and two models'
/// annotations copied from the fetched data (missing data fails the test, naming the file).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let rel = Path::new("alpaca_eval");
    for f in [ae::leaderboard_path(rel), ae::weights_path(rel), ae::annotations_path(rel, "gpt4_1106_preview"), ae::annotations_path(rel, "oasst-sft-pythia-12b")] {
        shared::io::require_fetched(f);
    }
    let src = shared::io::require_fetched(rel);
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("alpaca_eval");
    for f in [ae::leaderboard_path(&src), ae::weights_path(&src)] {
        let to = dst.join(f.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    for m in ["gpt4_1106_preview", "oasst-sft-pythia-12b"] {
        let f = PathBuf::from(format!("{}.gz", ae::annotations_path(&src, m).display()));
        let to = PathBuf::from(format!("{}.gz", ae::annotations_path(&dst, m).display()));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    (tmp, dst)
}

fn records(root: &Path, m: &str) -> Vec<serde_json::Value> {
    let bytes = shared::io::read_maybe_gz(&ae::annotations_path(root, m)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn write_plain(root: &Path, m: &str, recs: &[serde_json::Value]) {
    let p = ae::annotations_path(root, m);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, serde_json::to_vec(recs).unwrap()).unwrap();
}

/// Run with difficulty 0 (fast) and return the error text of `bad`, checking oasst still computed.
fn error_of(root: &Path, bad: &str) -> String {
    let d = root.join("d.csv");
    let mut s = String::from("index,instruction_difficulty\n");
    for i in 0..805 {
        s.push_str(&format!("{i},0\n"));
    }
    std::fs::write(&d, s).unwrap();
    let r = run(root, &Options { difficulty_file: Some(d) }).unwrap();
    assert!(r.get("oasst-sft-pythia-12b").is_some(), "the good model must still be computed");
    assert!(r.get(bad).is_none());
    r.errors.iter().find(|(m, _)| m == bad).map(|(_, e)| e.clone()).unwrap_or_else(|| panic!("no error for {bad}: {:?}", r.errors))
}

#[test]
fn missing_preference() {
    let (_t, root) = setup();
    let mut recs = records(&root, "oasst-sft-pythia-12b");
    recs[7].as_object_mut().unwrap().remove("preference");
    write_plain(&root, "bad-model", &recs);
    let e = error_of(&root, "bad-model");
    assert!(e.contains("bad-model") && e.contains("annotations.json") && e.contains("record 7") && e.contains("preference"), "{e}");
}

#[test]
fn preference_out_of_range_or_not_a_number() {
    let (_t, root) = setup();
    let mut recs = records(&root, "oasst-sft-pythia-12b");
    recs[3]["preference"] = serde_json::json!(2.7);
    write_plain(&root, "bad-range", &recs);
    let e = error_of(&root, "bad-range");
    assert!(e.contains("record 3") && e.contains("2.7"), "{e}");
    let mut recs = records(&root, "oasst-sft-pythia-12b");
    recs[5]["preference"] = serde_json::json!("1.5");
    write_plain(&root, "bad-type", &recs);
    let e = error_of(&root, "bad-type");
    assert!(e.contains("record 5") && e.contains("number"), "{e}");
}

#[test]
fn instructions_do_not_match_the_baseline() {
    let (_t, root) = setup();
    let mut recs = records(&root, "oasst-sft-pythia-12b");
    recs[11]["instruction"] = serde_json::json!("Write a haiku about a language that is not in the set.");
    write_plain(&root, "other-set", &recs);
    let e = error_of(&root, "other-set");
    assert!(e.contains("record 11") && e.contains("baseline"), "{e}");
}

#[test]
fn truncated_gzip() {
    let (_t, root) = setup();
    let src = PathBuf::from(format!("{}.gz", ae::annotations_path(&root, "oasst-sft-pythia-12b").display()));
    let bytes = std::fs::read(&src).unwrap();
    let to = PathBuf::from(format!("{}.gz", ae::annotations_path(&root, "cut-short").display()));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::File::create(&to).unwrap().write_all(&bytes[..bytes.len() / 2]).unwrap();
    let e = error_of(&root, "cut-short");
    assert!(e.contains("cut-short") && e.contains("annotations.json.gz") && e.contains("gzip"), "{e}");
}

#[test]
fn null_preference_is_skipped_not_fatal() {
    let (_t, root) = setup();
    let mut recs = records(&root, "oasst-sft-pythia-12b");
    recs[0]["preference"] = serde_json::Value::Null;
    write_plain(&root, "with-null", &recs);
    let a = ae::load_annotations(&root, "with-null").unwrap();
    assert_eq!(a.win_rate().unwrap().n_total, 804);
}
