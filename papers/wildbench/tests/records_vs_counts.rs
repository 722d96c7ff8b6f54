//! WB-Reward from per-record judgements and from outcome counts agree on a fixture whose
//! count tables were computed independently (fixtures/make_pairwise_fixture.py).

use std::collections::HashMap;
use std::path::Path;
use wildbench::data::{DataDir, Ordered};
use wildbench::groups::MacroWeights;
use wildbench::reward::{from_records, CountRow, Margin, PairwiseRecord};

fn fixture() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pairwise"))
}

#[test]
fn records_and_counts_give_the_same_rewards() {
    let recs: Vec<PairwiseRecord> = shared::io::read_json(&fixture().join("records.json")).unwrap();
    let sessions: HashMap<String, Vec<String>> = shared::io::read_json(&fixture().join("sessions.json")).unwrap();
    let w = MacroWeights::current();
    let dir = DataDir { dir: fixture().to_path_buf() };
    for k in [-1i64, 500, 1000] {
        let from_rec = from_records(&recs, "Llama-2-70b-chat-hf", Margin::from_k(k), Some(&sessions)).unwrap().unwrap();
        let table: Ordered<CountRow> = dir.pairwise("llama", k).unwrap().unwrap();
        let row = table.get("org/T-model").unwrap();
        let from_counts = row.to_result();
        assert_eq!(from_rec, from_counts, "K={k}");
        assert_eq!(from_rec.reward(), row.reward, "K={k}");
        assert!((from_rec.task_macro(&w).unwrap() - row.task_macro_reward).abs() < 1e-15, "K={k}");
        for (g, r) in from_counts.group_rewards() {
            assert!((r - row.task_categorized_rewards[&g]).abs() < 1e-15, "K={k} {g}");
        }
    }
}
