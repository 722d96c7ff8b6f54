//! The null model's numbers (null-model.md §5) and the structure of its constant response.
use null_model::{structure, MODEL};
use shared::eval::alpaca_eval as ae;

#[test]
fn raw_numbers_and_structure() {
    shared::io::require_fetched(ae::annotations_path(std::path::Path::new("alpaca_eval"), MODEL));
    let a = ae::load_annotations(&shared::io::require_fetched("alpaca_eval"), MODEL).unwrap();
    let w = a.win_rate().unwrap();
    assert_eq!((w.n_total, w.n_wins, w.n_wins_base, w.n_draws), (805, 676, 129, 0));
    assert!((w.win_rate - 76.91979180386511).abs() < 1e-8);
    assert!((w.standard_error - 0.9090102449662572).abs() < 1e-8);
    assert!((w.discrete_win_rate - 83.97515527950311).abs() < 1e-9);
    let s = structure(&a).unwrap();
    assert_eq!((s.distinct_responses, s.length), (1, 872));
    assert!(s.closes_template && s.fake_instruction && s.empty_m_upper && s.open_m_lower, "{s:?}");
}
