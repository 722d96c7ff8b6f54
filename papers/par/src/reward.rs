//! The RL reward of one method: the proxy RM's score `r` of each sample, the length penalty
//! `r̃`, then the method's shaping against the prompt's stored reference rewards and the running
//! statistics (updated with the batch first). Logged per rollout: the raw proxy `r` and the
//! oracle's score (never optimised).

use crate::config::LengthPenalty;
use crate::shaping::{length_penalised, RunningStats, Shaping};
use shared::rl::{LearnedRm, Reward, Sample, Scored};
use shared::world::{Prompt, World};

pub struct ShapedReward<'a> {
    pub rm: LearnedRm<'a>,
    pub shaping: Shaping,
    pub length: LengthPenalty,
    /// Length-penalised reference rewards, per training prompt.
    pub refs: &'a [Vec<f64>],
    pub stats: RunningStats,
    /// For the logged oracle score.
    pub world: &'a World,
    pub prompts: &'a [Prompt],
    pub tok: &'a shared::world::tokenizer::WorldTokenizer,
}

/// Response tokens without the end-of-sequence token.
pub fn response_len(response: &[i64], eos: i64) -> usize {
    response.iter().filter(|&&t| t != eos).count()
}

impl Reward for ShapedReward<'_> {
    fn parts(&self) -> Vec<String> {
        vec!["proxy".into(), "oracle".into()]
    }

    fn score(&mut self, samples: &[Sample]) -> shared::Result<Vec<Scored>> {
        let raw = self.rm.raw(samples)?;
        let r: Vec<f64> = raw.iter().zip(samples).map(|(r, s)| length_penalised(*r, response_len(s.response, self.tok.eos), self.length.threshold, self.length.coef)).collect();
        self.stats.update(&r);
        Ok(samples
            .iter()
            .zip(r.iter().zip(&raw))
            .map(|(s, (&rt, &r0))| {
                let oracle = self.world.oracle.score(&self.prompts[s.prompt], &self.tok.decode_response(s.response));
                Scored { reward: self.shaping.apply(rt, &self.refs[s.prompt], &self.stats), parts: vec![r0, oracle] }
            })
            .collect())
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.stats).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> shared::Result<()> {
        self.stats = serde_json::from_value(state.clone()).map_err(|e| shared::Error::invalid("PAR running statistics", format!("unreadable in the checkpoint ({e})")))?;
        Ok(())
    }
}
