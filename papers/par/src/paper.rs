//! PAR at paper scale, one code path for real checkpoints and for the tiny Hugging Face
//! fixtures (`configs/test/tiny-llama.toml`, run by `tests/paper_path.rs`):
//!
//! 1. load π_sft (a Hugging Face folder or hub id) as the policy and, frozen, as π_ref;
//! 2. the RM: the **pretrained base** with a fresh scalar head, trained with Bradley–Terry on the
//!    preference pairs (`train_prefs`), format `<|user|>{prompt}<|assistant|>{response}`;
//! 3. M reference responses per prompt sampled once from π_sft, scored with the length penalty;
//! 4. PPO (`shared::rl`) with the critic initialised from the RM and the PAR reward.
//!
//! What is not here: the SFT stage (the loaded model stands for π_sft), DeepSpeed/bf16 sharding,
//! and the DeepSeek-V3 judge of the evaluation.

use crate::config::LengthPenalty;

use crate::shaping::{length_penalised, RunningStats, Shaping};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::model::generate::GenerateConfig;
use shared::model::pretrained::Pretrained;
use shared::rl::{hf, LearnedRm, Models, NoMonitor, Reward, RlConfig, RlSummary, Sample, Scored};
use shared::train::reward_model::RewardConfig;
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// π_sft: a folder or a hub id (`google/gemma-2-2b` after SFT at paper scale).
    pub policy: String,
    /// The RM's starting point: the pretrained base.
    pub reward_base: String,
    /// A folder with `train_files` (parquet / jsonl preference pairs).
    pub dataset: String,
    pub train_files: Vec<String>,
    /// Prompts used for PPO (the first ones of the pairs).
    pub prompts: usize,
    pub max_prompt_tokens: usize,
    pub references: usize,
    pub sigmoid_k: f64,
    pub length_penalty: LengthPenalty,
    pub rm: RewardConfig,
    pub rl: RlConfig,
}

impl PaperConfig {
    /// Load and validate; relative paths are taken from the config file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: PaperConfig = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut c.policy, &mut c.reward_base, &mut c.dataset]);
        if c.references == 0 || c.prompts == 0 || c.train_files.is_empty() {
            bail!("{}: references, prompts and train_files must be non-empty", path.display());
        }
        c.rm.validate()?;
        c.rl.validate()?;
        Ok(c)
    }
}

/// Run PAR's PPO at paper scale into `out`; returns the summary.
pub fn run(cfg: &PaperConfig, device: tch::Device, out: &Path) -> Result<RlSummary> {
    let sft = Pretrained::load(&cfg.policy, device).with_context(|| format!("loading the policy {}", cfg.policy))?;
    let reference = Pretrained::load(&cfg.policy, device)?;
    let tok = &sft.tokenizer;
    let pad = tok.pad_id();
    let pairs = hf::encode_pairs(tok, &shared::data::preference::load_dataset(&cfg.dataset, &cfg.train_files, None)?, cfg.max_prompt_tokens)?;
    // 2. The RM from the pretrained base.
    let (rm, rm_vs, rs) = hf::train_reward_model(&cfg.reward_base, device, &pairs, &cfg.rm, &out.join("rm"))?;
    eprintln!("reward model: {} steps", rs.steps);
    // 3. References, once, from π_sft.
    let prompts: Vec<Vec<i64>> = pairs.iter().take(cfg.prompts).map(|p| p.prompt.clone()).collect();
    let lrm = LearnedRm { rm: &rm.model, pad, micro: cfg.rl.policy.micro_batch, normalise: None, name: "proxy".into() };
    let gen = GenerateConfig { max_new_tokens: cfg.rl.max_new_tokens, temperature: 0.9, top_p: 0.9, stop_tokens: tok.stop_tokens(), seed: cfg.rl.seed };
    let groups = shared::train::onpolicy::sample_groups(&sft.model, &prompts, pad, cfg.references, cfg.rl.prompts_per_generate, &gen)?;
    let mut refs = vec![];
    for (i, g) in groups.iter().enumerate() {
        let ys: Vec<Vec<i64>> = g.iter().map(|y| shared::train::onpolicy::with_stop(y, &gen)).collect();
        let s: Vec<Sample> = ys.iter().map(|y| Sample { prompt: i, prompt_ids: &prompts[i], response: y }).collect();
        let raw = lrm.raw(&s)?;
        refs.push(raw.iter().zip(&ys).map(|(r, y)| length_penalised(*r, y.len(), cfg.length_penalty.threshold, cfg.length_penalty.coef)).collect::<Vec<f64>>());
    }
    // 4. PPO with the PAR reward; the critic starts from the RM.
    let (mut cvs, critic) = {
        let mut v = tch::nn::VarStore::new(device);
        let c = shared::model::reward::RewardModel::new(&v.root(), rm.model.config())?;
        v.copy(&rm_vs).context("copying the RM into the critic")?;
        (v, c)
    };
    let mut pvs = sft.vs;
    let models = Models { policy: &sft.model, policy_vs: &mut pvs, reference: &reference.model, critic: Some((&critic, &mut cvs)), pad, stop_tokens: tok.stop_tokens() };
    let mut reward = PaperReward { rm: lrm, shaping: Shaping::Par { m: cfg.references, k: cfg.sigmoid_k }, length: cfg.length_penalty.clone(), refs: &refs, stats: RunningStats::default() };
    Ok(shared::rl::run::run(models, &prompts, &mut reward, &mut NoMonitor, &cfg.rl, &out.join("ppo"))?)
}

/// [`ShapedReward`] without the world's oracle (there is none at paper scale).
struct PaperReward<'a> {
    rm: LearnedRm<'a>,
    shaping: Shaping,
    length: LengthPenalty,
    refs: &'a [Vec<f64>],
    stats: RunningStats,
}

impl Reward for PaperReward<'_> {
    fn parts(&self) -> Vec<String> {
        vec!["proxy".into()]
    }
    fn score(&mut self, samples: &[Sample]) -> shared::Result<Vec<Scored>> {
        let raw = self.rm.raw(samples)?;
        let r: Vec<f64> = raw.iter().zip(samples).map(|(r, s)| length_penalised(*r, s.response.len(), self.length.threshold, self.length.coef)).collect();
        self.stats.update(&r);
        Ok(samples.iter().zip(r.iter().zip(&raw)).map(|(s, (&rt, &r0))| Scored { reward: self.shaping.apply(rt, &self.refs[s.prompt], &self.stats), parts: vec![r0] }).collect())
    }
    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.stats).unwrap_or_default()
    }
    fn restore(&mut self, state: &serde_json::Value) -> shared::Result<()> {
        self.stats = serde_json::from_value(state.clone()).map_err(|e| shared::Error::invalid("PAR running statistics", e.to_string()))?;
        Ok(())
    }
}

