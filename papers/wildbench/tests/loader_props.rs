//! Property tests: WildBench's loaders (per-record judgements, the count tables, `score.json`,
//! `all_stat.json`, `wb_elo_results.json`, the merged leaderboards), fed arbitrary bytes,
//! truncated prefixes of valid files and lightly edited ones, return a value or an error naming
//! the file, and what the pipeline computes next from a loaded file never panics.

#[path = "../../../shared/tests/props/mod.rs"]
mod props;

use props::{config, corrupted, corrupted_text, names};
use proptest::prelude::*;
use std::path::Path;
use wildbench::data::{read_pairwise_records, read_score_records, DataDir};
use wildbench::groups::MacroWeights;
use wildbench::reward::{from_records, Margin};
use wildbench::score::ChecklistScorer;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pairwise")).join(name)).unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

const SCORES: &str = r#"[
 {"session_id": "s1", "model_test": "m", "score": "7", "model_output": "A whole answer.", "parsed_result": {"score": "7"}},
 {"session_id": "s2", "score": 9, "model_output": "Another answer ... (truncated)"},
 {"session_id": "s3", "score": "10", "model_output": ""}
]"#;

const SCORE_JSON: &str = r#"{"m": {"model": "m", "score": 7.97, "adjusted_score": 5.94, "task_macro_score": 5.95, "adjusted_task_macro_score": 5.95,
 "task_categorized_scores": {"Creative Tasks": 6.03, "Coding & Debugging": 5.89, "Planning & Reasoning": 6.09, "Information/Advice seeking": 6.07, "Math & Data Analysis": 5.71},
 "total": 1022, "avg_len": 3175.14}}"#;

const ALL_STAT: &str = r#"{"m": {"Arena-Hard v0.1": "-", "AE2.0 LC": "57.5", "AE2.0": "51.3", "Arena Elo (hard-en) - 2024-07-16": 1280}}"#;

const ELO: &str = r#"{"config": {"K": 4}, "elo_stat": {"m": {"avg": 1239.47, "std": 6.27, "median": 1239.25, "ci": [1228.26, 1252.77], "init_elo": 1280.0}}}"#;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pairwise_records(bytes in corrupted_text(&fixture("records.json"))) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("org__T-model.json");
        write(&file, &bytes);
        match read_pairwise_records(&file) {
            Ok(recs) => {
                for k in [-1, 500] {
                    // A bad record is an error naming the session (the pipeline adds the file).
                    if let Ok(Some(r)) = from_records(&recs, "Llama-2-70b-chat-hf", Margin::from_k(k), None) {
                        let _ = (r.reward(), r.task_macro(&MacroWeights::current()));
                    }
                }
            }
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn score_records(bytes in corrupted_text(SCORES)) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.json");
        write(&file, &bytes);
        match read_score_records(&file) {
            Ok(recs) => {
                let _ = ChecklistScorer { weights: MacroWeights::current() }.summarize_records(&recs, None);
            }
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn count_table(bytes in corrupted_text(&fixture("pairwise-llama-K=500.json"))) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pairwise-llama-K=500.json");
        write(&file, &bytes);
        match (DataDir { dir: dir.path().to_path_buf() }).pairwise("llama", 500) {
            Ok(Some(t)) => {
                for (_, row) in &t.0 {
                    let r = row.to_result();
                    let _ = (r.reward(), r.group_rewards(), r.task_macro(&MacroWeights::current()));
                }
            }
            Ok(None) => prop_assert!(false, "the table exists"),
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn leaderboard_tables(score in corrupted_text(SCORE_JSON), stat in corrupted_text(ALL_STAT), elo in corrupted_text(ELO), merged in corrupted(ALL_STAT.as_bytes().to_vec())) {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir { dir: dir.path().to_path_buf() };
        let files = ["score.json", "all_stat.json", "wb_elo_results.json", "all_stat_wildbench.500.json"].map(|n| dir.path().join(n));
        for (f, b) in files.iter().zip([&score, &stat, &elo, &merged]) {
            write(f, b);
        }
        match d.score() {
            Ok(rows) => {
                for (_, row) in &rows.0 {
                    let _ = wildbench::leaderboard::wb_score_fields(row, &MacroWeights::current());
                }
            }
            Err(e) => names(&e, &files[0])?,
        }
        if let Err(e) = d.all_stat() { names(&e, &files[1])?; }
        if let Err(e) = d.wb_elo() { names(&e, &files[2])?; }
        if let Err(e) = d.merged(500) { names(&e, &files[3])?; }
    }
}
