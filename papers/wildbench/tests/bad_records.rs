//! Malformed judgement records give clear errors naming the file and the record, while the
//! other models of the same run still compute.

use std::path::Path;

/// The fetched WildBench folder (a missing one fails the test, naming it and the fetch command).
fn data() -> std::path::PathBuf {
    shared::io::require_fetched("wildbench/leaderboard/data_dir");
    shared::io::require_fetched("wildbench")
}

#[test]
fn a_bad_file_does_not_stop_the_others() {
    let real = data();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("wildbench");
    std::fs::create_dir_all(&root).unwrap();
    for d in ["leaderboard", "history"] {
        std::os::unix::fs::symlink(real.join(d), root.join(d)).unwrap();
    }
    // Score files: one good, one with a missing score, one with a non-numeric score.
    let sdir = root.join("eval_results/v2.0625/score.v2/eval=test-judge");
    std::fs::create_dir_all(&sdir).unwrap();
    let rec = |sid: &str, score: serde_json::Value| serde_json::json!({"session_id": sid, "score": score, "model_output": "text"});
    let write = |p: &Path, v: serde_json::Value| std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    write(&sdir.join("good.json"), serde_json::json!([rec("a1", "7".into()), rec("a2", "9".into())]));
    write(&sdir.join("no-score.json"), serde_json::json!([rec("b1", "7".into()), {"session_id": "b2", "model_output": "t"}]));
    write(&sdir.join("words.json"), serde_json::json!([rec("c1", "seven".into())]));
    // Pairwise files: the fixture (good) and a copy with an unknown choice string.
    let pdir = root.join("eval_results/v2.0522/pairwise.v2/eval=gpt-4-turbo-2024-04-09/ref=Llama-2-70b-chat-hf");
    std::fs::create_dir_all(&pdir).unwrap();
    let fixture = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pairwise/records.json"));
    let mut recs: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    write(&pdir.join("good-model.json"), recs.clone());
    recs[1]["parsed_result"]["choice"] = "A>>B".into();
    write(&pdir.join("bad-model.json"), recs);

    let out = tmp.path().join("out");
    let s = wildbench::pipeline::run_all(&root, &out, 0).unwrap();
    let find = |m: &str| s.score_files.iter().find(|(l, _)| l.ends_with(m)).map(|(_, r)| r.clone()).unwrap();
    assert!(find("/good").is_ok());
    let e = find("/no-score").unwrap_err();
    assert!(e.contains("no-score.json") && e.contains("b2") && e.contains("score"), "{e}");
    let e = find("/words").unwrap_err();
    assert!(e.contains("c1") && e.contains("seven"), "{e}");
    assert_eq!(s.pairwise_files, 2);
    let table = std::fs::read_to_string(out.join("reward_from_records.md")).unwrap();
    assert!(table.contains("bad-model.json") && table.contains("A>>B") && table.contains("fixture0002"), "{table}");
    // The good file computes at every K (0.0 at K=500, 5.0 at K=inf: the spec's vectors).
    let good: Vec<&str> = table.lines().filter(|l| l.contains("| good-model |")).collect();
    assert_eq!(good.len(), 4, "{table}");
    assert!(good.iter().any(|l| l.contains("| 500 | 10 | 0.0000 |")) && good.iter().any(|l| l.contains("| -1 | 10 | 5.0000 |")), "{table}");
}
