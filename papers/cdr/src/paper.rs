//! Scoring a preference set with two Hugging Face checkpoints, as the released pipeline does
//! (spec "Scoring procedure"), and RewardBench's scores of the result:
//!
//! 1. the conversation is rendered once with the **strong** model's chat template:
//!    `prompt_str` with the generation prompt, `full_str` with the answer, plus the EOS token when
//!    the rendering does not already end with it;
//! 2. each model tokenises `full_str` with its own tokenizer (one BOS first) and scores every
//!    token; the response span starts at `len(tokenize(prompt_str))` — counting the BOS, so by
//!    default the span also covers the last prompt token, as vLLM's echo does in the released
//!    code (`include_last_prompt_token = false` starts at the answer instead);
//! 3. the prompt keeps its last `max_prompt_length` tokens, the response its first
//!    `max_output_length`;
//! 4. `r_DR` = Σ strong log-probs − Σ weak log-probs over the span ([`crate::ratio`]).
//!
//! Then every item is right iff `r(chosen) > r(rejected)` and the subsets' accuracies become
//! RewardBench's section and overall scores ([`crate::rewardbench`]).

use crate::ratio::{reward, Normalise};
use crate::rewardbench;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::data::preference::{load_dataset, PreferencePair};
use shared::hub;
use shared::model::pretrained::Pretrained;
use shared::model::{sequence_logps, TokenBatch};
use shared::report::{Cell, Table};
use shared::tokenize::chat::{ChatTemplate, Message};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// The better-aligned model π_s and the less aligned π_w (hub ids or folders).
    pub strong: String,
    pub weak: String,
    /// The strong model's chat template: the text both models score.
    pub chat_template: String,
    /// A hub dataset id or a folder, and its files (`prompt`, `chosen`, `rejected`, `subset`).
    pub dataset: String,
    pub files: Vec<String>,
    #[serde(default)]
    pub max_items: Option<usize>,
    pub max_prompt_length: usize,
    pub max_output_length: usize,
    pub normalise: Normalise,
    /// Count the last prompt token in the response span, as the released echo-based code does.
    pub include_last_prompt_token: bool,
    /// Sequences per forward pass.
    pub micro_batch: usize,
    /// `"bf16"` (on CUDA) or `"f32"`.
    pub dtype: String,
}

impl PaperConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: PaperConfig = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut c.strong, &mut c.weak, &mut c.dataset]);
        if c.files.is_empty() || c.max_prompt_length == 0 || c.max_output_length == 0 || c.micro_batch == 0 {
            bail!("{}: files must be non-empty and the lengths and micro_batch ≥ 1", path.display());
        }
        if !matches!(c.dtype.as_str(), "bf16" | "f32") {
            bail!("{}: dtype must be \"bf16\" or \"f32\", got {:?}", path.display(), c.dtype);
        }
        Ok(c)
    }
}

/// One scored item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub subset: String,
    pub r_chosen: f64,
    pub r_rejected: f64,
}

/// What a run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub setting: String,
    pub items: usize,
    /// Accuracy per subset, in [0, 1].
    pub subsets: BTreeMap<String, f64>,
    /// RewardBench's section scores (×100) and their plain mean.
    pub sections: BTreeMap<String, f64>,
    pub overall: Option<f64>,
    /// Mean response length in characters of the answer the ratio prefers and of the other
    /// (the sum's length effect, spec "Pitfalls").
    pub preferred_chars: f64,
    pub other_chars: f64,
}

/// A model that scores text with its own tokenizer.
struct Scorer {
    m: Pretrained,
}

impl Scorer {
    fn ids(&self, text: &str) -> Result<Vec<i64>> {
        let tok = &self.m.tokenizer;
        let mut ids = tok.encode(text, false)?;
        tok.ensure_bos(&mut ids);
        Ok(ids)
    }

    /// (summed log-prob, token count) of each `(prompt_str, full_str)`'s response span.
    fn score(&self, cfg: &PaperConfig, texts: &[(String, String)]) -> Result<Vec<(f64, usize)>> {
        let mut seqs = Vec::with_capacity(texts.len());
        for (p, f) in texts {
            let full = self.ids(f)?;
            let start = self.ids(p)?.len().saturating_sub(usize::from(cfg.include_last_prompt_token)).clamp(1, full.len());
            let mut prompt = full[..start].to_vec();
            if prompt.len() > cfg.max_prompt_length {
                prompt = prompt[prompt.len() - cfg.max_prompt_length..].to_vec();
            }
            let response: Vec<i64> = full[start..].iter().take(cfg.max_output_length).copied().collect();
            seqs.push((prompt, response));
        }
        let pad = self.m.tokenizer.pad_id();
        let device = self.m.model.device();
        let mut out = Vec::with_capacity(seqs.len());
        tch::no_grad(|| -> Result<()> {
            for chunk in seqs.chunks(cfg.micro_batch) {
                let s = sequence_logps(&self.m.model, &TokenBatch::from_pairs(chunk, pad, device))?;
                let sums = Vec::<f64>::try_from(s.sum.to_kind(Kind::Double))?;
                out.extend(sums.into_iter().zip(chunk.iter().map(|(_, r)| r.len())));
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// `(prompt_str, full_str)` of an answer under the strong model's template.
fn render(template: &ChatTemplate, eos: &str, context: &[Message], answer: &str) -> Result<(String, String)> {
    let prompt = template.render(context, true)?;
    let mut msgs = context.to_vec();
    msgs.push(Message::assistant(answer));
    let mut full = template.render(&msgs, false)?;
    if !eos.is_empty() && !full.ends_with(eos) {
        full.push_str(eos);
    }
    Ok((prompt, full))
}

fn load_model(spec: &str, device: Device, kind: Kind) -> Result<Scorer> {
    let m = Pretrained::load_from(&hub::resolve(spec)?, device, kind).with_context(|| format!("loading {spec}"))?;
    m.tokenizer.check_fits(m.model.config().vocab_size)?;
    Ok(Scorer { m })
}

/// The config's items (its files, at most `max_items`).
pub fn load(cfg: &PaperConfig) -> Result<Vec<PreferencePair>> {
    Ok(load_dataset(&cfg.dataset, &cfg.files, cfg.max_items)?)
}

/// Score every item with `r_DR(strong over weak)`.
pub fn score(cfg: &PaperConfig, rows: &[PreferencePair], device: Device) -> Result<Vec<Item>> {
    let kind = if device.is_cuda() && cfg.dtype == "bf16" { Kind::BFloat16 } else { Kind::Float };
    let strong = load_model(&cfg.strong, device, kind)?;
    let weak = load_model(&cfg.weak, device, kind)?;
    let tok = &strong.m.tokenizer;
    let (bos, eos) = (tok.bos_token.clone().unwrap_or_default(), tok.eos_token.clone().unwrap_or_default());
    let template = ChatTemplate::from_name(&cfg.chat_template, &bos, &eos)?;
    let mut texts = Vec::with_capacity(2 * rows.len());
    for r in rows {
        texts.push(render(&template, &eos, &r.context, &r.chosen)?);
        texts.push(render(&template, &eos, &r.context, &r.rejected)?);
    }
    let (s, w) = (strong.score(cfg, &texts)?, weak.score(cfg, &texts)?);
    let r: Vec<f64> = s.iter().zip(&w).map(|((ls, ns), (lw, _))| reward(*ls, *lw, *ns, cfg.normalise)).collect();
    if let Some(i) = r.iter().position(|x| !x.is_finite()) {
        bail!("item {}: the log ratio is not finite ({})", rows[i / 2].prompt_id, r[i]);
    }
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, p)| Item { id: p.prompt_id.clone(), subset: p.subset.clone().unwrap_or_else(|| "all".into()), r_chosen: r[2 * i], r_rejected: r[2 * i + 1] })
        .collect())
}

/// Subset accuracies, RewardBench sections and the length of the preferred answers.
pub fn summarise(cfg: &PaperConfig, rows: &[PreferencePair], items: &[Item]) -> Summary {
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut pref, mut other) = (0.0, 0.0);
    for (it, p) in items.iter().zip(rows) {
        let e = per.entry(it.subset.clone()).or_default();
        e.1 += 1;
        let right = rewardbench::correct(it.r_chosen, it.r_rejected);
        e.0 += usize::from(right);
        let (a, b) = if it.r_chosen >= it.r_rejected { (&p.chosen, &p.rejected) } else { (&p.rejected, &p.chosen) };
        pref += a.chars().count() as f64;
        other += b.chars().count() as f64;
    }
    let subsets: BTreeMap<String, f64> = per.iter().map(|(k, (c, n))| (k.clone(), *c as f64 / *n as f64)).collect();
    let sec = rewardbench::sections(&subsets);
    let overall = rewardbench::overall(&sec);
    let n = items.len().max(1) as f64;
    Summary { setting: cfg.setting.clone(), items: items.len(), subsets, sections: sec.iter().map(|(k, v)| (k.to_string(), *v)).collect(), overall, preferred_chars: pref / n, other_chars: other / n }
}

/// Score, summarise and write `rewardbench.{md,csv}`, `items.csv` and `summary.json` into `out`.
pub fn run(cfg: &PaperConfig, device: Device, out: &Path) -> Result<Summary> {
    let rows = load(cfg)?;
    let items = score(cfg, &rows, device)?;
    let s = summarise(cfg, &rows, &items);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut t = Table::new(format!("RewardBench with r_DR({} over {})", cfg.strong, cfg.weak), &["section / subset", "items", "score %"]);
    for (sec, v) in &s.sections {
        t.push(vec![Cell::text(format!("**{sec}**")), Cell::Missing, Cell::num(*v, 1)]);
    }
    t.push(vec![Cell::text("**overall** (mean of the sections)"), Cell::Int(s.items as i64), Cell::opt(s.overall, 1)]);
    for (sub, acc) in &s.subsets {
        let n = items.iter().filter(|i| &i.subset == sub).count();
        t.push(vec![Cell::text(sub.clone()), Cell::Int(n as i64), Cell::num(100.0 * acc, 1)]);
    }
    t.note(format!("Strict: a tie counts wrong. Sum of log ratios: {:?}; last prompt token in the span: {}; text rendered with the strong model's {:?} template for both models.", cfg.normalise, cfg.include_last_prompt_token, cfg.chat_template));
    t.note(format!("Mean length (characters) of the answer the ratio prefers {:.1}, of the other {:.1}.", s.preferred_chars, s.other_chars));
    t.save(out, "rewardbench")?;
    let header = ["id", "subset", "r_chosen", "r_rejected"].map(String::from).to_vec();
    let csv = shared::stats::files::csv_text(std::iter::once(header).chain(items.iter().map(|i| vec![i.id.clone(), i.subset.clone(), i.r_chosen.to_string(), i.r_rejected.to_string()])));
    shared::io::write_atomic(&out.join("items.csv"), csv.as_bytes())?;
    shared::io::write_json(&out.join("summary.json"), &s)?;
    Ok(s)
}
