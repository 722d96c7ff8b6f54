//! Online RL in the miniature world, the part PAR and AutoRule share: a copy of the SFT base as
//! the policy, a critic initialised from the proxy reward model, the fixed evaluation (held-out
//! prompts, the SFT model's sampled answers to them) and the [`WinMonitor`] that measures a
//! policy during training: oracle win rate against those SFT answers (ties count ½), the proxy
//! reward, the oracle score and the length, per prompt, so that every claim gets an interval.

use super::policy::sample_texts;
use super::tokenizer::WorldTokenizer;
use super::{Prompt, World};
use crate::error::{Error, Result};
use crate::model::generate::GenerateConfig;
use crate::model::reward::RewardModel;
use crate::model::Llama;
use crate::train::reward_model::RewardModel as TrainedRm;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

/// A trainable copy of a model (same config, weights copied).
pub fn copy_policy(model: &Llama, vs: &VarStore) -> Result<(VarStore, Llama)> {
    let mut new_vs = VarStore::new(vs.device());
    let m = Llama::new(&new_vs.root(), model.config())?;
    new_vs.copy(vs).map_err(|e| Error::Other(format!("copying the policy's weights: {e}")))?;
    Ok((new_vs, m))
}

/// PPO's critic: the reward model's architecture and weights (PAR: "initialised from the RM").
pub fn critic_from(rm: &TrainedRm, vs: &VarStore) -> Result<(VarStore, RewardModel)> {
    let mut new_vs = VarStore::new(vs.device());
    let c = RewardModel::new(&new_vs.root(), rm.model.config())?;
    new_vs.copy(vs).map_err(|e| Error::Other(format!("copying the critic's weights: {e}")))?;
    Ok((new_vs, c))
}

/// The fixed evaluation: held-out prompts and the SFT model's sampled answers.
pub struct EvalSet {
    pub prompts: Vec<Prompt>,
    pub sft: Vec<String>,
    pub sft_oracle: Vec<f64>,
    pub gen: GenerateConfig,
}

impl EvalSet {
    /// The first `n` evaluation prompts; the SFT answers are sampled with `gen` (its seed fixed).
    pub fn new(world: &World, sft: &Llama, tok: &WorldTokenizer, n: usize, gen: GenerateConfig) -> Result<Self> {
        let prompts: Vec<Prompt> = world.eval_prompts().into_iter().take(n).collect();
        if prompts.is_empty() {
            return Err(Error::invalid("evaluation", "no evaluation prompts"));
        }
        let ys = sample_texts(sft, tok, &prompts, &GenerateConfig { seed: gen.seed ^ 0x5f7, ..gen.clone() }, 64)?;
        let sft_oracle = prompts.iter().zip(&ys).map(|(x, y)| world.oracle.score(x, y)).collect();
        Ok(EvalSet { prompts, sft: ys, sft_oracle, gen })
    }
}

/// One evaluation of a policy, per prompt and on average.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    pub win_rate: f64,
    pub proxy: f64,
    pub oracle: f64,
    pub length: f64,
    pub wins: Vec<f64>,
    pub proxies: Vec<f64>,
    pub oracles: Vec<f64>,
    pub lengths: Vec<f64>,
}

impl EvalPoint {
    pub fn from_value(v: &serde_json::Value) -> Result<Self> {
        serde_json::from_value(v.clone()).map_err(|e| Error::invalid("evaluations.json", format!("not an evaluation point ({e}); delete the run folder to start over")))
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Evaluates a policy on an [`EvalSet`]: one sampled answer per prompt (the same seed at every
/// evaluation point), oracle win against the SFT answer (½ on ties), proxy reward, length.
pub struct WinMonitor<'a> {
    pub world: &'a World,
    pub tok: &'a WorldTokenizer,
    pub eval: &'a EvalSet,
    pub proxy: &'a TrainedRm,
}

impl WinMonitor<'_> {
    pub fn measure(&self, policy: &Llama) -> Result<EvalPoint> {
        let e = self.eval;
        let ys = sample_texts(policy, self.tok, &e.prompts, &e.gen, 64)?;
        let oracles: Vec<f64> = e.prompts.iter().zip(&ys).map(|(x, y)| self.world.oracle.score(x, y)).collect();
        let wins: Vec<f64> = oracles.iter().zip(&e.sft_oracle).map(|(a, b)| if a > b { 1.0 } else if a < b { 0.0 } else { 0.5 }).collect();
        let mut proxies = Vec::with_capacity(ys.len());
        for (xs, yc) in e.prompts.chunks(64).zip(ys.chunks(64)) {
            let seqs: Vec<(Vec<i64>, Vec<i64>)> = xs.iter().zip(yc).map(|(x, y)| Ok((self.tok.encode_prompt(&x.text())?, self.tok.encode_response(y)?))).collect::<Result<_>>()?;
            let r = tch::no_grad(|| self.proxy.score(&seqs))?;
            proxies.extend(Vec::<f64>::try_from(r.to_kind(tch::Kind::Double).to_device(tch::Device::Cpu))?);
        }
        let lengths: Vec<f64> = ys.iter().map(|y| y.chars().count() as f64).collect();
        Ok(EvalPoint { win_rate: mean(&wins), proxy: mean(&proxies), oracle: mean(&oracles), length: mean(&lengths), wins, proxies, oracles, lengths })
    }
}

impl crate::rl::Monitor for WinMonitor<'_> {
    fn evaluate(&mut self, _rollout: usize, policy: &Llama) -> Result<serde_json::Value> {
        serde_json::to_value(self.measure(policy)?).map_err(|e| Error::Other(e.to_string()))
    }
}
