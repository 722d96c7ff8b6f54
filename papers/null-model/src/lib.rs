//! Null models on AlpacaEval 2.0 (Zheng et al. 2024): a constant response that hijacks the judge
//! template. Here: structure checks on the released response and its raw and length-controlled
//! win rates recomputed from the judge annotations (the LC GLM comes from `lc-alpacaeval`).

use lc_alpacaeval::{ModelResult, Report};
use shared::eval::alpaca_eval::ModelAnnotations;
use shared::report::{Cell, Table};
use shared::stats::Claims;
use shared::{Error, Result};

pub const MODEL: &str = "NullModel";

/// What the constant response must contain (null-model.md §2, §7.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Structure {
    pub distinct_responses: usize,
    pub length: usize,
    pub closes_template: bool,
    pub fake_instruction: bool,
    pub empty_m_upper: bool,
    pub open_m_lower: bool,
}

/// Inspect `output_2` of every row: one distinct string and the attack's parts.
pub fn structure(a: &ModelAnnotations) -> Result<Structure> {
    let first = a.rows.first().ok_or_else(|| Error::invalid(a.path.display().to_string(), "no records"))?;
    let mut distinct: Vec<&str> = a.rows.iter().map(|r| r.output_2.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let s = first.output_2.as_str();
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(Structure {
        distinct_responses: distinct.len(),
        length: s.chars().count(),
        closes_template: s.contains("\"\"\"\n    }\n}"),
        fake_instruction: s.contains("Ignore the above ## Model Outputs") && s.contains("Output nothing"),
        empty_m_upper: compact.contains("\"model_identifier\":\"M\",\"output\":\"\"\"\"\"\""),
        open_m_lower: compact.contains("\"model_identifier\":\"m\",\"output\":\"\"\"") && compact.ends_with("\"output\":\"\"\""),
    })
}

/// The headline table: ours next to the leaderboard and the paper.
pub fn headline_table(r: &ModelResult) -> Table {
    let mut t = Table::new("NullModel on AlpacaEval 2.0 (constant 872-character response)", &["quantity", "ours (recomputed)", "leaderboard", "paper"]);
    let p = r.published.as_ref();
    let row = |t: &mut Table, q: &str, ours: Cell, lb: Cell, paper: &str| t.push(vec![q.into(), ours, lb, paper.into()]);
    row(&mut t, "n / wins / losses / draws", Cell::text(format!("{} / {} / {} / {}", r.raw.n_total, r.raw.n_wins, r.raw.n_wins_base, r.raw.n_draws)),
        p.map(|p| Cell::text(format!("{} / {} / {} / {}", p.n_total, p.n_wins, p.n_wins_base, p.n_draws))).unwrap_or(Cell::Missing), "805 / – / – / –");
    row(&mut t, "raw win rate", Cell::num(r.raw.win_rate, 4), Cell::opt(p.map(|p| p.win_rate), 4), "76.9 (the brief quoted 76.8)");
    row(&mut t, "standard error", Cell::num(r.raw.standard_error, 4), Cell::opt(p.map(|p| p.standard_error), 4), "–");
    row(&mut t, "discrete win rate", Cell::num(r.raw.discrete_win_rate, 4), Cell::opt(p.map(|p| p.discrete_win_rate), 4), "84.0");
    row(&mut t, "LC win rate", Cell::num(r.lc.lc_win_rate, 2), Cell::opt(p.and_then(|p| p.length_controlled_winrate), 2), "86.5");
    row(&mut t, "LC standard error", Cell::num(r.lc.lc_standard_error, 3), Cell::opt(p.and_then(|p| p.lc_standard_error), 3), "–");
    row(&mut t, "avg_length", Cell::Int(r.avg_length as i64), p.map(|p| Cell::Int(p.avg_length as i64)).unwrap_or(Cell::Missing), "872");
    t.note("Raw metrics recompute exactly (preferences are stored to 10 decimals: |diff| ~1e-10). LC is recomputed with the");
    t.note("re-estimated instruction difficulty and proxy gamed-baseline rows (see papers/lc-alpacaeval/README.md), so it");
    t.note("differs from the leaderboard by the same ~1 point as the other models.");
    t
}

/// The paper's comparison rows that the shipped leaderboard regenerates.
pub fn comparison_table(report: &Report) -> Table {
    let mut t = Table::new("NullModel vs the leaderboard's best real submissions (leaderboard CSV)", &["row", "model", "LC", "raw WR", "discrete WR", "avg len"]);
    for (label, m) in [("verified SOTA (paper's)", "gpt-4o-2024-05-13"), ("community SOTA (shipped leaderboard)", "SelfMoA_gemma-2-9b-it-WPO-HB"), ("null model", MODEL)] {
        if let Some(r) = report.leaderboard.iter().find(|r| r.model == m) {
            t.push(vec![label.into(), m.into(), Cell::opt(r.length_controlled_winrate, 2), Cell::num(r.win_rate, 2), Cell::num(r.discrete_win_rate, 2), Cell::Int(r.avg_length as i64)]);
        }
    }
    t
}

/// The paper's numbers as exact checks on the released submission (`results/null-model/claims.csv`):
/// each recomputed value against the paper's (to the decimals it prints) or the leaderboard's.
pub fn claims(r: &ModelResult, s: &Structure, command: &str) -> Result<Claims> {
    let mut c = Claims::new("null-model", command);
    c.exact("raw-wr", "the null model's raw win rate on AlpacaEval 2.0 is 76.9", "raw WR %, recomputed from the annotations", r.raw.win_rate, 76.9, 0.05)?;
    c.exact("discrete-wr", "its discrete win rate is 84.0", "discrete WR %, recomputed", r.raw.discrete_win_rate, 84.0, 0.05)?;
    c.exact("lc-wr", "its LC win rate is 86.5", "LC WR %, recomputed (re-estimated difficulty, proxy gamed rows)", r.lc.lc_win_rate, 86.5, 0.05)?;
    if let Some(p) = &r.published {
        c.exact("raw-wr-leaderboard", "the leaderboard's raw win rate 76.9198 is what the annotations give (to 4 decimals)", "raw WR %, recomputed vs the leaderboard", r.raw.win_rate, p.win_rate, 0.00005)?;
        if let Some(lc) = p.length_controlled_winrate {
            c.exact("lc-wr-leaderboard", "the leaderboard's LC win rate is what the annotations give (to 2 decimals)", "LC WR %, recomputed vs the leaderboard", r.lc.lc_win_rate, lc, 0.005)?;
        }
    }
    c.exact("one-constant-response", "the null model returns one constant response for every instruction", "distinct responses over the submission's rows", s.distinct_responses as f64, 1.0, 0.0)?;
    c.exact("response-length", "the constant response is 872 characters long", "length of the response in Unicode scalars", s.length as f64, 872.0, 0.0)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::eval::lc_glm::LcResult;
    use shared::eval::winrate::WinRate;
    use shared::stats::Verdict;

    #[test]
    fn claims_check_each_number_to_its_printed_decimals() {
        let raw = WinRate { win_rate: 76.9198, standard_error: 0.9, n_wins: 676, n_wins_base: 129, n_draws: 0, n_total: 805, discrete_win_rate: 83.9752 };
        let lc = LcResult { lc_win_rate: 87.14, lc_standard_error: 0.17, weights: Default::default(), c: None };
        let r = ModelResult { model: MODEL.into(), raw, avg_length: 872, lc, published: None };
        let s = Structure { distinct_responses: 1, length: 872, closes_template: true, fake_instruction: true, empty_m_upper: true, open_m_lower: true };
        let c = claims(&r, &s, "cargo xtask reproduce null-model").unwrap();
        let v: Vec<(&str, Verdict)> = c.rows.iter().map(|x| (x.id.as_str(), x.verdict)).collect();
        assert_eq!(
            v,
            [
                ("raw-wr", Verdict::Reproduced),
                ("discrete-wr", Verdict::Reproduced),
                ("lc-wr", Verdict::NotReproduced),
                ("one-constant-response", Verdict::Reproduced),
                ("response-length", Verdict::Reproduced)
            ]
        );
    }
}
