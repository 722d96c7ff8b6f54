//! Property tests: the whole recomputation (`run`) over a small AlpacaEval folder in which one
//! input is arbitrary, truncated or lightly edited: a model's annotations (that model is listed
//! among the errors, naming its file, and the others are computed), the leaderboard CSV or the
//! difficulty file (an error naming it). Never a panic.

#[path = "../../../shared/tests/props/mod.rs"]
mod props;

use lc_alpacaeval::{pipeline::Options, run};
use props::{config, corrupted_text, names};
use proptest::prelude::*;
use shared::eval::alpaca_eval as ae;
use std::path::{Path, PathBuf};

const N: usize = 8;

fn annotations(generator: &str, prefs: &[f64]) -> String {
    let recs: Vec<serde_json::Value> = prefs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            serde_json::json!({"instruction": format!("Task {i}: write {} words.", i + 3), "output_1": "b".repeat(40 + 13 * i),
                "output_2": "o".repeat(20 + 29 * i), "generator_1": ae::BASELINE, "generator_2": generator, "preference": p})
        })
        .collect();
    serde_json::to_string_pretty(&recs).unwrap()
}

fn model_prefs() -> Vec<f64> {
    (0..N).map(|i| 1.0 + ((i * 37) % 10) as f64 / 10.0).collect()
}

const LEADERBOARD: &str = ",win_rate,standard_error,n_wins,n_wins_base,n_draws,n_total,discrete_win_rate,mode,avg_length,length_controlled_winrate,lc_standard_error
gpt4_1106_preview,50.0,0.0,0,0,8,8,50.0,minimal,2049,50.0,0.0
m,45.0,10.0,4,4,0,8,50.0,community,120,47.0,9.0
";

/// The folder: leaderboard, stored weights, the baseline's and two models' annotations.
fn folder(dir: &Path) -> PathBuf {
    let root = dir.join("alpaca_eval");
    let put = |p: PathBuf, text: &str| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put(ae::leaderboard_path(&root), LEADERBOARD);
    put(ae::weights_path(&root), ",np.tanh(std_delta_len),instruction_difficulty,not_gamed_baseline.astype(float)\ngpt4_1106_preview,0,0,0\nm,-1.0,0.5,0.2\n");
    put(ae::annotations_path(&root, ae::BASELINE), &annotations(ae::BASELINE, &[1.5; N]));
    put(ae::annotations_path(&root, "m"), &annotations("m", &model_prefs()));
    put(ae::annotations_path(&root, "other"), &annotations("other", &model_prefs().iter().rev().copied().collect::<Vec<_>>()));
    let d: String = std::iter::once("index,instruction_difficulty\n".to_string()).chain((0..N).map(|i| format!("{i},{}\n", i as f64 / 4.0 - 1.0))).collect();
    put(dir.join("difficulty.csv"), &d);
    root
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_bad_annotation_file_is_that_models_error(bytes in corrupted_text(&annotations("m", &model_prefs()))) {
        let dir = tempfile::tempdir().unwrap();
        let root = folder(dir.path());
        let file = ae::annotations_path(&root, "m");
        std::fs::write(&file, &bytes).unwrap();
        let r = run(&root, &Options { difficulty_file: Some(dir.path().join("difficulty.csv")) }).unwrap();
        prop_assert!(r.get("other").is_some(), "the good model must still be computed: {:?}", r.errors);
        if let Some((_, e)) = r.errors.iter().find(|(m, _)| m == "m") {
            names(e, &file)?;
        }
    }

    #[test]
    fn a_bad_leaderboard_or_difficulty_file_is_an_error_naming_it(which in any::<bool>(), lb in corrupted_text(LEADERBOARD),
                                                                  d in corrupted_text("index,instruction_difficulty\n0,-1\n1,-0.75\n2,-0.5\n3,-0.25\n4,0\n5,0.25\n6,0.5\n7,0.75\n")) {
        let dir = tempfile::tempdir().unwrap();
        let root = folder(dir.path());
        let file = if which { ae::leaderboard_path(&root) } else { dir.path().join("difficulty.csv") };
        std::fs::write(&file, if which { &lb } else { &d }).unwrap();
        if let Err(e) = run(&root, &Options { difficulty_file: Some(dir.path().join("difficulty.csv")) }) {
            names(&e, &file)?;
        }
    }
}

/// The untouched folder computes every model, so the properties above start from a working run.
#[test]
fn the_untouched_folder_computes_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = folder(dir.path());
    let r = run(&root, &Options { difficulty_file: Some(dir.path().join("difficulty.csv")) }).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.rows.len(), 3);
    assert!(r.get("m").unwrap().lc.lc_win_rate.is_finite());
}
