//! The judge-answer parser on the stored records: every stored `parsed_result`, written back
//! as the judge's text (fenced JSON), parses to the record's `score`.

use wildbench::data::{discover, read_score_records};
use wildbench::judge_parse::parse_score;

#[test]
fn parser_recovers_every_stored_score() {
    shared::io::require_fetched("wildbench/eval_results/v2.0625/score.v2");
    let root = shared::io::require_fetched("wildbench");
    let files: Vec<_> = discover(&root, "score.v2").into_iter().filter(|f| f.version == "v2.0625").collect();
    assert!(files.len() >= 2, "{}: expected the fetched v2.0625 score files; fetch them with `cargo xtask fetch wildbench`", root.display());
    let mut n = 0;
    for f in files.iter().take(2) {
        for r in read_score_records(&f.path).unwrap() {
            let text = format!("```json\n{}\n```", serde_json::to_string_pretty(r.parsed_result.as_ref().unwrap()).unwrap());
            let got = parse_score(&text).unwrap_or_else(|e| panic!("{} {}: {e}", f.model, r.session_id));
            assert_eq!(got as f64, r.value().unwrap(), "{} {}", f.model, r.session_id);
            n += 1;
        }
    }
    assert!(n > 2000, "{n}");
}
