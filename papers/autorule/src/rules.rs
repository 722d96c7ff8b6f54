//! AutoRule's rule reward and its programmatic miniature (spec "Miniature reproduction", step 3).
//!
//! ```text
//! frac(x, y)    = (1/K) Σ_i s_i(x, y)             s_i = 1 when rule i holds (inapplicable: holds)
//! r_rule(x, y)  = 10 · (frac − 0.75)              (the released code's scale and centre)
//! length norm   r ← r − max(0, 0.5·L/300 − 0.5)   (the length-penalty baseline)
//! ```
//! The LLM stages become predicates over (prompt, response) in the world:
//! 1. **justify**: for a preference pair, the candidate predicates whose values differ;
//! 2. **extract**: of those, the ones that hold on the chosen side and not on the rejected one;
//! 3. **merge**: over all pairs, keep a predicate if it favours the chosen side in at least `τ`
//!    of the pairs where it differs and its win − loss margin is positive; drop near-duplicates
//!    (|correlation| > 0.9 of their values over all responses), keeping the more frequent.
//!
//! The verifier is the predicate itself.

use serde::{Deserialize, Serialize};
use shared::world::response::{parse, Parsed};
use shared::world::Prompt;

/// The candidate predicates (the "rule-like statements" a reasoning model could extract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The answer is right (the task's items, in order).
    AnswerCorrect,
    /// Every format the prompt asks for is applied (inapplicable when none is asked).
    FormatMatches,
    /// No filler phrases.
    NoFiller,
    /// Opens with "sure: ".
    PreambleSure,
    /// Opens with "ok: ".
    PreambleOk,
    /// Ends with the closing "hope it helps".
    HasClosing,
    /// No answer item is repeated.
    NoRepeatedItem,
    /// At most 1.5× the length of the gold answer.
    WithinLengthBand,
    /// At least 40 characters (a length-favouring statement).
    LongAnswer,
    /// Not empty.
    Nonempty,
}

pub const CANDIDATES: [Rule; 10] = [
    Rule::AnswerCorrect,
    Rule::FormatMatches,
    Rule::NoFiller,
    Rule::PreambleSure,
    Rule::PreambleOk,
    Rule::HasClosing,
    Rule::NoRepeatedItem,
    Rule::WithinLengthBand,
    Rule::LongAnswer,
    Rule::Nonempty,
];

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::AnswerCorrect => "answer_correct",
            Rule::FormatMatches => "format_matches",
            Rule::NoFiller => "no_filler",
            Rule::PreambleSure => "preamble_sure",
            Rule::PreambleOk => "preamble_ok",
            Rule::HasClosing => "has_closing",
            Rule::NoRepeatedItem => "no_repeated_item",
            Rule::WithinLengthBand => "within_length_band",
            Rule::LongAnswer => "long_answer",
            Rule::Nonempty => "nonempty",
        }
    }

    /// Whether response `y` (parsed as `p`) satisfies the rule for prompt `x`; `gold_len` is the
    /// length of the gold answer in characters.
    pub fn holds(self, x: &Prompt, p: &Parsed, gold_len: usize) -> bool {
        match self {
            Rule::AnswerCorrect => x.content_score(&p.items) >= 1.0,
            Rule::FormatMatches => x.skills.iter().all(|s| p.meets(*s)),
            Rule::NoFiller => p.fillers == 0,
            Rule::PreambleSure => p.preamble == 1,
            Rule::PreambleOk => p.preamble == 2,
            Rule::HasClosing => p.closing,
            Rule::NoRepeatedItem => {
                let mut seen = std::collections::HashSet::new();
                p.items.iter().all(|i| seen.insert(i))
            }
            Rule::WithinLengthBand => p.chars * 2 <= gold_len * 3,
            Rule::LongAnswer => p.chars >= 40,
            Rule::Nonempty => !p.items.is_empty(),
        }
    }
}

/// A response checked against every candidate rule.
pub fn verify(x: &Prompt, y: &str, gold_len: usize) -> Vec<bool> {
    let p = parse(y);
    CANDIDATES.iter().map(|r| r.holds(x, &p, gold_len)).collect()
}

/// `frac`: the share of `rules` that hold (`checks` indexed like [`CANDIDATES`]).
pub fn fraction(rules: &[Rule], checks: &[bool]) -> f64 {
    if rules.is_empty() {
        return 1.0;
    }
    rules.iter().filter(|r| checks[CANDIDATES.iter().position(|c| c == *r).unwrap_or(0)]).count() as f64 / rules.len() as f64
}

/// `r_rule = 10·(frac − 0.75)` (spec test vector 1).
pub fn rule_reward(frac: f64) -> f64 {
    10.0 * (frac - 0.75)
}

/// The length-penalty baseline's subtraction: `max(0, 0.5·L/threshold − 0.5)` (vector 2; the
/// paper's threshold is 300 tokens).
pub fn length_penalty(len: usize, threshold: usize) -> f64 {
    (0.5 * len as f64 / threshold as f64 - 0.5).max(0.0)
}

/// One preference pair as the miner sees it: the candidates' values on each side.
#[derive(Clone, Debug)]
pub struct CheckedPair {
    pub chosen: Vec<bool>,
    pub rejected: Vec<bool>,
}

/// Stage 1 (justify): the candidates whose values differ between the two sides.
pub fn justify(p: &CheckedPair) -> Vec<Rule> {
    CANDIDATES.iter().enumerate().filter(|(i, _)| p.chosen[*i] != p.rejected[*i]).map(|(_, r)| *r).collect()
}

/// Stage 2 (extract): the differing candidates that hold on the chosen side.
pub fn extract(p: &CheckedPair) -> Vec<Rule> {
    justify(p).into_iter().filter(|r| p.chosen[CANDIDATES.iter().position(|c| c == r).unwrap_or(0)]).collect()
}

/// What the merge stage saw of one candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub rule: Rule,
    /// Pairs where it differs.
    pub differs: usize,
    /// Pairs where it was extracted (holds on the chosen side only).
    pub wins: usize,
    pub kept: bool,
    /// Dropped as a near-duplicate of this rule.
    pub duplicate_of: Option<Rule>,
}

/// Stage 3 (merge): keep candidates extracted in ≥ `tau` of the pairs where they differ with a
/// positive margin (wins − losses); drop near-duplicates over `responses` (each a row of
/// candidate values): |corr| > 0.9, the rule extracted more often stays.
pub fn merge(pairs: &[CheckedPair], responses: &[Vec<bool>], tau: f64) -> (Vec<Rule>, Vec<Tally>) {
    let mut tallies: Vec<Tally> = CANDIDATES
        .iter()
        .map(|&rule| {
            let differs = pairs.iter().filter(|p| justify(p).contains(&rule)).count();
            let wins = pairs.iter().filter(|p| extract(p).contains(&rule)).count();
            let kept = differs > 0 && wins as f64 >= tau * differs as f64 && 2 * wins > differs;
            Tally { rule, differs, wins, kept, duplicate_of: None }
        })
        .collect();
    let col = |i: usize| -> Vec<f64> { responses.iter().map(|r| f64::from(u8::from(r[i]))).collect() };
    let mut order: Vec<usize> = (0..CANDIDATES.len()).filter(|&i| tallies[i].kept).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tallies[i].wins));
    let mut kept: Vec<usize> = vec![];
    for i in order {
        if let Some(&j) = kept.iter().find(|&&j| correlation(&col(i), &col(j)).abs() > 0.9) {
            tallies[i].kept = false;
            tallies[i].duplicate_of = Some(CANDIDATES[j]);
        } else {
            kept.push(i);
        }
    }
    kept.sort();
    (kept.into_iter().map(|i| CANDIDATES[i]).collect(), tallies)
}

/// Pearson correlation (0 when either side is constant).
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let (va, vb): (f64, f64) = (a.iter().map(|x| (x - ma).powi(2)).sum(), b.iter().map(|y| (y - mb).powi(2)).sum());
    if va == 0.0 || vb == 0.0 { 0.0 } else { cov / (va * vb).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_1_rule_reward() {
        let r = |k: f64, n: f64| rule_reward(k / n);
        for (got, want) in [(r(25.0, 25.0), 2.5), (r(20.0, 25.0), 0.5), (r(19.0, 25.0), 0.1), (r(0.0, 25.0), -7.5), (r(15.0, 20.0), 0.0)] {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn vector_2_length_penalty() {
        for (l, want) in [(200, 0.0), (300, 0.0), (450, 0.25), (900, 1.0)] {
            assert!((length_penalty(l, 300) - want).abs() < 1e-12, "L = {l}");
        }
    }

    #[test]
    fn vector_3_totals_of_one_prompt() {
        let rules = [20.0 / 25.0, 23.0 / 25.0].map(rule_reward);
        assert!((rules[0] - 0.5).abs() < 1e-12 && (rules[1] - 1.7).abs() < 1e-12);
        let totals = [0.3 + rules[0], -0.2 + rules[1]];
        assert!((totals[0] - 0.8).abs() < 1e-12 && (totals[1] - 1.5).abs() < 1e-12);
        // Group normalisation of these totals is shared::rl's (tested there with this vector).
        let a = shared::rl::math::group_advantages(&totals, 2, 1e-9, true).unwrap();
        let s = std::f64::consts::FRAC_1_SQRT_2; // spec: ±0.707107
        assert!((a[0] + s).abs() < 1e-6 && (a[1] - s).abs() < 1e-6);
    }

    fn pair(chosen: &[usize], rejected: &[usize]) -> CheckedPair {
        let row = |on: &[usize]| (0..CANDIDATES.len()).map(|i| on.contains(&i)).collect();
        CheckedPair { chosen: row(chosen), rejected: row(rejected) }
    }

    #[test]
    fn justify_extract_merge() {
        // Candidate 0 always favours chosen; 2 favours rejected; 8 is a copy of 0 over responses.
        let p = pair(&[0, 1, 8], &[1, 2]);
        assert_eq!(justify(&p), vec![Rule::AnswerCorrect, Rule::NoFiller, Rule::LongAnswer]);
        assert_eq!(extract(&p), vec![Rule::AnswerCorrect, Rule::LongAnswer]);
        let pairs = vec![p.clone(), p.clone(), pair(&[0, 8], &[]), pair(&[], &[0, 8])];
        let responses: Vec<Vec<bool>> = pairs.iter().flat_map(|p| [p.chosen.clone(), p.rejected.clone()]).collect();
        let (rules, t) = merge(&pairs, &responses, 0.6);
        assert_eq!(rules, vec![Rule::AnswerCorrect], "{t:?}");
        assert_eq!(t[8].duplicate_of, Some(Rule::AnswerCorrect));
        assert!(!t[2].kept, "no_filler favours the rejected side here");
        assert_eq!((t[0].differs, t[0].wins), (4, 3));
        assert!((fraction(&[Rule::AnswerCorrect, Rule::NoFiller], &p.chosen) - 0.5).abs() < 1e-12);
    }
}
