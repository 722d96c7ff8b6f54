//! WB-Elo (spec §4.5, leaderboard only): virtual pairwise votes from per-record scores,
//! then an online Elo anchored on Chatbot Arena ratings, repeated over shuffled vote orders.
//! Upstream uses Python's RNG, so values are not bit-reproducible here; the algorithm is.

use crate::reward::TRUNCATED_SUFFIX;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap};

/// The fit's settings (upstream `wb_elo_results.json` → `config`).
#[derive(Debug, Clone)]
pub struct EloConfig {
    pub k: f64,
    pub rounds: usize,
    pub margin: i32,
    pub tie_margin: i32,
    pub dynamic: bool,
    pub interval: usize,
    pub length_margin: usize,
}

impl Default for EloConfig {
    fn default() -> Self {
        EloConfig { k: 4.0, rounds: 128, margin: 2, tie_margin: 2, dynamic: true, interval: 100, length_margin: 1500 }
    }
}

/// One virtual vote between models `a` and `b` (indices); `winner` = Some(a|b) or None for a tie.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    pub a: usize,
    pub b: usize,
    pub winner: Option<usize>,
    pub len_a: usize,
    pub len_b: usize,
}

/// Per model: session → (integer score, output as the judge saw it).
pub type Scores = HashMap<String, (i32, String)>;

/// Votes for every session and unordered pair of models (§4.5 step 2).
pub fn votes(models: &[Scores], cfg: &EloConfig) -> Vec<Vote> {
    let mut sessions: Vec<&String> = models.iter().flat_map(|m| m.keys()).collect();
    sessions.sort();
    sessions.dedup();
    let mut out = vec![];
    for s in sessions {
        for a in 0..models.len() {
            for b in a + 1..models.len() {
                let (Some((sa, oa)), Some((sb, ob))) = (models[a].get(s), models[b].get(s)) else { continue };
                let (oa, ob) = (oa.trim(), ob.trim());
                if oa.is_empty() || ob.is_empty() || oa.ends_with(TRUNCATED_SUFFIX) || ob.ends_with(TRUNCATED_SUFFIX) {
                    continue;
                }
                let d = (sa - sb).abs();
                let winner = if d >= cfg.margin {
                    Some(if sa > sb { a } else { b })
                } else if d <= cfg.tie_margin {
                    None
                } else {
                    continue;
                };
                out.push(Vote { a, b, winner, len_a: oa.chars().count(), len_b: ob.chars().count() });
            }
        }
    }
    out
}

/// Expected score of a player rated `ra` against `rb`.
pub fn expected(ra: f64, rb: f64) -> f64 {
    1.0 / (1.0 + 10f64.powf((rb - ra) / 400.0))
}

/// One pass over `votes` in the given order, starting from the anchors (others at 1000).
pub fn one_round(n: usize, votes: &[&Vote], init: &[Option<f64>], cfg: &EloConfig) -> Vec<f64> {
    let mut r: Vec<f64> = init.iter().map(|x| x.unwrap_or(1000.0)).collect();
    let mut count = vec![0usize; n];
    for v in votes {
        let (a, b) = (v.a, v.b);
        if init[a].is_some() && init[b].is_some() {
            continue;
        }
        let long_gap = cfg.length_margin > 0 && v.len_a.abs_diff(v.len_b) > cfg.length_margin;
        let s_a = match v.winner {
            _ if long_gap => 0.5,
            None => 0.5,
            Some(w) if w == a => 1.0,
            Some(_) => 0.0,
        };
        let e_a = expected(r[a], r[b]);
        let deltas = [(a, cfg.k * (s_a - e_a)), (b, cfg.k * ((1.0 - s_a) - (1.0 - e_a)))];
        for (m, d) in deltas {
            match init[m] {
                None => r[m] += d,
                Some(r0) if cfg.dynamic => {
                    r[m] += d;
                    if count[m] % cfg.interval == 0 {
                        r[m] = (r[m] + r0) / 2.0;
                    }
                }
                Some(_) => {}
            }
        }
        count[a] += 1;
        count[b] += 1;
    }
    r
}

/// Summary of one model's ratings over the rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct EloStat {
    pub avg: f64,
    pub std: f64,
    pub median: f64,
    pub ci: (f64, f64),
}

/// Linear-interpolated percentile of sorted values (numpy's default).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The full fit: `rounds` shuffled passes (permutations) from one seed.
pub fn fit(names: &[String], votes: &[Vote], anchors: &BTreeMap<String, f64>, cfg: &EloConfig, seed: u64) -> BTreeMap<String, EloStat> {
    let init: Vec<Option<f64>> = names.iter().map(|m| anchors.get(m).copied()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<&Vote> = votes.iter().collect();
    let mut per_model: Vec<Vec<f64>> = vec![vec![]; names.len()];
    for _ in 0..cfg.rounds {
        order.shuffle(&mut rng);
        for (i, r) in one_round(names.len(), &order, &init, cfg).into_iter().enumerate() {
            per_model[i].push(r);
        }
    }
    let mut out = BTreeMap::new();
    for (name, mut xs) in names.iter().zip(per_model) {
        if xs.is_empty() {
            continue;
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        let n = xs.len() as f64;
        let avg = xs.iter().sum::<f64>() / n;
        let std = (xs.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n).sqrt();
        out.insert(name.clone(), EloStat { avg, std, median: percentile(&xs, 50.0), ci: (percentile(&xs, 2.5), percentile(&xs, 97.5)) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(score: i32) -> Scores {
        [("s".to_string(), (score, "some text".to_string()))].into()
    }

    #[test]
    fn spec_vote_vector() {
        let v = votes(&[one(8), one(6), one(7)], &EloConfig::default());
        let got: Vec<(usize, usize, Option<usize>)> = v.iter().map(|v| (v.a, v.b, v.winner)).collect();
        assert_eq!(got, vec![(0, 1, Some(0)), (0, 2, None), (1, 2, None)]);
    }

    #[test]
    fn first_update_moves_by_k_over_two() {
        let v = Vote { a: 0, b: 1, winner: Some(0), len_a: 10, len_b: 10 };
        let r = one_round(2, &[&v], &[None, None], &EloConfig::default());
        assert_eq!(r, vec![1002.0, 998.0]);
    }

    #[test]
    fn long_gap_is_a_tie_and_anchors_pull_back() {
        let cfg = EloConfig::default();
        let v = Vote { a: 0, b: 1, winner: Some(0), len_a: 10, len_b: 2000 };
        assert_eq!(one_round(2, &[&v], &[None, None], &cfg), vec![1000.0, 1000.0]);
        // Anchored at 1100, first update (counter 0) resets to the midpoint with the anchor.
        let v = Vote { a: 0, b: 1, winner: Some(1), len_a: 10, len_b: 10 };
        let r = one_round(2, &[&v], &[Some(1100.0), None], &cfg);
        let e = expected(1100.0, 1000.0);
        assert!((r[0] - (1100.0 + 4.0 * (0.0 - e) + 1100.0) / 2.0).abs() < 1e-12);
        assert!((r[1] - (1000.0 + 4.0 * e)).abs() < 1e-12);
        // Two anchored models never play.
        assert_eq!(one_round(2, &[&v], &[Some(1100.0), Some(900.0)], &cfg), vec![1100.0, 900.0]);
    }

    #[test]
    fn fit_orders_a_clear_winner_first() {
        // Model 0 always scores 9, model 1 always 5, model 2 always 7, over 60 sessions.
        let mk = |s: i32| -> Scores { (0..60).map(|i| (format!("s{i}"), (s, "text".to_string()))).collect() };
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let v = votes(&[mk(9), mk(5), mk(7)], &EloConfig::default());
        let fit = fit(&names, &v, &BTreeMap::new(), &EloConfig { rounds: 8, ..Default::default() }, 0);
        assert!(fit["a"].avg > fit["c"].avg && fit["c"].avg > fit["b"].avg);
        assert!(fit["a"].ci.0 <= fit["a"].median && fit["a"].median <= fit["a"].ci.1);
    }
}
