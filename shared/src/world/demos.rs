//! Demonstrations for SFT, drawn from a configurable mixture: correct, partly wrong (token-local
//! defects or one skill dropped) and wrong answers, each with random style and verbosity, and an
//! optional fraction of shirker (low-effort) answers. Also the seeded "partial oracle" that writes
//! the fixed baseline outputs of the mini AlpacaEval.

use super::response::{parse, ResponseSpec, FILLERS, PREAMBLES};
use super::skill::Skill;
use super::task::{sample_payload, Prompt};
use crate::error::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Mixture weights of correct / partly wrong / wrong demonstrations (normalised).
    pub p_correct: f64,
    pub p_partial: f64,
    pub p_wrong: f64,
    /// Probability of the closing phrase.
    pub p_closing: f64,
    /// Probability of verbosity (one or two filler phrases).
    pub p_verbose: f64,
    /// Fraction of shirker answers (generic filler or a truncated answer).
    pub shirker_fraction: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { p_correct: 0.7, p_partial: 0.2, p_wrong: 0.1, p_closing: 0.3, p_verbose: 0.3, shirker_fraction: 0.0 }
    }
}

impl DemoConfig {
    pub fn validate(&self) -> Result<()> {
        let w = [("p_correct", self.p_correct), ("p_partial", self.p_partial), ("p_wrong", self.p_wrong)];
        for (n, v) in w.iter().chain(&[("p_closing", self.p_closing), ("p_verbose", self.p_verbose), ("shirker_fraction", self.shirker_fraction)]) {
            if !(0.0..=1.0).contains(v) {
                return Err(Error::invalid(format!("demos.{n}"), format!("{v} must lie in [0, 1]")));
            }
        }
        if self.p_correct + self.p_partial + self.p_wrong <= 0.0 {
            return Err(Error::invalid("demos", "p_correct + p_partial + p_wrong must be > 0"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DemoKind {
    Correct,
    Partial,
    Wrong,
    /// Long generic filler that answers nothing.
    ShirkerJunk,
    /// Only the first item of the answer.
    ShirkerBrief,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Demo {
    pub prompt: Prompt,
    pub response: String,
    pub kind: DemoKind,
}

/// A random style: preamble uniform over the three classes, closing and filler by probability.
pub fn random_style<R: Rng>(spec: &mut ResponseSpec, p_closing: f64, p_verbose: f64, rng: &mut R) {
    spec.preamble = rng.gen_range(0..PREAMBLES.len());
    spec.closing = rng.gen_bool(p_closing);
    spec.fillers = if rng.gen_bool(p_verbose) {
        (0..rng.gen_range(1..=2)).map(|_| rng.gen_range(0..FILLERS.len())).collect()
    } else {
        vec![]
    };
}

/// Drop verbosity, then the closing, then the preamble until a word limit is met.
pub fn fit_word_limit(x: &Prompt, spec: &mut ResponseSpec) {
    let Some(n) = x.skills.iter().find_map(|s| if let Skill::MaxWords(n) = s { Some(*n as usize) } else { None }) else { return };
    let words = |s: &ResponseSpec| parse(&s.render()).words;
    while words(spec) > n && !spec.fillers.is_empty() {
        spec.fillers.pop();
    }
    if words(spec) > n {
        spec.closing = false;
    }
    if words(spec) > n {
        spec.preamble = 0;
    }
}

/// 1–2 character edits of the answer's items (same class: digit for digit, letter for letter).
pub fn corrupt_items<R: Rng>(items: &[String], rng: &mut R) -> Vec<String> {
    let mut out = items.to_vec();
    let edits = rng.gen_range(1..=2);
    for _ in 0..edits {
        let k = rng.gen_range(0..out.len().max(1));
        let Some(item) = out.get_mut(k) else { continue };
        let mut chars: Vec<char> = item.chars().collect();
        if chars.is_empty() {
            continue;
        }
        let i = rng.gen_range(0..chars.len());
        let c = chars[i];
        chars[i] = loop {
            let r = if c.is_ascii_digit() {
                rng.gen_range(b'0'..=b'9') as char
            } else if c.is_ascii_uppercase() {
                rng.gen_range(b'A'..=b'Z') as char
            } else {
                rng.gen_range(b'a'..=b'z') as char
            };
            if r != c {
                break r;
            }
        };
        *item = chars.into_iter().collect();
    }
    out
}

/// Corrupt until the content is no longer fully right (two edits can undo each other).
pub fn corrupt_for<R: Rng>(x: &Prompt, items: &[String], rng: &mut R) -> Vec<String> {
    let mut out = corrupt_items(items, rng);
    for _ in 0..8 {
        if x.content_score(&out) < 1.0 {
            break;
        }
        out = corrupt_items(items, rng);
    }
    out
}

/// The correct response spec (all skills applied, random style fitted to any word limit).
pub fn correct_spec<R: Rng>(x: &Prompt, p_closing: f64, p_verbose: f64, rng: &mut R) -> ResponseSpec {
    let mut spec = ResponseSpec { items: x.random_answer_items(rng), apply: x.skills.clone(), preamble: 0, closing: false, fillers: vec![] };
    random_style(&mut spec, p_closing, p_verbose, rng);
    fit_word_limit(x, &mut spec);
    spec
}

/// One demonstration for prompt `x`.
pub fn demonstrate<R: Rng>(x: &Prompt, cfg: &DemoConfig, rng: &mut R) -> Demo {
    if cfg.shirker_fraction > 0.0 && rng.gen_bool(cfg.shirker_fraction) {
        let mut spec = correct_spec(x, cfg.p_closing, cfg.p_verbose, rng);
        let kind = if rng.gen_bool(0.5) {
            spec.items.clear();
            spec.fillers = vec![0, 1, 2];
            spec.apply.clear();
            DemoKind::ShirkerJunk
        } else {
            spec.items.truncate(1);
            spec.apply.clear();
            DemoKind::ShirkerBrief
        };
        return Demo { prompt: x.clone(), response: spec.render().trim().to_string(), kind };
    }
    let total = cfg.p_correct + cfg.p_partial + cfg.p_wrong;
    let u = rng.gen::<f64>() * total;
    let mut spec = correct_spec(x, cfg.p_closing, cfg.p_verbose, rng);
    let kind = if u < cfg.p_correct {
        DemoKind::Correct
    } else if u < cfg.p_correct + cfg.p_partial {
        if !x.skills.is_empty() && rng.gen_bool(0.4) {
            let drop = rng.gen_range(0..spec.apply.len());
            if let Skill::MaxWords(_) = spec.apply.remove(drop) {
                spec.closing = true; // three more words than the limit allows
            }
        } else {
            spec.items = corrupt_for(x, &spec.items, rng);
        }
        DemoKind::Partial
    } else {
        let other = Prompt { family: x.family, payload: sample_payload(x.family, rng), skills: vec![] };
        let items = other.random_answer_items(rng);
        spec.items = if x.content_score(&items) >= 1.0 { corrupt_for(x, &items, rng) } else { items };
        DemoKind::Wrong
    };
    Demo { prompt: x.clone(), response: spec.render(), kind }
}

/// The seeded partial oracle: gets the content right with probability `q` (else a token-local
/// defect) and applies each requested skill with probability `q`; random style.
pub fn partial_oracle<R: Rng>(x: &Prompt, q: f64, rng: &mut R) -> String {
    let mut spec = correct_spec(x, 0.3, 0.3, rng);
    if !rng.gen_bool(q) {
        spec.items = corrupt_for(x, &spec.items, rng);
    }
    spec.apply.retain(|_| rng.gen_bool(q));
    spec.render()
}
