//! The table writer's Markdown form is what every committed result file looks like.

use shared::report::{Cell, Table};

#[test]
fn table_markdown_snapshot() {
    let mut t = Table::new("Example", &["method", "oracle", "win rate"]);
    t.push(vec!["DPO".into(), Cell::num(0.51234, 3), Cell::NumSe(55.5, 1.75, 1)]);
    t.push(vec!["SimPO".into(), Cell::num(0.6, 3), Cell::Missing]);
    t.note("Win rate against the SFT base, oracle in [0, 1].");
    insta::assert_snapshot!(t.to_markdown());
}
