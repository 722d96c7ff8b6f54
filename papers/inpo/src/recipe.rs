//! INPO's data rule on the shared nash harness (spec "INPO-specific settings"): per prompt, K = 8
//! samples of `π_t`, one (winner, loser) pair chosen by the oracle:
//!
//! - **PM**: the 11-comparison [`tournament`](crate::tournament), each comparison one binary
//!   label `Bernoulli(P)` of the nash-mini preference; the pair is dropped unless the final
//!   comparison favours `y_w`;
//! - **RM**: the highest and the lowest Bradley–Terry reward (no cyclic term); no pair when every
//!   sample has the same reward.
//!
//! SPPO, the third method of INPO's Table 1, runs its own recipe (`sppo::recipe`) on the same
//! samples.

use crate::tournament::tournament;
use serde::{Deserialize, Serialize};
use shared::nash::{Group, Labelled, Oracle, Recipe};

/// How a method picks its pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairs {
    /// The preference-model tournament with binary labels.
    Pm,
    /// Max/min of the Bradley–Terry reward.
    Rm,
    /// SPPO's own rule (argmax/argmin of the score-sigmoid win rates, with its targets).
    Sppo,
}

/// The per-prompt values of the `data` records.
pub const DATA_METRICS: [&str; 1] = ["dropped"];

/// One iteration's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataStats {
    pub prompts: usize,
    pub pairs: usize,
    /// Share of prompts whose pair was dropped (PM: the final check failed; RM: every reward tied).
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub dropped: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub q_w: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub q_l: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub len_w: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub len_l: f64,
    /// Oracle queries spent per prompt.
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub comparisons: f64,
}

pub struct InpoRecipe {
    pub samples: usize,
    pub pairs: Pairs,
}

impl Recipe for InpoRecipe {
    fn samples(&self) -> usize {
        self.samples
    }

    fn examples(&mut self, _t: usize, groups: &[Group], oracle: &dyn Oracle, rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Labelled> {
        let mut out = Labelled::default();
        let mut st = DataStats { prompts: groups.len(), ..Default::default() };
        for g in groups {
            let k = g.texts.len();
            let picked = match self.pairs {
                Pairs::Pm => {
                    let mut err = None;
                    let t = tournament(k, |i, j| match oracle.label(g, i, j, rng) {
                        Ok(b) => b,
                        Err(e) => {
                            err.get_or_insert(e);
                            true
                        }
                    });
                    if let Some(e) = err {
                        return Err(e);
                    }
                    st.comparisons += t.comparisons as f64;
                    t.kept.then_some((t.winner, t.loser))
                }
                Pairs::Rm => {
                    let r: Vec<f64> = (0..k).map(|i| oracle.reward(g, i)).collect::<shared::Result<_>>()?;
                    let (mut w, mut l) = (0, 0);
                    for i in 0..k {
                        if r[i] > r[w] {
                            w = i;
                        }
                        if r[i] < r[l] {
                            l = i;
                        }
                    }
                    st.comparisons += k as f64;
                    (r[w] > r[l]).then_some((w, l))
                }
                Pairs::Sppo => unreachable!("SPPO runs sppo::recipe::SppoRecipe"),
            };
            let dropped = picked.is_none();
            if let Some((w, l)) = picked {
                st.q_w += oracle.quality(g, w).unwrap_or(f64::NAN);
                st.q_l += oracle.quality(g, l).unwrap_or(f64::NAN);
                st.len_w += oracle.length(g, w) as f64;
                st.len_l += oracle.length(g, l) as f64;
                out.examples.push(g.pair(w, l));
                out.sources.push(Some(g.prompt));
            }
            st.dropped += dropped as u8 as f64;
            out.per_prompt.push((g.prompt, vec![("dropped".into(), dropped as u8 as f64)]));
        }
        st.pairs = out.examples.len();
        let n = st.pairs.max(1) as f64;
        for v in [&mut st.q_w, &mut st.q_l, &mut st.len_w, &mut st.len_l] {
            *v /= n;
        }
        let p = st.prompts.max(1) as f64;
        st.dropped /= p;
        st.comparisons /= p;
        out.stats = serde_json::to_value(st)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A deterministic oracle: the logit is ±50 by a strength, the reward is a separate scale.
    struct Strength(Vec<f64>, Vec<f64>);
    impl Oracle for Strength {
        fn logit(&self, _: &Group, i: usize, j: usize) -> shared::Result<f64> {
            Ok(if self.0[i] >= self.0[j] { 50.0 } else { -50.0 })
        }
        fn reward(&self, _: &Group, i: usize) -> shared::Result<f64> {
            Ok(self.1[i])
        }
        fn rubric(&self, _: &Group, _: usize) -> shared::Result<u8> {
            Ok(1)
        }
    }

    fn group() -> Group {
        Group { prompt: 0, prompt_ids: vec![1], responses: (0..8).map(|i| vec![20 + i as i64]).collect(), texts: (0..8).map(|i| format!("y{i}")).collect(), teacher: None }
    }

    /// Test vector 4 through the recipe (labels that are certain: P = σ(±50)), and RM's max/min.
    #[test]
    fn pm_and_rm_pick_their_pairs() {
        let o = Strength(vec![0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.4, 0.8], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -1.0]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let pm = InpoRecipe { samples: 8, pairs: Pairs::Pm }.examples(0, &[group()], &o, &mut rng).unwrap();
        assert_eq!(pm.examples[0].responses, vec![vec![21], vec![22]]);
        // Read as JSON: the strengths carry no oracle quality, so q_w / q_l are NaN (null in JSON).
        let st = &pm.stats;
        assert_eq!((st["pairs"].as_u64(), st["dropped"].as_f64(), st["comparisons"].as_f64()), (Some(1), Some(0.0), Some(11.0)), "{st}");
        let rm = InpoRecipe { samples: 8, pairs: Pairs::Rm }.examples(0, &[group()], &o, &mut rng).unwrap();
        assert_eq!(rm.examples[0].responses, vec![vec![26], vec![27]]);
        // Every reward tied: no RM pair, the prompt counts as dropped.
        let flat = Strength(vec![0.0; 8], vec![1.0; 8]);
        let none = InpoRecipe { samples: 8, pairs: Pairs::Rm }.examples(0, &[group()], &flat, &mut rng).unwrap();
        assert!(none.examples.is_empty() && none.per_prompt[0].1[0].1 == 1.0);
    }
}
