//! Turning K scored responses per prompt into preference pairs: the pluggable rule of
//! the on-policy loop (SimPO's instruct recipe, SPPO, DNO, INPO, self-rewarding, ...).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a group of scored responses to one prompt becomes pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum PairRule {
    /// chosen = highest score, rejected = lowest (ties: first index); a group whose best and
    /// worst scores are equal gives no pair (SimPO's on-policy data, DNO's "large margin" pairs).
    BestVsWorst,
    /// chosen = highest score, rejected = a uniformly random other response (UltraFeedback-binarized).
    BestVsRandom,
    /// every ordered pair whose score difference exceeds `margin`.
    AllAboveMargin { margin: f64 },
}

/// One pair, by index into the group's responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairIdx {
    pub chosen: usize,
    pub rejected: usize,
}

/// Apply `rule` to one group's scores. `texts` decide whether all responses are identical
/// (such groups are dropped: they carry no preference).
pub fn pairs_for_group<R: Rng>(texts: &[String], scores: &[f64], rule: &PairRule, rng: &mut R) -> Vec<PairIdx> {
    assert_eq!(texts.len(), scores.len(), "one score per response");
    if texts.len() < 2 || texts.iter().all(|t| t == &texts[0]) {
        return vec![];
    }
    let argmax = first_index_by(scores, |a, b| a > b);
    match rule {
        PairRule::BestVsWorst => {
            let argmin = first_index_by(scores, |a, b| a < b);
            if scores[argmax] > scores[argmin] && texts[argmax] != texts[argmin] {
                vec![PairIdx { chosen: argmax, rejected: argmin }]
            } else {
                vec![]
            }
        }
        PairRule::BestVsRandom => {
            let others: Vec<usize> = (0..scores.len()).filter(|&j| j != argmax && texts[j] != texts[argmax]).collect();
            if others.is_empty() {
                return vec![];
            }
            vec![PairIdx { chosen: argmax, rejected: others[rng.gen_range(0..others.len())] }]
        }
        PairRule::AllAboveMargin { margin } => {
            let mut out = vec![];
            for i in 0..scores.len() {
                for j in 0..scores.len() {
                    if scores[i] - scores[j] > *margin && texts[i] != texts[j] {
                        out.push(PairIdx { chosen: i, rejected: j });
                    }
                }
            }
            out
        }
    }
}

/// Index of the first element that no later element beats under `better`.
fn first_index_by(xs: &[f64], better: impl Fn(f64, f64) -> bool) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate().skip(1) {
        if better(x, xs[best]) {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn best_vs_worst_takes_first_index_on_ties_and_drops_flat_groups() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let t = texts(&["a", "b", "c", "d"]);
        let p = pairs_for_group(&t, &[0.5, 0.9, 0.9, 0.1], &PairRule::BestVsWorst, &mut rng);
        assert_eq!(p, vec![PairIdx { chosen: 1, rejected: 3 }]);
        assert!(pairs_for_group(&t, &[0.3; 4], &PairRule::BestVsWorst, &mut rng).is_empty());
        let same = texts(&["x", "x", "x"]);
        assert!(pairs_for_group(&same, &[1.0, 0.0, 0.5], &PairRule::BestVsWorst, &mut rng).is_empty());
    }

    #[test]
    fn margin_rule_lists_every_clear_preference() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let t = texts(&["a", "b", "c"]);
        let p = pairs_for_group(&t, &[1.0, 0.5, 0.45], &PairRule::AllAboveMargin { margin: 0.1 }, &mut rng);
        assert_eq!(p, vec![PairIdx { chosen: 0, rejected: 1 }, PairIdx { chosen: 0, rejected: 2 }]);
    }

    #[test]
    fn best_vs_random_never_pairs_the_best_with_itself() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let t = texts(&["a", "b", "c", "d"]);
        for _ in 0..50 {
            let p = pairs_for_group(&t, &[0.1, 0.9, 0.2, 0.3], &PairRule::BestVsRandom, &mut rng);
            assert_eq!(p.len(), 1);
            assert_eq!(p[0].chosen, 1);
            assert_ne!(p[0].rejected, 1);
        }
    }

    #[test]
    fn rule_config_rejects_unknown_keys() {
        let ok: PairRule = toml::from_str("rule = \"all_above_margin\"\nmargin = 0.2").unwrap();
        assert_eq!(ok, PairRule::AllAboveMargin { margin: 0.2 });
        let err = toml::from_str::<PairRule>("rule = \"all_above_margin\"\nmargn = 1").unwrap_err().to_string();
        assert!(err.contains("margn") || err.contains("missing field `margin`"), "{err}");
        assert!(toml::from_str::<PairRule>("rule = \"best_vs_wrost\"").is_err());
    }
}
