//! The paper's checks on the published data, for the claims ledger
//! (`results/wildbench/claims.csv`): exact recomputations, reproduced or not.

use crate::pipeline::{Summary, TOL};
use shared::stats::Claims;

pub fn claims(s: &Summary, command: &str) -> shared::Result<Claims> {
    let mut c = Claims::new("wildbench", command);
    let (ok, n) = s.table3_matched;
    c.exact(
        "table3-from-table2",
        "Table 3's correlations with Chatbot Arena follow from Table 2 (every cell Table 2 determines, to 3 decimals)",
        &format!("cells equal to 3 decimals, of {n} checked"),
        ok as f64,
        n as f64,
        0.0,
    )?;
    for (label, id, what) in [("HEAD", "leaderboard-head", "the published merged leaderboard (HEAD, every K)"), ("history/8ed3a40", "leaderboard-paper-era", "the paper-era merged leaderboard (history/8ed3a40, every K)")] {
        let rows: Vec<_> = s.leaderboard.iter().filter(|l| l.0 == label).collect();
        if rows.is_empty() {
            continue;
        }
        let fields: usize = rows.iter().map(|l| l.2).sum();
        let bad: usize = rows.iter().map(|l| l.4).sum();
        c.exact(
            id,
            &format!("{what} is regenerated from the count tables, scores and Elo"),
            &format!("fields that differ (numbers by more than {TOL:e}, strings at all), of {fields} in {} tables", rows.len()),
            bad as f64,
            0.0,
            0.0,
        )?;
    }
    let errs: Vec<f64> = s.score_files.iter().filter_map(|(_, r)| r.as_ref().ok().copied().flatten()).collect();
    if !errs.is_empty() {
        c.exact(
            "wb-score-from-records",
            "WB-Score, total and avg_len of the published score tables follow from the per-record scores",
            &format!("max |recomputed − published| over {} score files, rounded to 1e-12 (round-off differs between CPUs)", errs.len()),
            (errs.iter().cloned().fold(0.0, f64::max) / 1e-12).round() * 1e-12,
            0.0,
            TOL,
        )?;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::stats::Verdict;

    #[test]
    fn exact_checks_from_the_summary() {
        let s = Summary {
            table3_matched: (28, 29),
            leaderboard: vec![("HEAD".into(), -1, 2783, 2e-14, 0), ("HEAD".into(), 500, 2783, 2e-14, 0), ("history/8ed3a40".into(), -1, 2147, 1e-3, 2)],
            score_files: vec![("a".into(), Ok(Some(4e-13))), ("b".into(), Ok(None)), ("c".into(), Err("bad".into()))],
            ..Default::default()
        };
        let c = claims(&s, "cargo xtask reproduce wildbench").unwrap();
        let v: Vec<(&str, Verdict)> = c.rows.iter().map(|x| (x.id.as_str(), x.verdict)).collect();
        assert_eq!(
            v,
            [
                ("table3-from-table2", Verdict::NotReproduced),
                ("leaderboard-head", Verdict::Reproduced),
                ("leaderboard-paper-era", Verdict::NotReproduced),
                ("wb-score-from-records", Verdict::Reproduced)
            ]
        );
        assert!(c.rows[1].metric.contains("of 5566 in 2 tables"));
    }
}
