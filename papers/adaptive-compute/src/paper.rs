//! Paper scale: the self-evaluation as a chat turn of a Hugging Face model (spec "Generative
//! self-evaluation", step 1): the prompt as the user turn, the response (or a prefix) as the
//! assistant turn, then a **new user turn** holding the fixed question, then the opened assistant
//! turn; `A_yes` / `A_no` are the first tokens of the answers. The recipe (`configs/paper.toml`)
//! names the model, data, reward model and hyperparameters; the functions below are what the
//! paper-scale run calls, and `tests/paper_path.rs` runs them on the tiny fixtures: examples →
//! [`crate::selfeval::SelfEval`] on the shared engine → [`crate::selfeval::estimate`] →
//! [`crate::select`].

use crate::select::anneal;
use crate::selfeval::{SelfEval, KEEP, TARGET};
use crate::targets::leave_one_out;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::tokenize::chat::Message;
use shared::tokenize::Tokenizer;
use shared::train::{Example, TrainConfig};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub model: String,
    pub prompts_dataset: String,
    pub prompts: usize,
    pub samples: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
    pub reward_model: String,
    pub eps: f64,
    pub prefixes: Vec<usize>,
    /// The fixed question of the appended user turn.
    pub question: String,
    pub answer_yes: String,
    pub answer_no: String,
    pub objective: SelfEval,
    pub train: TrainConfig,
    pub eval: PaperEval,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperEval {
    pub benchmark: String,
    pub baseline: String,
    pub annotator: String,
    pub batches: Vec<usize>,
    pub t_max: f64,
    pub taus: Vec<f64>,
    pub prune_at: Vec<usize>,
    pub prune_keep: Vec<usize>,
}

impl Recipe {
    pub fn load(path: &Path) -> Result<Self> {
        let r: Recipe = shared::io::read_toml(path)?;
        r.train.validate().with_context(|| format!("invalid [train] in {}", path.display()))?;
        if r.samples < 2 || r.question.trim().is_empty() || r.answer_yes.is_empty() || r.answer_no.is_empty() {
            bail!("{}: samples must be ≥ 2, and question / answer_yes / answer_no non-empty", path.display());
        }
        Ok(r)
    }

    /// What a paper-scale run would do, for `--dry-run`.
    pub fn plan(&self) -> String {
        let n: usize = self.eval.batches.iter().sum();
        let temps: Vec<String> = (0..self.eval.batches.len()).map(|k| format!("{:.4}", anneal(k, self.eval.t_max))).collect();
        format!(
            "plan (our reconstruction; [U] items unconfirmed):\n  1. {} prompts from {} (first user turn), {} samples each from {} at T = {}, top-p {}, <= {} new tokens\n  2. rewards from {}; leave-one-out targets with eps = {}; prefixes at {:?} tokens\n  3. self-eval training: L_eval + {} * L_keep, {} examples per optimiser step, lr {}, {} epoch(s), max length {:?}\n  4. AlpacaEval ({}, baseline {}, annotator {}): best-of-{n} by p-hat, adaptive batches {:?} at temperatures [{}], taus {:?}, pruning at {:?} keeping {:?}\n  question turn: {:?}; answers {:?} / {:?}",
            self.prompts, self.prompts_dataset, self.samples, self.model, self.temperature, self.top_p, self.max_new_tokens,
            self.reward_model, self.eps, self.prefixes,
            self.objective.lambda, self.train.batch_size, self.train.schedule.lr, self.train.epochs, self.train.max_length,
            self.eval.benchmark, self.eval.baseline, self.eval.annotator, self.eval.batches, temps.join(", "), self.eval.taus, self.eval.prune_at, self.eval.prune_keep,
            self.question, self.answer_yes, self.answer_no
        )
    }
}

/// The answer tokens: the first token of each answer word, which must differ.
pub fn answer_ids(tok: &Tokenizer, recipe: &Recipe) -> Result<(i64, i64)> {
    let first = |w: &str| -> Result<i64> { tok.encode(w, false)?.first().copied().with_context(|| format!("the answer {w:?} encodes to no token")) };
    let (y, n) = (first(&recipe.answer_yes)?, first(&recipe.answer_no)?);
    if y == n {
        bail!("the answers {:?} and {:?} start with the same token {y}: choose answers whose first tokens differ", recipe.answer_yes, recipe.answer_no);
    }
    Ok((y, n))
}

/// Token ids of the self-evaluation context: `[user x, assistant y, user question]` with the
/// assistant turn opened. A prefix is closed by the template's own turn separator (spec pitfall:
/// "use the template's turn separator at paper scale").
pub fn context(tok: &Tokenizer, prompt: &str, response: &str, question: &str) -> Result<Vec<i64>> {
    Ok(tok.encode_chat(&[Message::user(prompt), Message::assistant(response), Message::user(question)], true)?)
}

/// The prompt ids (`[user x]` with the assistant turn opened) and, after them, the rest of the
/// self-evaluation context; an error when the template does not render the prompt as a prefix.
pub fn split_context(tok: &Tokenizer, prompt: &str, response: &str, question: &str) -> Result<(Vec<i64>, Vec<i64>)> {
    let p = tok.encode_chat(&[Message::user(prompt)], true)?;
    let full = context(tok, prompt, response, question)?;
    if !full.starts_with(&p) {
        bail!("the chat template does not render the prompt turn as a prefix of the self-evaluation context; this recipe needs a template that does (Llama-3, ChatML, ... do)");
    }
    Ok((p.clone(), full[p.len()..].to_vec()))
}

/// Self-evaluation training examples of one prompt from its sampled responses (text, as decoded)
/// and their rewards: one per response and one per prefix of `t` tokens (when longer), each with
/// its leave-one-out target; the response turn of a full example carries the keep NLL.
pub fn examples(tok: &Tokenizer, recipe: &Recipe, prompt: &str, responses: &[String], rewards: &[f64]) -> Result<Vec<Example>> {
    if responses.len() != rewards.len() {
        bail!("{} responses but {} rewards", responses.len(), rewards.len());
    }
    let (yes, no) = answer_ids(tok, recipe)?;
    let targets = leave_one_out(rewards, recipe.eps);
    let mut out = vec![];
    for (y, (t, _)) in responses.iter().zip(targets) {
        let mut texts = vec![(y.clone(), 1.0)];
        let ids = tok.encode(y, false)?;
        for &tp in &recipe.prefixes {
            if ids.len() > tp {
                texts.push((tok.decode(&ids[..tp], false)?, 0.0));
            }
        }
        for (text, keep) in texts {
            let (p, ctx) = split_context(tok, prompt, &text, &recipe.question)?;
            let (mut a, mut b) = (ctx.clone(), ctx);
            a.push(yes);
            b.push(no);
            out.push(Example::new(p, vec![a, b]).with(TARGET, t).with(KEEP, keep));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_recipe_loads_with_the_question_as_the_spec_gives_it() {
        let r = Recipe::load(&crate::config::config_dir().join("paper.toml")).unwrap();
        assert_eq!(r.question, "Would you do better if you started over? (\"Yes.\" or \"No.\")");
        assert_eq!((r.samples, r.prefixes.clone(), r.eval.batches.iter().sum::<usize>()), (16, vec![64, 128], 16));
        assert!(r.plan().contains("meta-llama/Llama-3.1-8B-Instruct"));
    }
}
