//! AutoRule at paper scale, one code path for real checkpoints and for the tiny Hugging Face
//! fixtures (`configs/test/tiny-qwen2.toml`, run by `tests/paper_path.rs`):
//!
//! 1. load π_sft (a folder or hub id) as the policy and, frozen, as the GRPO reference;
//! 2. the RM: initialised from π_sft, trained with Bradley–Terry on the preference pairs
//!    (`train_prefs`, format `<|user|>{prompt}<|assistant|>{response}`), then standardised with
//!    the mean and std of its scores on π_sft's samples (OpenRLHF's `--normalize_reward`);
//! 3. the rules: a JSON array of rule strings (the released `uf` / `mt` lists of `rules.py`,
//!    saved as a file); the verifier: an instruct model asked, greedily, one prompt per
//!    (response, rule) from the verifier template file, with the slots `{rule}` and
//!    `{conversation}`; a rule is satisfied when the answer contains the `yes` marker
//!    (`[[Yes]]` in the released code);
//! 4. GRPO (`shared::rl`) with `r = (r_RM − μ)/σ + 10·(frac − 0.75)` (AutoRule), the RM alone,
//!    or the RM minus the length penalty.
//!
//! What is not here: the SFT stage (the loaded model stands for π_sft), the rule extraction with
//! DeepSeek-R1 (stages 1–3 need a reasoning model this stack cannot run; the extracted rules are
//! read from the file), vLLM and Ray, and the evaluation judges.

use crate::config::Extra;
use crate::rules::{length_penalty, rule_reward};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::model::generate::{generate, GenerateConfig};
use shared::model::pretrained::Pretrained;
use shared::model::Llama;
use shared::rl::{hf, LearnedRm, Models, NoMonitor, Reward, RlConfig, RlSummary, Sample, Scored};
use shared::tokenize::chat::{ChatTemplate, Message};
use shared::tokenize::Tokenizer;
use shared::train::reward_model::RewardConfig;
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// π_sft: a folder or a hub id (the SFT of `meta-llama/Meta-Llama-3-8B` at paper scale).
    pub policy: String,
    /// A folder with `train_files` (parquet / jsonl preference pairs): the RM's data and the
    /// GRPO prompts (the first `prompts` pairs' prompts).
    pub dataset: String,
    pub train_files: Vec<String>,
    pub prompts: usize,
    pub max_prompt_tokens: usize,
    /// π_sft samples (one per prompt) whose RM scores give the standardisation μ, σ.
    pub normalise_samples: usize,
    /// A JSON array of rule strings.
    pub rules_file: String,
    pub verifier: Verifier,
    pub extra: Extra,
    /// The length penalty's threshold in tokens (300 in the paper).
    pub length_threshold: usize,
    pub rm: RewardConfig,
    pub rl: RlConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verifier {
    /// The verifier model (`meta-llama/Meta-Llama-3-8B-Instruct` at paper scale).
    pub model: String,
    pub chat_template: String,
    /// The verifier's user message, with the slots `{rule}` and `{conversation}`.
    pub template_file: String,
    /// Greedy decoding up to this many tokens (1,024 in the released code).
    pub max_new_tokens: usize,
    /// Verifier prompts per generation call.
    pub batch: usize,
    /// A rule counts as satisfied when the answer contains this.
    pub yes: String,
}

impl PaperConfig {
    /// Load and validate; relative paths are taken from the config file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: PaperConfig = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut c.policy, &mut c.dataset, &mut c.rules_file, &mut c.verifier.model, &mut c.verifier.template_file]);
        c.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        if self.prompts == 0 || self.train_files.is_empty() || self.normalise_samples < 2 {
            bail!("prompts and train_files must be non-empty and normalise_samples ≥ 2");
        }
        if self.verifier.max_new_tokens == 0 || self.verifier.batch == 0 || self.verifier.yes.is_empty() {
            bail!("verifier: max_new_tokens and batch ≥ 1 and a non-empty `yes` marker");
        }
        if self.length_threshold == 0 {
            bail!("length_threshold must be ≥ 1");
        }
        self.rm.validate()?;
        self.rl.validate()?;
        if self.rl.algorithm != shared::rl::Algorithm::Grpo {
            bail!("AutoRule trains with GRPO: set rl.algorithm = \"grpo\"");
        }
        Ok(())
    }
}

/// The rule list: a JSON array of non-empty strings.
pub fn load_rules(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the rules {} (a JSON array of rule strings, e.g. the `uf` list of rules.py)", path.display()))?;
    let rules: Vec<String> = serde_json::from_str(&text).with_context(|| format!("{}: not a JSON array of strings", path.display()))?;
    if rules.is_empty() || rules.iter().any(|r| r.trim().is_empty()) {
        bail!("{}: the rule list is empty or has an empty rule", path.display());
    }
    Ok(rules)
}

/// The verifier's template: its text must carry both slots.
pub fn load_template(path: &Path) -> Result<String> {
    let t = std::fs::read_to_string(path).with_context(|| format!("reading the verifier template {}", path.display()))?;
    for slot in ["{rule}", "{conversation}"] {
        if !t.contains(slot) {
            bail!("{}: the verifier template has no {slot} slot", path.display());
        }
    }
    Ok(t)
}

/// The LLM verifier: one greedy answer per (response, rule).
pub struct LlmVerifier {
    pub model: Pretrained,
    pub tok: Tokenizer,
    pub template: String,
    pub rules: Vec<String>,
    pub cfg: Verifier,
}

impl LlmVerifier {
    /// Per conversation, per rule: whether the verifier said yes.
    pub fn check(&self, conversations: &[String]) -> shared::Result<Vec<Vec<bool>>> {
        let mut prompts = vec![];
        for c in conversations {
            for r in &self.rules {
                let text = self.template.replace("{rule}", r).replace("{conversation}", c);
                let mut ids = self.tok.encode_chat(&[Message::user(text)], true)?;
                self.tok.ensure_bos(&mut ids);
                prompts.push(ids);
            }
        }
        let g = GenerateConfig { max_new_tokens: self.cfg.max_new_tokens, temperature: 0.0, top_p: 1.0, stop_tokens: self.tok.stop_tokens(), seed: 0 };
        let mut answers = Vec::with_capacity(prompts.len());
        for chunk in prompts.chunks(self.cfg.batch) {
            for y in tch::no_grad(|| generate(&self.model.model, chunk, self.tok.pad_id(), &g))? {
                answers.push(self.tok.decode(&y, true)?.contains(&self.cfg.yes));
            }
        }
        Ok(answers.chunks(self.rules.len()).map(<[bool]>::to_vec).collect())
    }
}

/// The GRPO reward of a paper-scale run.
struct PaperReward<'a> {
    rm: LearnedRm<'a>,
    extra: Extra,
    verifier: Option<&'a LlmVerifier>,
    prompt_texts: &'a [String],
    tok: &'a Tokenizer,
    length_threshold: usize,
}

impl Reward for PaperReward<'_> {
    fn parts(&self) -> Vec<String> {
        ["proxy", "rule_frac"].map(String::from).to_vec()
    }

    fn score(&mut self, samples: &[Sample]) -> shared::Result<Vec<Scored>> {
        let (mu, sd) = self.rm.normalise.unwrap_or((0.0, 1.0));
        let raw = self.rm.raw(samples)?;
        let fracs: Vec<f64> = match (self.extra, self.verifier) {
            (Extra::Rules, Some(v)) => {
                let conversations = samples.iter().map(|s| Ok(format!("{}{}", hf::user_turn(&self.prompt_texts[s.prompt]), self.tok.decode(s.response, true)?))).collect::<shared::Result<Vec<_>>>()?;
                v.check(&conversations)?.iter().map(|c| c.iter().filter(|&&b| b).count() as f64 / c.len() as f64).collect()
            }
            _ => vec![f64::NAN; samples.len()],
        };
        Ok(samples
            .iter()
            .zip(raw.iter().zip(&fracs))
            .map(|(s, (&r, &frac))| {
                let extra = match self.extra {
                    Extra::None => 0.0,
                    Extra::Rules => rule_reward(frac),
                    Extra::LengthPenalty => -length_penalty(s.response.len(), self.length_threshold),
                };
                Scored { reward: (r - mu) / sd + extra, parts: vec![r, if frac.is_nan() { 0.0 } else { frac }] }
            })
            .collect())
    }
}

/// Mean and standard deviation of the RM's scores on one π_sft sample per prompt.
fn rm_statistics(rm: &LearnedRm, policy: &Llama, prompts: &[Vec<i64>], gen: &GenerateConfig, batch: usize) -> Result<(f64, f64)> {
    let ys = shared::train::onpolicy::sample_groups(policy, prompts, rm.pad, 1, batch, gen)?;
    let samples: Vec<Vec<i64>> = ys.iter().map(|g| shared::train::onpolicy::with_stop(&g[0], gen)).collect();
    let s: Vec<Sample> = samples.iter().enumerate().map(|(i, y)| Sample { prompt: i, prompt_ids: &prompts[i], response: y }).collect();
    let r = rm.raw(&s)?;
    let mean = r.iter().sum::<f64>() / r.len() as f64;
    let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64).sqrt();
    if !(sd > 0.0) {
        bail!("the reward model gives every π_sft sample the same score ({mean}); it cannot be standardised");
    }
    Ok((mean, sd))
}

/// Run AutoRule's GRPO at paper scale into `out`; returns the summary.
pub fn run(cfg: &PaperConfig, device: tch::Device, out: &Path) -> Result<RlSummary> {
    cfg.validate()?;
    let rules = load_rules(Path::new(&cfg.rules_file))?;
    let template = load_template(Path::new(&cfg.verifier.template_file))?;
    let sft = Pretrained::load(&cfg.policy, device).with_context(|| format!("loading the policy {}", cfg.policy))?;
    let reference = Pretrained::load(&cfg.policy, device)?;
    let tok = &sft.tokenizer;
    let pad = tok.pad_id();
    let rows = shared::data::preference::load_dataset(&cfg.dataset, &cfg.train_files, None)?;
    let pairs = hf::encode_pairs(tok, &rows, cfg.max_prompt_tokens)?;
    // 2. The RM from π_sft, then its statistics on π_sft's samples.
    let (rm, _rm_vs, rs) = hf::train_reward_model(&cfg.policy, device, &pairs, &cfg.rm, &out.join("rm"))?;
    eprintln!("reward model: {} steps", rs.steps);
    let n = cfg.prompts.min(pairs.len());
    let prompts: Vec<Vec<i64>> = pairs.iter().take(n).map(|p| p.prompt.clone()).collect();
    let prompt_texts: Vec<String> = rows.iter().take(n).map(|x| x.context.iter().filter(|m| m.role == "user").map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n")).collect();
    let gen = GenerateConfig { max_new_tokens: cfg.rl.max_new_tokens, temperature: cfg.rl.temperature, top_p: cfg.rl.top_p, stop_tokens: tok.stop_tokens(), seed: cfg.rl.seed };
    let norm_prompts: Vec<Vec<i64>> = prompts.iter().cycle().take(cfg.normalise_samples).cloned().collect();
    let mut lrm = LearnedRm { rm: &rm.model, pad, micro: cfg.rl.policy.micro_batch, normalise: None, name: "proxy".into() };
    lrm.normalise = Some(rm_statistics(&lrm, &sft.model, &norm_prompts, &gen, cfg.rl.prompts_per_generate)?);
    // 3. The verifier (only AutoRule consults it).
    let verifier = match cfg.extra {
        Extra::Rules => {
            let model = Pretrained::load(&cfg.verifier.model, device).with_context(|| format!("loading the verifier {}", cfg.verifier.model))?;
            let mut vtok = model.tokenizer.clone();
            vtok.chat = Some(ChatTemplate::from_name(&cfg.verifier.chat_template, vtok.bos_token.as_deref().unwrap_or(""), vtok.eos_token.as_deref().unwrap_or(""))?);
            Some(LlmVerifier { model, tok: vtok, template, rules, cfg: cfg.verifier.clone() })
        }
        _ => None,
    };
    // 4. GRPO (no critic).
    let mut pvs = sft.vs;
    let models = Models { policy: &sft.model, policy_vs: &mut pvs, reference: &reference.model, critic: None, pad, stop_tokens: tok.stop_tokens() };
    let mut reward = PaperReward { rm: lrm, extra: cfg.extra, verifier: verifier.as_ref(), prompt_texts: &prompt_texts, tok, length_threshold: cfg.length_threshold };
    Ok(shared::rl::run::run(models, &prompts, &mut reward, &mut NoMonitor, &cfg.rl, &out.join("grpo"))?)
}
