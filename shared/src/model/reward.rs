//! The scalar reward model (`LlamaForSequenceClassification` with one label): the transformer's
//! final hidden state at each sequence's last real token, projected to a score by `score.weight`.
//! Trained with the Bradley–Terry loss (in `objectives`), used to label preference pairs.

use super::config::LlamaConfig;
use super::llama::Llama;
use crate::error::Result;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// A transformer backbone with a linear scalar head (`score.weight`, shape `[1, hidden]`, no bias).
#[derive(Debug)]
pub struct RewardModel {
    base: Llama,
    score: nn::Linear,
}

impl RewardModel {
    /// Variables `model.*` and `score.weight` under the root path `p` (HF names).
    pub fn new(p: &nn::Path, cfg: &LlamaConfig) -> Result<Self> {
        let base = Llama::backbone(p, cfg)?;
        let init = nn::LinearConfig { ws_init: nn::Init::Randn { mean: 0.0, stdev: 0.02 }, bs_init: None, bias: false };
        let score = nn::linear(p / "score", cfg.hidden_size as i64, 1, init);
        Ok(Self { base, score })
    }

    pub fn config(&self) -> &LlamaConfig {
        self.base.config()
    }

    pub fn backbone(&self) -> &Llama {
        &self.base
    }

    /// Draw the score head afresh from N(0, 0.02²) with its own generator seeded by `seed`, not
    /// from libtorch's global one (whose state depends on whatever the process, or another
    /// thread, drew before), so that a freshly initialised head is reproducible.
    pub fn reseed_head(&self, seed: u64) {
        use rand::{Rng, SeedableRng};
        let w = &self.score.ws;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let vals: Vec<f32> = (0..w.numel())
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.gen::<f64>().max(f64::MIN_POSITIVE), rng.gen());
                (0.02 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect();
        let fresh = Tensor::from_slice(&vals).view(w.size().as_slice()).to_kind(w.kind()).to_device(w.device());
        tch::no_grad(|| w.shallow_clone().copy_(&fresh));
    }

    /// The head at every position `[B, T]` (f32): a critic's values V(s_t) when this model is
    /// used as PPO's value model (same architecture as the reward model, initialised from it).
    pub fn per_position(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let mask = attention_mask.to_device(self.base.device()).ne(0).to_kind(Kind::Int64);
        let h = self.base.hidden_states(input_ids, &mask)?;
        Ok(self.score.forward(&h).squeeze_dim(-1).to_kind(Kind::Float))
    }

    /// Rewards `[B]` (f32): the score of the last token whose mask is 1 (works for left or right padding).
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let dev = self.base.device();
        let mask = attention_mask.to_device(dev).ne(0).to_kind(Kind::Int64);
        let h = self.base.hidden_states(input_ids, &mask)?;
        let t = mask.size()[1];
        let last = (Tensor::arange(t, (Kind::Int64, dev)).unsqueeze(0) * &mask).argmax(-1, false);
        let hd = h.size()[2];
        let idx = last.view([-1, 1, 1]).expand([-1, 1, hd], false);
        Ok(self.score.forward(&h.gather(1, &idx, false)).view([-1]).to_kind(Kind::Float))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn reward_is_read_at_the_last_real_token_whatever_the_padding() {
        let cfg = crate::model::tiny::config("llama", 30, 16, 32, 1, 2);
        let vs = nn::VarStore::new(Device::Cpu);
        let rm = RewardModel::new(&vs.root(), &cfg).unwrap();
        crate::model::tiny::init_seeded(&vs, 3, 0.2);
        let names = vs.variables();
        assert!(names.contains_key("score.weight") && !names.contains_key("lm_head.weight"));
        let alone = rm.forward(&Tensor::from_slice(&[4i64, 5, 6]).view([1, 3]), &Tensor::ones([1, 3], (Kind::Int64, Device::Cpu))).unwrap();
        let ids = Tensor::from_slice(&[4i64, 5, 6, 0, 0, 4, 5, 6]).view([2, 4]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 0, 0, 1, 1, 1]).view([2, 4]);
        let r = rm.forward(&ids, &mask).unwrap();
        assert_eq!(r.size(), vec![2]);
        let a = alone.double_value(&[0]);
        assert!((r.double_value(&[0]) - a).abs() < 1e-5 && (r.double_value(&[1]) - a).abs() < 1e-5);
        // The head at every position ends with the reward at the last real token.
        let all = rm.per_position(&ids, &mask).unwrap();
        assert_eq!(all.size(), vec![2, 4]);
        assert!((all.double_value(&[0, 2]) - a).abs() < 1e-5 && (all.double_value(&[1, 3]) - a).abs() < 1e-5);
        // A different last token changes the reward.
        let other = rm.forward(&Tensor::from_slice(&[4i64, 5, 7]).view([1, 3]), &Tensor::ones([1, 3], (Kind::Int64, Device::Cpu))).unwrap();
        assert!((other.double_value(&[0]) - a).abs() > 1e-7);
    }
}
