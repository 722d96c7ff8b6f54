//! The paper-scale config (spec "Hyperparameters (paper scale)") and the judge interface it needs.
//!
//! **Built:** the config (base model, IFT/EFT/iteration data, K, judge, sampling, DPO, SFT,
//! iterations, evaluation), its validation, the judge prompt as a template file with `{question}`
//! and `{response}` placeholders (our paraphrase of Yuan et al.'s 5-point additive rubric; the spec
//! forbids copying it verbatim, and no upstream file of the temporal paper exists to pin), and the
//! `Score: <n>` parser with its averaging (unparseable judgments dropped).
//!
//! **Not built yet:** the paper-scale run itself (chat-template sampling of K responses, judging as
//! text generation through the template, the same [`crate::select`] rules, the same shared
//! on-policy loop). The miniature's [`crate::pipeline::TsrAnnotator`] is where it plugs in; see the
//! README, "What is not built".

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// The pretrained base `M_b` (hub id or folder); `M_0 = SFT(M_b, IFT ∪ EFT)`.
    pub base_model: String,
    pub chat_template: String,
    pub data: Data,
    /// K samples per model per prompt (paper: 7).
    pub samples: usize,
    pub judge: Judge,
    pub sampling: Sampling,
    pub dpo: Dpo,
    pub sft: Sft,
    pub iterations: Iterations,
    /// Flat groups (pitfall 10): may Phase 2 keep a prompt Phase 1 dropped?
    pub phase2_rescues: bool,
    pub dtype: String,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// Hub dataset ids of the IFT seed and the EFT source (paper Sec. 4).
    pub ift: Vec<String>,
    pub eft_source: String,
    pub eft_examples: usize,
    pub iteration_prompts: usize,
    pub chunks: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judge {
    /// `self` (the current model) or a hub id (AutoJ in the robustness study).
    pub model: String,
    /// The judge prompt template (relative paths from the config's folder).
    pub prompt: String,
    pub judgments: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpo {
    pub beta: f64,
    pub learning_rate: f64,
    pub final_learning_rate: f64,
    pub batch_size: usize,
    pub dropout: f64,
    pub epochs: usize,
    /// Summed log-probs (standard DPO) unless true (the lucidrains reimplementation's mean).
    pub length_normalised: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sft {
    pub learning_rate: f64,
    pub final_learning_rate: f64,
    pub batch_size: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iterations {
    pub self_rewarding: usize,
    pub temporal: usize,
}

impl PaperConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let mut cfg: PaperConfig = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut cfg.judge.prompt]);
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if self.samples < 2 || self.judge.judgments == 0 {
            bail!("samples ≥ 2 and judge.judgments ≥ 1");
        }
        if self.iterations.temporal == 0 || self.iterations.self_rewarding == 0 || self.iterations.self_rewarding.max(self.iterations.temporal) > self.data.chunks {
            bail!("iterations must lie in 1..=data.chunks");
        }
        for (n, t, p) in [("sampling", self.sampling.temperature, self.sampling.top_p), ("judge", self.judge.temperature, self.judge.top_p)] {
            if !(t > 0.0 && p > 0.0 && p <= 1.0) {
                bail!("{n}: temperature > 0 and top_p in (0, 1]");
            }
        }
        if !(self.dpo.beta > 0.0 && self.dpo.learning_rate > 0.0) {
            bail!("dpo: beta and learning_rate must be > 0");
        }
        let t = self.judge_template()?;
        if !t.contains("{question}") || !t.contains("{response}") {
            bail!("judge prompt {}: needs {{question}} and {{response}}", self.judge.prompt);
        }
        Ok(())
    }

    pub fn judge_template(&self) -> Result<String> {
        std::fs::read_to_string(&self.judge.prompt).with_context(|| format!("reading the judge prompt {}", self.judge.prompt))
    }
}

/// The judge prompt for one (question, response).
pub fn render_judge_prompt(template: &str, question: &str, response: &str) -> String {
    template.replace("{question}", question).replace("{response}", response)
}

/// The score of one judgment: the number after the last `Score:` (Yuan et al.'s regex
/// `Score: <number>`), `None` when there is none or it is outside 0–5.
pub fn parse_score(judgment: &str) -> Option<f64> {
    let at = judgment.rfind("Score:")?;
    let rest = judgment[at + "Score:".len()..].trim_start();
    let num: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let v: f64 = num.trim_end_matches('.').parse().ok()?;
    (0.0..=5.0).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_the_regex() {
        assert_eq!(parse_score("Relevant and complete. Score: 4"), Some(4.0));
        assert_eq!(parse_score("Score: 2\nOn reflection... Score: 3."), Some(3.0));
        assert_eq!(parse_score("no score here"), None);
        assert_eq!(parse_score("Score: 9"), None);
        // Spec test vector: [4, unparseable, 2] averages to 3.
        let s: Vec<Option<f64>> = ["Score: 4", "Score: x", "Score: 2"].iter().map(|j| parse_score(j)).collect();
        assert_eq!(crate::judge::average(&s), Some(3.0));
    }

    #[test]
    fn paper_config_loads() {
        let cfg = PaperConfig::load(&crate::config::config_dir().join("paper/llama-3.1-8b.toml")).unwrap();
        assert_eq!((cfg.samples, cfg.iterations.temporal, cfg.iterations.self_rewarding, cfg.dpo.beta), (7, 2, 4, 0.1));
        let p = render_judge_prompt(&cfg.judge_template().unwrap(), "Q?", "A.");
        assert!(p.contains("Q?") && p.contains("A.") && p.contains("Score:"), "{p}");
    }
}
