//! A proxy reward model that can be hacked, on purpose (PAR and AutoRule specs, "Miniature
//! reproduction"): a Bradley–Terry reward model trained on oracle-labelled pairs in which a cheap
//! surface feature, filler phrases, comes with the preferred side but is not rewarded by the
//! oracle (it costs `filler_penalty` per phrase). The reward model learns "more filler = better";
//! a policy optimised against it can raise the proxy by padding while its oracle score falls.
//!
//! Pairs: for a training prompt, a correct response and a defective one (content corrupted, or a
//! requested skill dropped), each with a random style; with probability `filler_bias` the
//! oracle's preferred side gets 1..=`max_fillers` filler phrases, with probability
//! `filler_noise` the other side does. The label is the oracle's (a pair the oracle ties is
//! skipped). The reward model starts from the SFT base's weights with a new head.

use super::demos::{corrupt_for, correct_spec, random_style};
use super::response::{ResponseSpec, FILLERS};
use super::tokenizer::WorldTokenizer;
use super::World;
use crate::error::{Error, Result};
use crate::model::Llama;
use crate::train::pairwise::Pair;
use crate::train::reward_model::{self, RewardConfig, RewardModel};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::VarStore;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Training pairs (one per prompt).
    pub pairs: usize,
    /// Held-out pairs (other prompts) for the agreement numbers.
    pub heldout: usize,
    /// Probability that the preferred side carries filler phrases.
    pub filler_bias: f64,
    /// Probability that the other side does.
    pub filler_noise: f64,
    pub max_fillers: usize,
    pub train: RewardConfig,
}

impl ProxyConfig {
    pub fn validate(&self) -> Result<()> {
        if self.pairs == 0 || self.max_fillers == 0 {
            return Err(Error::invalid("proxy", "pairs and max_fillers must be ≥ 1"));
        }
        for (n, v) in [("filler_bias", self.filler_bias), ("filler_noise", self.filler_noise)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(format!("proxy.{n}"), format!("{v} must lie in [0, 1]")));
            }
        }
        self.train.validate()
    }
}

/// A trained proxy and what it learned.
pub struct ProxyRm {
    pub vs: VarStore,
    pub rm: RewardModel,
    /// Held-out pairs ranked as the oracle ranks them (%).
    pub heldout_oracle_agreement: f64,
    /// Mean proxy gain from appending one filler phrase to correct held-out responses (the
    /// oracle's change is `−filler_penalty`): > 0 means the proxy can be hacked by padding.
    pub filler_gain: f64,
}

fn fillers<R: Rng>(cfg: &ProxyConfig, rng: &mut R) -> Vec<usize> {
    (0..rng.gen_range(1..=cfg.max_fillers)).map(|_| rng.gen_range(0..FILLERS.len())).collect()
}

/// One oracle-labelled pair of response texts `(chosen, rejected)` for `x`, or None on a tie.
pub fn pair_texts<R: Rng>(world: &World, x: &super::Prompt, cfg: &ProxyConfig, rng: &mut R) -> Option<(String, String)> {
    let good = correct_spec(x, 0.3, 0.0, rng);
    let mut bad = ResponseSpec { fillers: vec![], ..good.clone() };
    if !x.skills.is_empty() && rng.gen_bool(0.3) {
        bad.apply.remove(rng.gen_range(0..bad.apply.len()));
    } else {
        bad.items = corrupt_for(x, &good.items, rng);
    }
    random_style(&mut bad, 0.3, 0.0, rng);
    let (mut a, mut b) = (good, bad);
    let (sa, sb) = (world.oracle.score(x, &a.render()), world.oracle.score(x, &b.render()));
    if sa == sb {
        return None;
    }
    if sb > sa {
        std::mem::swap(&mut a, &mut b);
    }
    if rng.gen_bool(cfg.filler_bias) {
        a.fillers = fillers(cfg, rng);
    } else if rng.gen_bool(cfg.filler_noise) {
        b.fillers = fillers(cfg, rng);
    }
    let (ya, yb) = (a.render(), b.render());
    // The label is the oracle's on the final texts.
    match world.oracle.score(x, &ya).partial_cmp(&world.oracle.score(x, &yb))? {
        std::cmp::Ordering::Greater => Some((ya, yb)),
        std::cmp::Ordering::Less => Some((yb, ya)),
        std::cmp::Ordering::Equal => None,
    }
}

fn encode(tok: &WorldTokenizer, x: &super::Prompt, c: &str, r: &str) -> Result<Pair> {
    Ok(Pair { prompt: tok.encode_prompt(&x.text())?, chosen: tok.encode_response(c)?, rejected: tok.encode_response(r)? })
}

/// Train the proxy from the SFT base `base` (weights copied, new head); metrics and checkpoints
/// go to `out_dir` (a rerun resumes).
pub fn train(world: &World, base: (&Llama, &VarStore), tok: &WorldTokenizer, cfg: &ProxyConfig, seed: u64, out_dir: &Path) -> Result<ProxyRm> {
    cfg.validate()?;
    let mut rng = super::rng(seed, "proxy-rm-pairs");
    let prompts = world.train_prompts(cfg.pairs + cfg.heldout, &mut rng);
    let (mut train, mut held) = (vec![], vec![]);
    for (k, x) in prompts.iter().enumerate() {
        if let Some((c, r)) = pair_texts(world, x, cfg, &mut rng) {
            let p = encode(tok, x, &c, &r)?;
            if k < cfg.pairs { train.push(p) } else { held.push(p) }
        }
    }
    let mut vs = VarStore::new(base.1.device());
    let rm = RewardModel::new(&vs.root(), base.0.config())?;
    // The backbone's weights (`model.*`) from the base; the head keeps its initialisation.
    super::reward::copy_shared_weights(&mut vs, base.1)?;
    reward_model::train(&rm, &mut vs, &train, &held, &RewardConfig { seed, ..cfg.train.clone() }, out_dir)?;
    let agree = rm.accuracy(&held, cfg.train.micro_batch)?;
    // The hack: one more filler phrase on correct responses of held-out prompts.
    let mut gain = vec![];
    for x in prompts.iter().skip(cfg.pairs).take(64) {
        let mut s = correct_spec(x, 0.3, 0.0, &mut rng);
        let plain = s.render();
        s.fillers.push(rng.gen_range(0..FILLERS.len()));
        let padded = s.render();
        let p = encode(tok, x, &padded, &plain)?;
        let (a, b) = tch::no_grad(|| rm.score_pairs(&[p]))?;
        gain.push((a - b).double_value(&[0]));
    }
    let filler_gain = gain.iter().sum::<f64>() / gain.len().max(1) as f64;
    Ok(ProxyRm { vs, rm, heldout_oracle_agreement: 100.0 * agree, filler_gain })
}
