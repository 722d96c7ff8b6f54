//! What a rollout is rewarded with. A [`Reward`] scores a batch of samples: the scalar the update
//! optimises plus named parts that are logged per rollout (a proxy reward, the oracle's score, a
//! rule fraction, ...). Building blocks:
//!
//! - [`LearnedRm`]: a trained reward model's score at the last response token, optionally
//!   standardised with stored statistics (OpenRLHF's `--normalize_reward`);
//! - [`FnReward`]: any function of the samples: the world's oracle, a rule verifier;
//! - [`Sum`]: a weighted sum of rewards (weight 0: logged, not optimised), i.e. a shaped
//!   combination such as AutoRule's `r̂_RM + 10·(frac − 0.75)`.
//!
//! A reward with state across rollouts (running statistics) saves it in [`Reward::state`] so a
//! resumed run continues exactly.

use crate::error::{Error, Result};
use crate::model::reward::RewardModel;
use crate::model::score::TokenBatch;
use tch::Kind;

/// One sampled response as a reward sees it.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    /// Index of the prompt in the run's prompt set.
    pub prompt: usize,
    pub prompt_ids: &'a [i64],
    /// The response as trained on (the stop token kept when the sample stopped).
    pub response: &'a [i64],
}

/// A reward's verdict on one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// What the update optimises.
    pub reward: f64,
    /// Named values to log, in the order of [`Reward::parts`].
    pub parts: Vec<f64>,
}

pub trait Reward {
    /// Names of the logged parts (fixed for a run).
    fn parts(&self) -> Vec<String>;
    /// Score a batch of samples (one [`Scored`] each, in order).
    fn score(&mut self, samples: &[Sample]) -> Result<Vec<Scored>>;
    /// State carried across rollouts (running statistics), saved with the run's checkpoints.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// A learned reward model: `r(x, y)` read at the last response token; `normalise = (μ, σ)`
/// turns it into `(r − μ)/σ`. Logged as `name`.
pub struct LearnedRm<'a> {
    pub rm: &'a RewardModel,
    pub pad: i64,
    /// Rows per forward pass.
    pub micro: usize,
    pub normalise: Option<(f64, f64)>,
    pub name: String,
}

impl LearnedRm<'_> {
    /// Raw scores of `samples` without gradients.
    pub fn raw(&self, samples: &[Sample]) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(samples.len());
        for chunk in samples.chunks(self.micro.max(1)) {
            let pairs: Vec<(Vec<i64>, Vec<i64>)> = chunk.iter().map(|s| (s.prompt_ids.to_vec(), s.response.to_vec())).collect();
            let b = TokenBatch::from_pairs(&pairs, self.pad, self.rm.backbone().device());
            let r = tch::no_grad(|| self.rm.forward(&b.input_ids, &b.attention_mask))?;
            out.extend(Vec::<f64>::try_from(r.to_kind(Kind::Double).to_device(tch::Device::Cpu))?);
        }
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(format!("reward model {}", self.name), format!("non-finite reward for sample {i}")));
        }
        Ok(out)
    }
}

impl Reward for LearnedRm<'_> {
    fn parts(&self) -> Vec<String> {
        vec![self.name.clone()]
    }
    fn score(&mut self, samples: &[Sample]) -> Result<Vec<Scored>> {
        let (mu, sd) = self.normalise.unwrap_or((0.0, 1.0));
        Ok(self.raw(samples)?.into_iter().map(|r| Scored { reward: (r - mu) / sd, parts: vec![r] }).collect())
    }
}

/// A reward computed by a function of the samples (the oracle, a rule verifier, ...).
pub struct FnReward<F> {
    pub name: String,
    pub f: F,
}

impl<F: FnMut(&[Sample]) -> Result<Vec<f64>>> Reward for FnReward<F> {
    fn parts(&self) -> Vec<String> {
        vec![self.name.clone()]
    }
    fn score(&mut self, samples: &[Sample]) -> Result<Vec<Scored>> {
        let v = (self.f)(samples)?;
        if v.len() != samples.len() {
            return Err(Error::invalid(format!("reward {}", self.name), format!("returned {} scores for {} samples", v.len(), samples.len())));
        }
        if let Some(x) = v.iter().find(|x| !x.is_finite()) {
            return Err(Error::invalid(format!("reward {}", self.name), format!("returned a non-finite score {x}")));
        }
        Ok(v.into_iter().map(|r| Scored { reward: r, parts: vec![r] }).collect())
    }
}

/// `Σ_i w_i · r_i`: the parts of every term are logged; a term with weight 0 is only logged.
pub struct Sum<'a> {
    pub terms: Vec<(f64, Box<dyn Reward + 'a>)>,
}

impl Reward for Sum<'_> {
    fn parts(&self) -> Vec<String> {
        self.terms.iter().flat_map(|(_, r)| r.parts()).collect()
    }
    fn score(&mut self, samples: &[Sample]) -> Result<Vec<Scored>> {
        let mut out: Vec<Scored> = samples.iter().map(|_| Scored { reward: 0.0, parts: vec![] }).collect();
        for (w, r) in &mut self.terms {
            for (o, s) in out.iter_mut().zip(r.score(samples)?) {
                o.reward += *w * s.reward;
                o.parts.extend(s.parts);
            }
        }
        Ok(out)
    }
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Array(self.terms.iter().map(|(_, r)| r.state()).collect())
    }
    fn restore(&mut self, state: &serde_json::Value) -> Result<()> {
        for (i, (_, r)) in self.terms.iter_mut().enumerate() {
            r.restore(state.get(i).unwrap_or(&serde_json::Value::Null))?;
        }
        Ok(())
    }
}
