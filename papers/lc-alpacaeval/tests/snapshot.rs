//! Snapshot: the committed tables in results/lc-alpacaeval/ regenerate from the data. Most tests
//! take the committed difficulty vector as input (about a second); one runs the joint difficulty
//! GLM from the real annotations and must regenerate that vector and the LC column.

use lc_alpacaeval::{pipeline::Options, run, tables, Difficulty, Report};
use shared::eval::alpaca_eval as ae;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fetched AlpacaEval folder; a test fails (naming the file and `cargo xtask fetch alpaca_eval`)
/// when the files it reads are missing.
fn data() -> PathBuf {
    let rel = Path::new("alpaca_eval");
    for f in [ae::leaderboard_path(rel), ae::weights_path(rel), ae::benchmarks_path(rel), ae::annotations_path(rel, ae::BASELINE)] {
        shared::io::require_fetched(f);
    }
    shared::io::require_fetched(rel)
}

fn report() -> (PathBuf, Report) {
    let root = data();
    let d = repo().join("results/lc-alpacaeval/instruction_difficulty.csv");
    (root.clone(), run(&root, &Options { difficulty_file: Some(d) }).unwrap())
}

#[test]
fn raw_metrics_match_the_leaderboard_and_lc_matches_the_committed_table() {
    let (_, r) = report();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.rows.len(), 24);
    for m in &r.rows {
        let p = m.published.as_ref().unwrap();
        assert_eq!((m.raw.n_total, m.raw.n_wins, m.raw.n_wins_base, m.raw.n_draws), (p.n_total, p.n_wins, p.n_wins_base, p.n_draws), "{}", m.model);
        assert!((m.raw.win_rate - p.win_rate).abs() < 1e-8, "{}: {} vs {}", m.model, m.raw.win_rate, p.win_rate);
        assert!((m.raw.standard_error - p.standard_error).abs() < 1e-8, "{}", m.model);
        assert!((m.raw.discrete_win_rate - p.discrete_win_rate).abs() < 1e-9, "{}", m.model);
    }
    // The committed LC column (2 decimals).
    let text = std::fs::read_to_string(repo().join("results/lc-alpacaeval/lc_winrates.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let h = rd.headers().unwrap().clone();
    let j = h.iter().position(|c| c == "LC (ours)").unwrap();
    let mut n = 0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        let ours = r.get(&rec[0]).unwrap().lc.lc_win_rate;
        let snap: f64 = rec[j].parse().unwrap();
        assert!((ours - snap).abs() < 0.006, "{}: {ours} vs committed {snap}", &rec[0]);
        n += 1;
    }
    assert_eq!(n, 24);
    // Deviation from the leaderboard stays within the spec's band, LC above raw for shorter outputs.
    let (mean, max, _) = Report::lc_deviation(r.rows.iter()).unwrap();
    assert!(mean < 2.0 && max < 4.0, "mean {mean} max {max}");
    let base = r.get("gpt4_1106_preview").unwrap();
    assert_eq!(base.lc.lc_win_rate, 50.0);
    for m in r.rows.iter().filter(|m| m.avg_length < base.avg_length) {
        assert!(m.lc.lc_win_rate > m.raw.win_rate, "{}", m.model);
    }
}

/// `(first column, column named `col`)` of a committed CSV in results/lc-alpacaeval/.
fn committed_column(file: &str, col: &str) -> Vec<(String, f64)> {
    let path = repo().join("results/lc-alpacaeval").join(file);
    let mut rd = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let j = rd.headers().unwrap().iter().position(|c| c == col).unwrap_or_else(|| panic!("{file} has no column {col:?}"));
    rd.records().map(|r| r.unwrap()).map(|r| (r[0].to_string(), r[j].parse().unwrap())).collect()
}

/// The joint GLM (lc-alpacaeval.md §5) fitted from the 24 models' annotations regenerates the
/// committed difficulty vector and, with it, the committed LC column: the path
/// `cargo xtask reproduce lc-alpacaeval` takes when upstream's difficulty file is absent.
#[test]
fn joint_glm_from_the_annotations_regenerates_the_committed_difficulty_and_lc() {
    let r = run(&data(), &Options { difficulty_file: None }).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    match r.difficulty_source {
        Difficulty::JointGlm { c, models, .. } => assert!(models == 24 && (c - 2.783).abs() < 5e-3, "C = {c}, {models} models"),
        ref other => panic!("difficulty came from {other:?}, not the joint GLM"),
    }
    let d = committed_column("instruction_difficulty.csv", "instruction_difficulty");
    assert_eq!(d.len(), r.difficulty.len());
    let worst = d.iter().zip(&r.difficulty).map(|((_, want), got)| (want - got).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-4, "difficulty differs from the committed vector by up to {worst}");
    let lc = committed_column("lc_winrates.csv", "LC (ours)");
    assert_eq!(lc.len(), 24);
    for (model, want) in lc {
        let got = r.get(&model).unwrap_or_else(|| panic!("{model} not computed")).lc.lc_win_rate;
        assert!((got - want).abs() < 0.006, "{model}: LC {got} vs committed {want}");
    }
}

#[test]
fn arena_correlations_and_gameability_are_the_spec_values() {
    let (root, r) = report();
    let bench = ae::load_benchmarks(&ae::benchmarks_path(&root)).unwrap();
    let t = tables::correlation_table(&r, &bench);
    let cell = |i: usize, j: usize| t.rows[i][j].render();
    assert_eq!(cell(0, 2), "37");
    assert_eq!((cell(0, 3).as_str(), cell(0, 4).as_str()), ("0.9305", "0.8150"));
    assert_eq!((cell(1, 3).as_str(), cell(1, 4).as_str()), ("0.9746", "0.8692"));
    assert_eq!((cell(2, 3).as_str(), cell(2, 4).as_str()), ("0.2985", "0.2092"));
    assert_eq!((cell(0, 6).as_str(), cell(1, 6).as_str()), ("0.4550", "0.2731"));
    assert_eq!(cell(3, 2), "12");
    assert_eq!(cell(3, 3), "0.9650");
    assert_eq!(cell(4, 3), "0.9790");
    let (_, s) = tables::gameability_table(&r);
    let row = |i: usize| s.rows[i][1..5].iter().map(|c| c.render()).collect::<Vec<_>>();
    assert_eq!(row(0), vec!["21.35", "29.76", "0.00", "0"]);
    assert_eq!(row(1), vec!["7.48", "16.00", "8.45", "50"]);
}

#[test]
fn spec_lc_from_stored_weights() {
    // simpo.md test vectors: LC from the stored weights over d = [-1, 0, 1].
    let w = ae::load_glm_weights(&ae::weights_path(&data())).unwrap();
    let get = |m: &str| w.iter().find(|(n, _)| n == m).unwrap().1;
    let base = get("gpt4_1106_preview");
    let d = [-1.0, 0.0, 1.0];
    let p = |m: &str| 100.0 * shared::eval::lc_glm::predict_winrate(&get(m), &base, &d);
    assert!((p("Llama-3-Instruct-8B-SimPO") - 46.4203).abs() < 1e-4);
    assert!((p("gemma-2-9b-it-SimPO") - 75.1837).abs() < 1e-4);
    assert_eq!(w.len(), 200);
}
