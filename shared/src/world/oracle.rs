//! The oracle r*(x, y): true quality in [0, 1]. Correctness of the content with partial credit,
//! the requested skills, small style terms; length as such earns nothing (filler costs a little).
//!
//!   task  = content * (1 - w_skill) + w_skill * (skills met / skills asked)   (content alone if none asked)
//!   r*    = clamp((1 - w_style) * task + w_style * [preamble == preferred] - filler_penalty * #fillers, 0, 1)

use super::response::{parse, Parsed};
use super::task::{Family, Prompt};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleConfig {
    /// Weight of the skills inside the task term.
    pub skill_weight: f64,
    /// Weight of the style term (the preferred preamble).
    pub style_weight: f64,
    /// The preamble (style class 0, 1 or 2) the oracle prefers.
    pub preferred_style: usize,
    /// Subtracted per filler phrase.
    pub filler_penalty: f64,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig { skill_weight: 0.4, style_weight: 0.1, preferred_style: 1, filler_penalty: 0.03 }
    }
}

impl OracleConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("skill_weight", self.skill_weight), ("style_weight", self.style_weight), ("filler_penalty", self.filler_penalty)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(format!("oracle.{name}"), format!("{v} must lie in [0, 1]")));
            }
        }
        if self.preferred_style > 2 {
            return Err(Error::invalid("oracle.preferred_style", "must be 0, 1 or 2"));
        }
        Ok(())
    }
}

/// Why a response falls short (the simulated user's feedback is built from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Ok,
    Empty,
    NotReversed,
    NotSorted,
    WrongCount,
    WrongSum,
    NotUpper,
    WrongItems,
    BadFormat,
    TooWordy,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Ok => "ok",
            ErrorKind::Empty => "empty",
            ErrorKind::NotReversed => "not-reversed",
            ErrorKind::NotSorted => "not-sorted",
            ErrorKind::WrongCount => "wrong-count",
            ErrorKind::WrongSum => "wrong-sum",
            ErrorKind::NotUpper => "not-upper",
            ErrorKind::WrongItems => "wrong-items",
            ErrorKind::BadFormat => "bad-format",
            ErrorKind::TooWordy => "too-wordy",
        }
    }
}

/// The oracle's full verdict on one response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// r*(x, y) in [0, 1].
    pub score: f64,
    /// Content correctness in [0, 1] (partial credit).
    pub content: f64,
    pub skills_met: usize,
    pub skills_asked: usize,
    /// Content fully right and every skill met: the "accuracy" of tables.
    pub correct: bool,
    /// Style class st(y) in {0, 1, 2}.
    pub style: usize,
    pub fillers: usize,
    /// Characters in the response.
    pub length: usize,
    pub error: ErrorKind,
    pub parsed: Parsed,
}

#[derive(Clone, Debug, Default)]
pub struct Oracle {
    pub cfg: OracleConfig,
}

impl Oracle {
    pub fn new(cfg: OracleConfig) -> Self {
        Oracle { cfg }
    }

    /// r*(x, y).
    pub fn score(&self, x: &Prompt, y: &str) -> f64 {
        self.grade(x, y).score
    }

    pub fn grade(&self, x: &Prompt, y: &str) -> Grade {
        let p = parse(y);
        let content = x.content_score(&p.items);
        let skills_asked = x.skills.len();
        let skills_met = x.skills.iter().filter(|s| p.meets(**s)).count();
        let task = if skills_asked == 0 {
            content
        } else {
            content * (1.0 - self.cfg.skill_weight) + self.cfg.skill_weight * skills_met as f64 / skills_asked as f64
        };
        let style_ok = if p.preamble == self.cfg.preferred_style { 1.0 } else { 0.0 };
        let score = ((1.0 - self.cfg.style_weight) * task + self.cfg.style_weight * style_ok
            - self.cfg.filler_penalty * p.fillers as f64)
            .clamp(0.0, 1.0);
        let correct = content >= 1.0 && skills_met == skills_asked;
        let error = if p.items.is_empty() {
            ErrorKind::Empty
        } else if content < 1.0 {
            match x.family {
                Family::Reverse => ErrorKind::NotReversed,
                Family::Sort => ErrorKind::NotSorted,
                Family::Count => ErrorKind::WrongCount,
                Family::Add => ErrorKind::WrongSum,
                Family::Upper => ErrorKind::NotUpper,
                Family::Repeat | Family::List | Family::Describe => ErrorKind::WrongItems,
            }
        } else if skills_met < skills_asked {
            ErrorKind::BadFormat
        } else if p.fillers > 0 {
            ErrorKind::TooWordy
        } else {
            ErrorKind::Ok
        };
        Grade { score, content, skills_met, skills_asked, correct, style: p.preamble, fillers: p.fillers, length: p.chars, error, parsed: p }
    }
}
