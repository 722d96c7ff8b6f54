//! The miniature world's judges behind the OpenAI-compatible API, so the real judging code
//! paths (prompt template, HTTP request, answer parsing, annotation files, metrics) run end to
//! end against a real server in the test suite.
//!
//! The judge reads the filled judge prompt back into its fields with the same template the
//! client filled (`template::unfill`), reads the instruction as a world prompt
//! (`world::Prompt::parse`) and answers as the real judge would:
//!
//! - **AlpacaEval** (`weighted_alpaca_eval_gpt4_turbo`'s template): one token, `m` (the first
//!   output is better) or `M`, with top log-probs ln P(first ≻ second) and ln P(second ≻ first)
//!   from the world's pairwise judge (position bias and label noise included: it sees the order
//!   shown).
//! - **WildBench pairwise**: the JSON verdict with `choice` from P(A ≻ B): > 0.8 `A++`,
//!   > 0.6 `A+`, [0.4, 0.6] `A=B`, < 0.4 `B+`, < 0.2 `B++`.
//! - **WildBench score**: the JSON with `score` = the world's checklist judge's expected score,
//!   rounded to an integer in 1..10, and the checklist items met / missed as strengths and
//!   weaknesses.

use super::server::{invalid, Backend, Job, Work};
use super::template::{prompt_to_chatml, unfill};
use super::types::*;
use crate::error::Result;
use crate::world::{Prompt, World};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Upstream's marks for an empty or cut response in WildBench prompts.
pub const WB_EMPTY: &str = "[This model response is empty.]";
pub const WB_TRUNCATED: &str = "... (truncated)";

/// The judge templates this judge understands (any may be absent).
#[derive(Debug, Clone, Default)]
pub struct JudgeTemplates {
    /// AlpacaEval's ChatML prompt template (`alpaca_eval_clf.txt`).
    pub alpaca_eval: Option<String>,
    /// WildBench's `eval_template.pairwise.v2.md` and `eval_template.score.v2.md`.
    pub wildbench_pairwise: Option<String>,
    pub wildbench_score: Option<String>,
}

impl JudgeTemplates {
    /// The templates `cargo xtask fetch alpaca_eval_annotator` / `wildbench_templates` left in
    /// the data folder (absent ones stay None).
    pub fn from_data(data: &Path) -> Self {
        let read = |p: PathBuf| std::fs::read_to_string(p).ok();
        JudgeTemplates {
            alpaca_eval: read(alpaca_template_path(data)),
            wildbench_pairwise: read(wildbench_template_path(data, "pairwise")),
            wildbench_score: read(wildbench_template_path(data, "score")),
        }
    }
}

/// Upstream's `evaluators_configs` folder inside the fetched `alpaca-eval` wheel.
pub fn alpaca_configs_dir(data: &Path) -> PathBuf {
    data.join("alpaca_eval_annotator/alpaca_eval/evaluators_configs")
}

/// The prompt template of `weighted_alpaca_eval_gpt4_turbo` in the fetched data.
pub fn alpaca_template_path(data: &Path) -> PathBuf {
    alpaca_configs_dir(data).join("alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt")
}

/// WildBench's `eval_template.<kind>.v2.md` (`pairwise` or `score`) in the fetched data.
pub fn wildbench_template_path(data: &Path, kind: &str) -> PathBuf {
    data.join("wildbench_templates/evaluation").join(format!("eval_template.{kind}.v2.md"))
}

pub struct WorldJudge {
    pub name: String,
    world: World,
    alpaca_user: Option<String>,
    templates: JudgeTemplates,
}

/// What the judge decided for one prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// P(the first-shown output is better).
    AlpacaEval(f64),
    WildBenchPairwise { p_a: f64, choice: &'static str },
    WildBenchScore { score: u8, met: Vec<String>, missed: Vec<String> },
}

/// The checklist of a world prompt, as WildBench tasks carry it.
pub fn world_checklist(world: &World, x: &Prompt) -> Vec<String> {
    world.checklist.checklist(x, "").iter().map(|(item, _, _)| item.to_string()).collect()
}

pub fn wildbench_choice(p_a: f64) -> &'static str {
    if p_a > 0.8 {
        "A++"
    } else if p_a > 0.6 {
        "A+"
    } else if p_a >= 0.4 {
        "A=B"
    } else if p_a >= 0.2 {
        "B+"
    } else {
        "B++"
    }
}

fn shown_output(s: &str) -> String {
    let s = s.trim();
    if s == WB_EMPTY {
        return String::new();
    }
    s.strip_suffix(WB_TRUNCATED).unwrap_or(s).to_string()
}

impl WorldJudge {
    pub fn new(world: World, name: &str, templates: JudgeTemplates) -> Result<Self> {
        let alpaca_user = match &templates.alpaca_eval {
            Some(t) => prompt_to_chatml(t)?.into_iter().filter_map(|m| m.text()).find(|c| c.contains("{instruction}")),
            None => None,
        };
        Ok(WorldJudge { name: name.to_string(), world, alpaca_user, templates })
    }

    fn prompt_of(&self, text: &str) -> std::result::Result<Prompt, String> {
        Prompt::parse(text.trim()).ok_or_else(|| format!("the instruction {:?} is not a prompt of the miniature world", text.chars().take(80).collect::<String>()))
    }

    /// Judge one prompt text (the last user message).
    pub fn judge(&self, user: &str) -> std::result::Result<Verdict, String> {
        if let Some(t) = &self.alpaca_user {
            if let Some(f) = unfill(t, &["{instruction}", "{output_1}", "{output_2}"], user) {
                let x = self.prompt_of(&f[0].1)?;
                return Ok(Verdict::AlpacaEval(self.world.judge.prob(&x, &f[1].1, &f[2].1)));
            }
        }
        if let Some(t) = &self.templates.wildbench_pairwise {
            let marks = ["{$history}", "{$user_query}", "{$candidate_A}", "{$candidate_B}", "{$checklist}"];
            if let Some(f) = unfill(t, &marks, user) {
                let get = |m: &str| f.iter().find(|(k, _)| k == m).map(|(_, v)| v.clone()).unwrap_or_default();
                let x = self.prompt_of(&get("{$user_query}"))?;
                let p_a = self.world.judge.prob(&x, &shown_output(&get("{$candidate_A}")), &shown_output(&get("{$candidate_B}")));
                return Ok(Verdict::WildBenchPairwise { p_a, choice: wildbench_choice(p_a) });
            }
        }
        if let Some(t) = &self.templates.wildbench_score {
            if let Some(f) = unfill(t, &["{$history}", "{$user_query}", "{$model_output}", "{$checklist}"], user) {
                let get = |m: &str| f.iter().find(|(k, _)| k == m).map(|(_, v)| v.clone()).unwrap_or_default();
                let x = self.prompt_of(&get("{$user_query}"))?;
                let y = shown_output(&get("{$model_output}"));
                let score = self.world.checklist.score(&x, &y).round().clamp(1.0, 10.0) as u8;
                let items = self.world.checklist.checklist(&x, &y);
                let met = items.iter().filter(|(_, e, p)| e >= p).map(|(n, _, _)| n.to_string()).collect();
                let missed = items.iter().filter(|(_, e, p)| e < p).map(|(n, _, _)| n.to_string()).collect();
                return Ok(Verdict::WildBenchScore { score, met, missed });
            }
        }
        Err("this judge reads AlpacaEval or WildBench judge prompts of the miniature world (filled from the templates it was started with); the prompt matches none".into())
    }

    fn answer(&self, c: &ChatRequest) -> std::result::Result<ChatResponse, ErrorBody> {
        let user = c.messages.iter().rev().find(|m| m.role == "user").and_then(|m| m.text()).ok_or_else(|| invalid("the judge needs a user message with text content", Some("messages")))?;
        let verdict = self.judge(&user).map_err(|e| invalid(e, Some("messages")))?;
        let n = c.n.unwrap_or(1);
        if n == 0 || n > 16 {
            return Err(invalid(format!("n = {n} must be between 1 and 16"), Some("n")));
        }
        let top = c.top_logprobs.unwrap_or(0);
        if top > 20 {
            return Err(invalid("at most 20 top log-probs", Some("top_logprobs")));
        }
        let (content, logprobs) = match &verdict {
            Verdict::AlpacaEval(p) => {
                let (lm, l_m) = (p.ln(), (1.0 - p).ln());
                let mut tops = [("m", lm), ("M", l_m)];
                tops.sort_by(|a, b| b.1.total_cmp(&a.1));
                let (tok, lp) = tops[0];
                let lps = c.logprobs.unwrap_or(false).then(|| ChatLogprobs {
                    content: Some(vec![TokenLogprob {
                        token: tok.into(),
                        logprob: lp,
                        bytes: Some(tok.as_bytes().to_vec()),
                        top_logprobs: tops.iter().take(top).map(|(t, l)| TopLogprob { token: t.to_string(), logprob: *l, bytes: Some(t.as_bytes().to_vec()) }).collect(),
                    }]),
                });
                (tok.to_string(), lps)
            }
            Verdict::WildBenchPairwise { p_a, choice } => {
                let j = json!({
                    "analysis of A": format!("the world's judge prefers A with probability {p_a:.3}"),
                    "analysis of B": format!("the world's judge prefers B with probability {:.3}", 1.0 - p_a),
                    "reason of A=B": "", "reason of A>B": "", "reason of B>A": "",
                    "choice": choice,
                });
                (format!("```json\n{j:#}\n```"), None)
            }
            Verdict::WildBenchScore { score, met, missed } => {
                let j = json!({"strengths": met.join("; "), "weaknesses": missed.join("; "), "score": score.to_string()});
                (format!("```json\n{j:#}\n```"), None)
            }
        };
        let choices = (0..n)
            .map(|i| ChatChoice { index: i, message: ResponseMessage { role: "assistant".into(), content: Some(content.clone()) }, logprobs: logprobs.clone(), finish_reason: Some("stop".into()) })
            .collect();
        // The world's tokenizer is character level: tokens = characters.
        let prompt_tokens: u64 = c.messages.iter().filter_map(|m| m.text()).map(|t| t.chars().count() as u64).sum();
        let completion_tokens = n as u64 * content.chars().count() as u64;
        Ok(ChatResponse {
            id: format!("judge-{:x}", now_unix()),
            object: "chat.completion".into(),
            created: now_unix(),
            model: c.model.clone(),
            choices,
            usage: Some(Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }),
        })
    }
}

impl Backend for WorldJudge {
    fn models(&self) -> Vec<String> {
        vec![self.name.clone()]
    }

    fn run(&mut self, jobs: Vec<Job>) {
        for job in &jobs {
            match &job.work {
                Work::Chat(c) if c.stream.unwrap_or(false) => job.fail(400, invalid("the world judge does not stream", Some("stream"))),
                Work::Chat(c) => match self.answer(c) {
                    Ok(r) => job.answer(200, serde_json::to_value(r).unwrap_or_default()),
                    Err(e) => job.fail(400, e),
                },
                Work::Completion(_) => job.fail(400, invalid("the world judge answers /v1/chat/completions only", None)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::template::{fill_all, fill_first};
    use crate::world::WorldConfig;

    const AE: &str = "<|im_start|>system\nJudge.\n<|im_end|>\n<|im_start|>user\nI: {instruction}\nm: {output_1}\nM: {output_2}\nWhich?\n<|im_end|>";

    #[test]
    fn alpaca_prompts_get_the_world_judges_probability() {
        let world = World::new(WorldConfig::default()).unwrap();
        let j = WorldJudge::new(world.clone(), "world-judge", JudgeTemplates { alpaca_eval: Some(AE.into()), ..Default::default() }).unwrap();
        let x = world.eval_prompts()[0].clone();
        let (good, bad) = (world.gold(&x), "nonsense".to_string());
        let filled = fill_first(AE, &[("instruction", &x.text()), ("output_1", &good), ("output_2", &bad)]).unwrap();
        let user = prompt_to_chatml(&filled).unwrap()[1].text().unwrap();
        let Verdict::AlpacaEval(p) = j.judge(&user).unwrap() else { panic!() };
        assert!((p - world.judge.prob(&x, &good, &bad)).abs() < 1e-15 && p > 0.5);
        assert!(j.judge("what?").is_err());
        let odd = fill_first(AE, &[("instruction", "fly me to the moon"), ("output_1", "a"), ("output_2", "b")]).unwrap();
        assert!(j.judge(&prompt_to_chatml(&odd).unwrap()[1].text().unwrap()).unwrap_err().contains("not a prompt"));
    }

    #[test]
    fn wildbench_prompts_get_choices_and_scores() {
        let world = World::new(WorldConfig::default()).unwrap();
        let pair = "Q: {$user_query}\nH: {$history}\nA: {$candidate_A}\nB: {$candidate_B}\nC:\n{$checklist}\nEND";
        let score = "Q: {$user_query}\nH: {$history}\nR: {$model_output}\nC:\n{$checklist}\nEND";
        let j = WorldJudge::new(world.clone(), "j", JudgeTemplates { wildbench_pairwise: Some(pair.into()), wildbench_score: Some(score.into()), ..Default::default() }).unwrap();
        let x = world.eval_prompts()[3].clone();
        let cl: String = world_checklist(&world, &x).iter().map(|c| format!("- {c}\n")).collect();
        let p = fill_all(pair, &[("history", ""), ("user_query", &x.text()), ("candidate_A", &world.gold(&x)), ("candidate_B", WB_EMPTY), ("checklist", &cl)]);
        match j.judge(&p).unwrap() {
            Verdict::WildBenchPairwise { choice, .. } => assert_eq!(choice, "A++"),
            v => panic!("{v:?}"),
        }
        let s = fill_all(score, &[("history", ""), ("user_query", &x.text()), ("model_output", &world.gold(&x)), ("checklist", &cl)]);
        match j.judge(&s).unwrap() {
            Verdict::WildBenchScore { score, missed, met } => {
                assert_eq!(score as f64, world.checklist.score(&x, &world.gold(&x)).round());
                assert!(score >= 8 && missed.len() <= 1 && met.len() + missed.len() == 7, "{score} {missed:?}");
            }
            v => panic!("{v:?}"),
        }
        assert_eq!([0.9, 0.7, 0.5, 0.3, 0.1].map(wildbench_choice), ["A++", "A+", "A=B", "B+", "B++"]);
    }
}
