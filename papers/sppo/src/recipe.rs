//! SPPO's data rule on the shared harness (spec "How the win rate is estimated"): per prompt, the
//! K×K logit matrix of the preference → `Phat` ([`crate::winrate`]) → the pair `y_w = argmax s`,
//! `y_l = argmin s`, carrying SPPO's regression targets as side data; a prompt whose K samples all
//! tie gives no pair. The DPO and IPO baselines train on the same pairs.

use crate::loss::{Objective, TARGET_L, TARGET_W};
use crate::winrate::estimate;
use serde::{Deserialize, Serialize};
use shared::nash::{Group, Labelled, Oracle, Recipe};

/// The preference data of one iteration (means over its pairs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataStats {
    pub pairs: usize,
    /// Prompts whose K samples all tied (no pair).
    pub tied: usize,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub phat_w: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub phat_l: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub q_w: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub q_l: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub len_w: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub len_l: f64,
}

/// The recipe of one method: K samples, and the objective whose targets the pairs carry.
pub struct SppoRecipe {
    pub samples: usize,
    pub objective: Objective,
}

impl Recipe for SppoRecipe {
    fn samples(&self) -> usize {
        self.samples
    }

    fn examples(&mut self, _t: usize, groups: &[Group], oracle: &dyn Oracle, _rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Labelled> {
        let mut out = Labelled::default();
        let mut st = DataStats::default();
        for g in groups {
            let c = oracle.logit_matrix(g)?;
            let e = estimate(self.objective.phat_mode(), &c);
            if e.winner == e.loser {
                st.tied += 1;
                continue;
            }
            let (w, l) = (e.winner, e.loser);
            st.phat_w += e.phat_w();
            st.phat_l += e.phat_l();
            st.q_w += oracle.quality(g, w).unwrap_or(f64::NAN);
            st.q_l += oracle.quality(g, l).unwrap_or(f64::NAN);
            st.len_w += oracle.length(g, w) as f64;
            st.len_l += oracle.length(g, l) as f64;
            let mut ex = g.pair(w, l);
            if let Some((tw, tl)) = self.objective.targets(e.phat_w(), e.phat_l(), e.p_wl) {
                ex = ex.with(TARGET_W, tw).with(TARGET_L, tl);
            }
            out.examples.push(ex);
            out.sources.push(Some(g.prompt));
            out.per_prompt.push((g.prompt, vec![("phat_w".into(), e.phat_w()), ("phat_l".into(), e.phat_l())]));
        }
        st.pairs = out.examples.len();
        let n = st.pairs.max(1) as f64;
        for v in [&mut st.phat_w, &mut st.phat_l, &mut st.q_w, &mut st.q_l, &mut st.len_w, &mut st.len_l] {
            *v /= n;
        }
        out.stats = serde_json::to_value(st)?;
        Ok(out)
    }
}
