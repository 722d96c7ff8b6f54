//! Paper-scale plumbing the RL papers share (PAR, AutoRule): preference pairs from Hugging Face
//! data, tokenised in the `<|user|>{prompt}<|assistant|>` format their SFT models are trained
//! with, and a Bradley–Terry reward model trained on them from a checkpoint.

use crate::data::preference::{Message, PreferencePair};
use crate::error::{Error, Result};
use crate::model::pretrained::PretrainedReward;
use crate::tokenize::Tokenizer;
use crate::train::pairwise::Pair;
use crate::train::reward_model::{self, RewardConfig, RewardModel, RewardSummary};
use std::path::Path;
use tch::nn::VarStore;

/// The prompt as the SFT model saw it: `<|user|>{prompt}<|assistant|>`.
pub fn user_turn(prompt: &str) -> String {
    format!("<|user|>{prompt}<|assistant|>")
}

/// The user turns of a conversation, joined, in the SFT format; at most `max_prompt_tokens` ids.
pub fn encode_prompt(tok: &Tokenizer, context: &[Message], max_prompt_tokens: usize) -> Result<Vec<i64>> {
    let prompt = context.iter().filter(|m| m.role == "user").map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
    let mut p = tok.encode(&user_turn(&prompt), true)?;
    p.truncate(max_prompt_tokens);
    Ok(p)
}

/// Token pairs (prompt, chosen + EOS, rejected + EOS).
pub fn encode_pairs(tok: &Tokenizer, rows: &[PreferencePair], max_prompt_tokens: usize) -> Result<Vec<Pair>> {
    let eos = tok.eos_id().ok_or_else(|| Error::invalid("tokenizer", "has no EOS token (responses must end with one)"))?;
    let answer = |y: &str| -> Result<Vec<i64>> {
        let mut r = tok.encode(y, false)?;
        r.push(eos);
        Ok(r)
    };
    rows.iter().map(|x| Ok(Pair { prompt: encode_prompt(tok, &x.context, max_prompt_tokens)?, chosen: answer(&x.chosen)?, rejected: answer(&x.rejected)? })).collect()
}

/// A reward model started from checkpoint `start` (a fresh scalar head on a causal LM, or a
/// reward checkpoint) and trained with Bradley–Terry on `pairs` into `dir` (resumable). A fresh
/// head is drawn from `cfg.seed`.
pub fn train_reward_model(start: &str, device: tch::Device, pairs: &[Pair], cfg: &RewardConfig, dir: &Path) -> Result<(RewardModel, VarStore, RewardSummary)> {
    let mut p = PretrainedReward::load(start, device)?;
    // A causal LM has no score head: draw it from the training seed, not from libtorch's global generator.
    if p.report.left_initialised.iter().any(|n| n == "score.weight") {
        p.model.reseed_head(cfg.seed);
    }
    let rm = RewardModel { model: p.model };
    let summary = reward_model::train(&rm, &mut p.vs, pairs, &[], cfg, dir)?;
    Ok((rm, p.vs, summary))
}
