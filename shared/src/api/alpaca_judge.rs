//! AlpacaEval 2's annotator `weighted_alpaca_eval_gpt4_turbo`, over any OpenAI-compatible
//! endpoint. Its `configs.yaml` and prompt template are upstream's files (fetched from the
//! pinned `alpaca-eval` wheel, never copied into this repository); this module does what
//! upstream's annotator does with them:
//!
//! 1. per instruction, decide whether to swap the two outputs as upstream does:
//!    `random.Random("is_switched_outputs" + instruction + "0").choices([False, True])`;
//! 2. fill the template (first occurrence of each `{placeholder}`), turn it into chat messages
//!    (`prompt_to_chatml`) and ask the judge for one token with the top log-probs;
//! 3. `logprob_parser`: preference = 2 − P(m) / (P(m) + P(M)) over the top log-probs (m = the
//!    first output shown), NaN → no preference when neither token is among them; then undo the
//!    swap (3 − preference);
//! 4. write the records in upstream's `annotations.json` format.

use super::client::Client;
use super::template::{fill_first, prompt_to_chatml};
use super::types::{ChatRequest, ChatResponse};
use crate::error::{Error, Result};
use crate::eval::pyrandom::PyRandom;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One annotator's settings, read from upstream's `evaluators_configs/<name>/configs.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotatorConfig {
    pub name: String,
    pub prompt_template: PathBuf,
    pub model_name: String,
    pub max_tokens: usize,
    pub temperature: f64,
    pub top_logprobs: usize,
    pub numerator_token: String,
    pub denominator_tokens: Vec<String>,
    pub is_binarize: bool,
}

impl AnnotatorConfig {
    /// Read `<configs_dir>/<name>/configs.yaml`; the template path in it is relative to
    /// `configs_dir`. Only the log-prob parser with batch size 1 is implemented: another parser
    /// is an error naming it.
    pub fn load(configs_dir: &Path, name: &str) -> Result<Self> {
        let path = configs_dir.join(name).join("configs.yaml");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |m: String| Error::Config { path: path.clone(), msg: m };
        let y: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| bad(format!("not YAML: {e}")))?;
        let c = y.get(name).ok_or_else(|| bad(format!("has no top-level key {name:?}")))?;
        let s = |v: &serde_yaml::Value, k: &str| -> Result<String> { v.get(k).and_then(|x| x.as_str()).map(String::from).ok_or_else(|| bad(format!("`{k}` is missing or not a string"))) };
        let parser = s(c, "fn_completion_parser")?;
        if parser != "logprob_parser" {
            return Err(bad(format!("fn_completion_parser {parser:?}: only upstream's logprob_parser is implemented")));
        }
        let batch = c.get("batch_size").and_then(|b| b.as_u64()).unwrap_or(1);
        if batch != 1 {
            return Err(bad(format!("batch_size {batch}: only 1 is implemented")));
        }
        let kw = c.get("completions_kwargs").ok_or_else(|| bad("`completions_kwargs` is missing".into()))?;
        let pk = c.get("completion_parser_kwargs").ok_or_else(|| bad("`completion_parser_kwargs` is missing".into()))?;
        let num = |v: &serde_yaml::Value, k: &str| v.get(k).and_then(|x| x.as_f64()).ok_or_else(|| bad(format!("`{k}` is missing or not a number")));
        let denominator_tokens = pk
            .get("denominator_tokens")
            .and_then(|d| d.as_sequence())
            .map(|d| d.iter().filter_map(|t| t.as_str().map(String::from)).collect::<Vec<_>>())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| bad("`denominator_tokens` is missing or empty".into()))?;
        if kw.get("logprobs").and_then(|b| b.as_bool()) != Some(true) {
            return Err(bad("completions_kwargs.logprobs must be true for the log-prob parser".into()));
        }
        Ok(AnnotatorConfig {
            name: name.to_string(),
            prompt_template: configs_dir.join(s(c, "prompt_template")?),
            model_name: s(kw, "model_name")?,
            max_tokens: num(kw, "max_tokens")? as usize,
            temperature: num(kw, "temperature")?,
            top_logprobs: num(kw, "top_logprobs")? as usize,
            numerator_token: s(pk, "numerator_token")?,
            denominator_tokens,
            is_binarize: pk.get("is_binarize").and_then(|b| b.as_bool()).unwrap_or(true),
        })
    }
}

/// One pair to judge: the baseline's output (1) against the model's (2).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub instruction: String,
    pub output_1: String,
    pub generator_1: String,
    pub output_2: String,
    pub generator_2: String,
    pub dataset: String,
}

/// Whether upstream shows the outputs swapped for this instruction (annotator seed 0).
pub fn upstream_switch(instruction: &str, seed: u64) -> bool {
    PyRandom::from_str_seed(&format!("is_switched_outputs{instruction}{seed}")).random() >= 0.5
}

pub struct AlpacaJudge<'a> {
    pub cfg: AnnotatorConfig,
    template: String,
    client: &'a Client,
    /// The judge's model name (the config's unless overridden, e.g. a local judge).
    pub model: String,
    pub seed: u64,
}

impl<'a> AlpacaJudge<'a> {
    pub fn new(cfg: AnnotatorConfig, client: &'a Client, model: Option<&str>) -> Result<Self> {
        let template = std::fs::read_to_string(&cfg.prompt_template).map_err(|e| Error::io(&cfg.prompt_template, e))?;
        prompt_to_chatml(&template).map_err(|e| Error::invalid(cfg.prompt_template.display().to_string(), e.to_string()))?;
        let model = model.map(String::from).unwrap_or_else(|| cfg.model_name.clone());
        Ok(AlpacaJudge { cfg, template, client, model, seed: 0 })
    }

    /// The judge request for one comparison and whether its outputs were swapped.
    pub fn request(&self, c: &Comparison) -> Result<(ChatRequest, bool)> {
        let switched = upstream_switch(&c.instruction, self.seed);
        let (first, second) = if switched { (&c.output_2, &c.output_1) } else { (&c.output_1, &c.output_2) };
        let prompt = fill_first(&self.template, &[("instruction", &c.instruction), ("output_1", first), ("output_2", second)])?;
        let req = ChatRequest {
            model: self.model.clone(),
            messages: prompt_to_chatml(&prompt)?,
            max_tokens: Some(self.cfg.max_tokens),
            temperature: Some(self.cfg.temperature),
            logprobs: Some(true),
            top_logprobs: Some(self.cfg.top_logprobs),
            ..Default::default()
        };
        Ok((req, switched))
    }

    /// Upstream's `logprob_parser` on the first generated token: the preference in the order
    /// shown, in [1, 2] (None when no numerator/denominator token is among the top log-probs).
    pub fn parse(&self, resp: &ChatResponse) -> Result<Option<f64>> {
        let first = resp
            .choices
            .first()
            .and_then(|c| c.logprobs.as_ref())
            .and_then(|l| l.content.as_ref())
            .and_then(|c| c.first())
            .ok_or_else(|| Error::invalid("judge answer", "has no log-probs (the endpoint must support logprobs / top_logprobs)"))?;
        let lp = |t: &str| first.top_logprobs.iter().find(|x| x.token == t).map(|x| x.logprob);
        let known: Vec<&String> = self.cfg.denominator_tokens.iter().chain([&self.cfg.numerator_token]).collect();
        if known.iter().all(|t| lp(t).is_none()) {
            return Ok(None);
        }
        let num = lp(&self.cfg.numerator_token).unwrap_or(f64::NEG_INFINITY);
        if self.cfg.is_binarize {
            let others = self.cfg.denominator_tokens.iter().filter(|t| **t != self.cfg.numerator_token);
            let best = others.map(|t| lp(t).unwrap_or(f64::NEG_INFINITY)).all(|o| num > o);
            return Ok(Some(if best { 1.0 } else { 2.0 }));
        }
        let den: Vec<f64> = self.cfg.denominator_tokens.iter().map(|t| lp(t).unwrap_or(f64::NEG_INFINITY)).collect();
        let m = den.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + den.iter().map(|d| (d - m).exp()).sum::<f64>().ln();
        Ok(Some(2.0 - (num - lse).exp()))
    }

    /// Judge every comparison (concurrently, through the client's cache) and return upstream
    /// annotation records in input order. Any call that fails for good fails the whole run after
    /// the others finished; their answers are in the cache, so a rerun resumes.
    pub fn annotate(&self, items: &[Comparison]) -> Result<Vec<Value>> {
        let prices = (self.client.cfg.price_prompt_per_mtok, self.client.cfg.price_completion_per_mtok);
        let results = self.client.map_concurrent(items, "judging", |c| {
            let (req, switched) = self.request(c)?;
            let t0 = std::time::Instant::now();
            let resp = self.client.chat(&req)?;
            let secs = t0.elapsed().as_secs_f64();
            let shown = self.parse(&resp)?;
            let preference = shown.map(|p| if switched { 3.0 - p } else { p });
            let usage = resp.usage.unwrap_or_default();
            let price = (usage.prompt_tokens as f64 * prices.0 + usage.completion_tokens as f64 * prices.1) / 1e6;
            let raw = resp.choices.first().map(|ch| serde_json::to_value(ch).unwrap_or(Value::Null)).unwrap_or(Value::Null);
            Ok(json!({
                "instruction": c.instruction,
                "output_1": c.output_1,
                "generator_1": c.generator_1,
                "dataset": c.dataset,
                "output_2": c.output_2,
                "generator_2": c.generator_2,
                "annotator": self.cfg.name,
                "preference": preference,
                "price_per_example": price,
                "time_per_example": secs,
                "raw_completion": raw,
                "is_switched_outputs": switched,
            }))
        });
        let mut out = vec![];
        let mut errors = vec![];
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => out.push(v),
                Err(e) => errors.push(format!("record {i}: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Other(format!(
                "{} of {} judge calls failed ({}); the finished ones are cached, rerun to resume",
                errors.len(),
                items.len(),
                errors.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            )));
        }
        Ok(out)
    }
}

/// Upstream's leaderboard CSV columns, for one or more rows.
pub fn leaderboard_csv(rows: &[crate::eval::alpaca_eval::LeaderboardRow]) -> String {
    let mut s = String::from(",win_rate,standard_error,n_wins,n_wins_base,n_draws,n_total,discrete_win_rate,mode,avg_length,length_controlled_winrate,lc_standard_error\n");
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in rows {
        let name = if r.model.contains([',', '"']) { format!("\"{}\"", r.model.replace('"', "\"\"")) } else { r.model.clone() };
        s.push_str(&format!(
            "{name},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.win_rate,
            r.standard_error,
            r.n_wins,
            r.n_wins_base,
            r.n_draws,
            r.n_total,
            r.discrete_win_rate,
            r.mode,
            r.avg_length,
            opt(r.length_controlled_winrate),
            opt(r.lc_standard_error)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::{ChatChoice, ChatLogprobs, ResponseMessage, TokenLogprob, TopLogprob};

    fn cfg(dir: &Path) -> AnnotatorConfig {
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(
            dir.join("a/configs.yaml"),
            "a:\n  prompt_template: \"a/t.txt\"\n  fn_completions: \"openai_completions\"\n  completions_kwargs:\n    model_name: \"judge\"\n    max_tokens: 1\n    temperature: 1\n    logprobs: true\n    top_logprobs: 5\n  fn_completion_parser: \"logprob_parser\"\n  completion_parser_kwargs:\n    numerator_token: \"m\"\n    denominator_tokens: [\"m\", \"M\"]\n    is_binarize: false\n  batch_size: 1\n",
        )
        .unwrap();
        AnnotatorConfig::load(dir, "a").unwrap()
    }

    fn answer(tops: &[(&str, f64)]) -> ChatResponse {
        ChatResponse {
            id: "x".into(),
            object: "chat.completion".into(),
            created: 0,
            model: "judge".into(),
            choices: vec![ChatChoice {
                index: 0,
                message: ResponseMessage { role: "assistant".into(), content: Some("m".into()) },
                logprobs: Some(ChatLogprobs {
                    content: Some(vec![TokenLogprob {
                        token: tops[0].0.into(),
                        logprob: tops[0].1,
                        bytes: None,
                        top_logprobs: tops.iter().map(|(t, l)| TopLogprob { token: t.to_string(), logprob: *l, bytes: None }).collect(),
                    }]),
                }),
                finish_reason: Some("length".into()),
            }],
            usage: None,
        }
    }

    #[test]
    fn config_is_read_and_wrong_parser_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(dir.path());
        assert_eq!((c.model_name.as_str(), c.top_logprobs, c.is_binarize), ("judge", 5, false));
        assert_eq!(c.prompt_template, dir.path().join("a/t.txt"));
        let y = std::fs::read_to_string(dir.path().join("a/configs.yaml")).unwrap().replace("logprob_parser", "regex_parser");
        std::fs::write(dir.path().join("a/configs.yaml"), y).unwrap();
        let e = AnnotatorConfig::load(dir.path(), "a").unwrap_err().to_string();
        assert!(e.contains("regex_parser") && e.contains("configs.yaml"), "{e}");
    }

    #[test]
    fn logprob_parser_as_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(dir.path());
        std::fs::write(&c.prompt_template, "<|im_start|>user\n{instruction} {output_1} {output_2}\n<|im_end|>").unwrap();
        let client = Client::new(crate::api::ClientConfig { base_url: "http://127.0.0.1:9/v1".into(), ..Default::default() }).unwrap();
        let j = AlpacaJudge::new(c, &client, None).unwrap();
        // upstream's docstring example: M at -0.0176, m at -4.0488 -> 2 - P(m)/(P(m)+P(M)).
        let (pm, p_m) = ((-4.048847f64).exp(), (-0.017597131f64).exp());
        let got = j.parse(&answer(&[("M", -0.017597131), ("m", -4.048847), ("Both", -14.9)])).unwrap().unwrap();
        assert!((got - (2.0 - pm / (pm + p_m))).abs() < 1e-12);
        assert_eq!(j.parse(&answer(&[("m", -0.1)])).unwrap(), Some(1.0));
        assert_eq!(j.parse(&answer(&[("Both", -0.1)])).unwrap(), None);
        // The swap follows upstream's seeded coin (instruction 0 of the evaluation set is swapped).
        let cmp = Comparison { instruction: "What are the names of some famous actors that started their careers on Broadway?".into(), output_1: "B".into(), generator_1: "b".into(), output_2: "X".into(), generator_2: "x".into(), dataset: "d".into() };
        let (req, switched) = j.request(&cmp).unwrap();
        assert!(switched);
        assert!(req.messages[0].text().unwrap().ends_with("X B"), "{:?}", req.messages);
        assert_eq!((req.max_tokens, req.top_logprobs, req.logprobs), (Some(1), Some(5), Some(true)));
    }
}
