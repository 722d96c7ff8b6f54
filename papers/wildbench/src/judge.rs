//! Judging a new model with WildBench's two judges through any OpenAI-compatible endpoint
//! (`cargo xtask evaluate wildbench`): upstream's templates (`eval_template.{pairwise,score}.v2.md`,
//! fetched at a pinned version by `cargo xtask fetch wildbench_templates`, never copied here),
//! filled as upstream's `src/eval.py` fills them (`{$history}`, `{$user_query}`,
//! `{$candidate_A}`/`{$candidate_B}` or `{$model_output}`, `{$checklist}` as `- item` lines;
//! 1,000-word cut; the A/B sides from Python's `random.seed(42)`), answers parsed with
//! [`crate::judge_parse`], records written in upstream's per-record format, then WB-Score and
//! WB-Reward with the project's code ([`crate::score`], [`crate::reward`]).
//!
//! A judge answer that cannot be parsed drops its record, as upstream does (the count is reported).

use crate::judge_parse::{parse_object, parse_pairwise, parse_score};
use crate::prompts::{history_and_query, shown, test_model_is_a, Task};
use crate::reward::{PairwiseRecord, EMPTY_MARKER};
use crate::score::ScoreRecord;
use shared::api::template::fill_all;
use shared::api::types::{ChatMessage, ChatRequest};
use shared::api::world_judge::wildbench_template_path;
use shared::api::Client;
use shared::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Upstream's two judge templates.
#[derive(Debug, Clone)]
pub struct Templates {
    pub pairwise: String,
    pub score: String,
}

impl Templates {
    pub fn load(data: &Path) -> Result<Self> {
        let read = |kind: &str| {
            let p = wildbench_template_path(data, kind);
            std::fs::read_to_string(&p).map_err(|e| Error::invalid(p.display().to_string(), format!("{e}: run `cargo xtask fetch wildbench_templates` (PyPI)")))
        };
        Ok(Templates { pairwise: read("pairwise")?, score: read("score")? })
    }
}

/// `- item\n` per checklist item, as upstream writes `{$checklist}`.
pub fn checklist_markdown(task: &Task) -> String {
    task.checklist.iter().map(|c| format!("- {c}\n")).collect()
}

pub fn score_prompt(t: &Templates, task: &Task, output: &str, max_words: Option<usize>) -> String {
    let (history, query) = history_and_query(task, max_words);
    fill_all(&t.score, &[("history", &history), ("user_query", &query), ("model_output", &shown(output, max_words, "")), ("checklist", &checklist_markdown(task))])
}

pub fn pairwise_prompt(t: &Templates, task: &Task, a: &str, b: &str, max_words: Option<usize>) -> String {
    let (history, query) = history_and_query(task, max_words);
    fill_all(
        &t.pairwise,
        &[
            ("history", &history),
            ("user_query", &query),
            ("candidate_A", &shown(a, max_words, EMPTY_MARKER)),
            ("candidate_B", &shown(b, max_words, EMPTY_MARKER)),
            ("checklist", &checklist_markdown(task)),
        ],
    )
}

/// The judge endpoint and its settings (upstream: temperature 0, up to 1,024 output tokens).
pub struct Judge<'a> {
    pub client: &'a Client,
    pub model: String,
    pub max_words: Option<usize>,
    pub templates: Templates,
}

/// What a judging run produced and dropped.
#[derive(Debug)]
pub struct Judged<R> {
    pub records: Vec<R>,
    /// (session, why) of answers that could not be parsed.
    pub dropped: Vec<(String, String)>,
}

impl Judge<'_> {
    fn ask(&self, prompt: String) -> Result<String> {
        let req = ChatRequest { model: self.model.clone(), messages: vec![ChatMessage::new("user", &prompt)], temperature: Some(0.0), max_tokens: Some(1024), ..Default::default() };
        let r = self.client.chat(&req)?;
        Ok(r.choices.into_iter().next().and_then(|c| c.message.content).unwrap_or_default())
    }

    /// WB-Score records of `model` (its outputs by session id) on `tasks`.
    pub fn score(&self, tasks: &[Task], outputs: &HashMap<String, String>, model: &str) -> Result<Judged<ScoreRecord>> {
        let mut missing = tasks.iter().filter(|t| !outputs.contains_key(&t.session_id));
        if let Some(t) = missing.next() {
            return Err(Error::invalid(format!("outputs of {model}"), format!("no output for session {}", t.session_id)));
        }
        let answers = self.client.map_concurrent(tasks, "scoring", |t| self.ask(score_prompt(&self.templates, t, &outputs[&t.session_id], self.max_words)));
        let mut out = Judged { records: vec![], dropped: vec![] };
        for (t, a) in tasks.iter().zip(answers) {
            let a = a?;
            match (parse_score(&a), parse_object(&a)) {
                (Ok(s), Ok(obj)) => out.records.push(ScoreRecord {
                    session_id: t.session_id.clone(),
                    model_test: Some(model.to_string()),
                    score: Some(serde_json::Value::String(s.to_string())),
                    model_output: Some(shown(&outputs[&t.session_id], self.max_words, "")),
                    parsed_result: Some(serde_json::Value::Object(obj)),
                }),
                (Err(e), _) | (_, Err(e)) => out.dropped.push((t.session_id.clone(), e.to_string())),
            }
        }
        Ok(out)
    }

    /// WB-Reward records of `model` against `reference` (outputs by session id); the test model
    /// is A when upstream's `random.seed(42)` coin says so, task by task.
    pub fn pairwise(&self, tasks: &[Task], test: (&str, &HashMap<String, String>), reference: (&str, &HashMap<String, String>)) -> Result<Judged<PairwiseRecord>> {
        for (name, outs) in [test, reference] {
            if let Some(t) = tasks.iter().find(|t| !outs.contains_key(&t.session_id)) {
                return Err(Error::invalid(format!("outputs of {name}"), format!("no output for session {}", t.session_id)));
            }
        }
        let sides = test_model_is_a(tasks.len());
        let items: Vec<(&Task, bool)> = tasks.iter().zip(sides).collect();
        let answers = self.client.map_concurrent(&items, "pairwise", |(t, test_a)| {
            let (a, b) = if *test_a { (&test.1[&t.session_id], &reference.1[&t.session_id]) } else { (&reference.1[&t.session_id], &test.1[&t.session_id]) };
            self.ask(pairwise_prompt(&self.templates, t, a, b, self.max_words))
        });
        let mut out = Judged { records: vec![], dropped: vec![] };
        for ((t, test_a), a) in items.iter().zip(answers) {
            let a = a?;
            let (model_a, model_b) = if *test_a { (test.0, reference.0) } else { (reference.0, test.0) };
            match (parse_pairwise(&a), parse_object(&a)) {
                (Ok(choice), Ok(obj)) => {
                    let (winner, extent) = choice.winner_extent(model_a, model_b);
                    let outputs: BTreeMap<String, String> = [
                        (test.0.to_string(), shown(&test.1[&t.session_id], self.max_words, EMPTY_MARKER)),
                        (reference.0.to_string(), shown(&reference.1[&t.session_id], self.max_words, EMPTY_MARKER)),
                    ]
                    .into_iter()
                    .collect();
                    out.records.push(PairwiseRecord {
                        session_id: t.session_id.clone(),
                        model_a: model_a.to_string(),
                        model_b: model_b.to_string(),
                        winner: Some(winner.to_string()),
                        extent: Some(extent),
                        parsed_result: Some(serde_json::Value::Object(obj)),
                        model_outputs: outputs,
                    });
                }
                (Err(e), _) | (_, Err(e)) => out.dropped.push((t.session_id.clone(), e.to_string())),
            }
        }
        Ok(out)
    }
}

/// Tasks from a JSON array or JSON lines of `{session_id, conversation_input, checklist}`
/// (the fields of HF `allenai/WildBench` v2).
pub fn load_tasks(path: &Path) -> Result<Vec<Task>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: String| Error::Json { path: path.into(), msg: m };
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).map_err(|e| bad(e.to_string()));
    }
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| serde_json::from_str(l).map_err(|e| bad(format!("line {}: {e}", i + 1)))).collect()
}

/// Outputs by session id from a JSON array of `{session_id, output}` (upstream's result files).
pub fn load_outputs(path: &Path) -> Result<HashMap<String, String>> {
    let v: serde_json::Value = shared::io::read_json(path)?;
    let arr = v.as_array().ok_or_else(|| Error::Json { path: path.into(), msg: "expected a JSON array of {session_id, output}".into() })?;
    arr.iter()
        .enumerate()
        .map(|(i, r)| {
            let s = |k: &str| r.get(k).and_then(|x| x.as_str()).map(String::from);
            // Upstream's generation files keep the output as a list of candidates; take the first.
            let out = s("output").or_else(|| r.get("output").and_then(|o| o.as_array()).and_then(|a| a.first()).and_then(|x| x.as_str()).map(String::from));
            match (s("session_id"), out) {
                (Some(id), Some(o)) => Ok((id, o)),
                _ => Err(Error::invalid(format!("{}: record {i}", path.display()), "needs `session_id` and `output`")),
            }
        })
        .collect()
}
