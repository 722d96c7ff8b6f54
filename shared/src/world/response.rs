//! Responses: content (the answer's items, formatted by the skills it applies), an optional style
//! (a preamble whose variant is the response's style class, an optional closing) and optional
//! verbosity (filler phrases that add length but no quality). Rendering and parsing are inverses.

use super::skill::Skill;
use serde::{Deserialize, Serialize};

/// Preamble variants; the index is the style class `st(y)` in {0, 1, 2}.
pub const PREAMBLES: [&str; 3] = ["", "sure: ", "ok: "];
/// The optional closing.
pub const CLOSING: &str = " hope it helps";
/// Filler phrases (verbosity without content).
pub const FILLERS: [&str; 3] = [" as asked", " i think", " to be clear"];

/// How to write a response; [`ResponseSpec::render`] turns it into text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseSpec {
    /// The answer's items, before formatting.
    pub items: Vec<String>,
    /// Format skills applied to the answer (others are left out).
    pub apply: Vec<Skill>,
    /// Style class: index into [`PREAMBLES`].
    pub preamble: usize,
    pub closing: bool,
    /// Indices into [`FILLERS`], in order.
    pub fillers: Vec<usize>,
}

impl ResponseSpec {
    pub fn render(&self) -> String {
        let has = |s: Skill| self.apply.iter().any(|a| a.same_kind(s));
        let mut items: Vec<String> = self.items.clone();
        if has(Skill::Caps) {
            items = items.iter().map(|i| i.to_uppercase()).collect();
        }
        if has(Skill::Numbered) {
            items = items.iter().enumerate().map(|(k, i)| format!("{}.{i}", k + 1)).collect();
        }
        let mut core = items.join(if has(Skill::Commas) { ", " } else { " " });
        if has(Skill::Boxed) {
            core = format!("[{core}]");
        }
        let mut s = String::from(PREAMBLES[self.preamble.min(2)]);
        s.push_str(&core);
        for &f in &self.fillers {
            s.push_str(FILLERS[f % FILLERS.len()]);
        }
        if self.closing {
            s.push_str(CLOSING);
        }
        if has(Skill::Bang) {
            s.push('!');
        }
        s
    }
}

/// What the oracle reads off a response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parsed {
    pub preamble: usize,
    pub closing: bool,
    pub fillers: usize,
    pub bang: bool,
    pub boxed: bool,
    /// Items are numbered 1., 2., ... in order.
    pub numbered: bool,
    /// Two or more items, all separated by ", ".
    pub commas: bool,
    /// The answer has letters and all are capitals.
    pub caps: bool,
    /// The answer's items, with numbering and brackets removed.
    pub items: Vec<String>,
    /// Whitespace-separated words in the whole response.
    pub words: usize,
    /// Characters in the whole response.
    pub chars: usize,
}

/// Parse any string (model output included) into its parts. Never fails: junk parses to junk.
pub fn parse(text: &str) -> Parsed {
    let words = text.split_whitespace().count();
    let chars = text.chars().count();
    let mut s = text.trim_end().to_string();
    let bang = s.ends_with('!');
    if bang {
        s.pop();
    }
    let closing = s.ends_with(CLOSING);
    if closing {
        s.truncate(s.len() - CLOSING.len());
    }
    let mut fillers = 0;
    for f in FILLERS {
        while let Some(pos) = s.find(f) {
            s.replace_range(pos..pos + f.len(), "");
            fillers += 1;
        }
    }
    let mut preamble = 0;
    for (k, p) in PREAMBLES.iter().enumerate().skip(1) {
        if let Some(rest) = s.strip_prefix(p) {
            preamble = k;
            s = rest.to_string();
            break;
        }
    }
    let core = s.trim();
    let boxed = core.len() >= 2 && core.starts_with('[') && core.ends_with(']');
    let inner = if boxed { &core[1..core.len() - 1] } else { core };
    let parts: Vec<&str> = inner.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()).collect();
    let commas = parts.len() >= 2 && inner.split(", ").count() == parts.len();
    let mut numbered = !parts.is_empty();
    let mut items = Vec::with_capacity(parts.len());
    for (k, p) in parts.iter().enumerate() {
        let prefix = format!("{}.", k + 1);
        match p.strip_prefix(&prefix) {
            Some(rest) if !rest.is_empty() => items.push(rest.to_string()),
            _ => {
                numbered = false;
                items.push(p.to_string());
            }
        }
    }
    if !numbered {
        items = parts.iter().map(|p| p.to_string()).collect();
    }
    let letters: Vec<char> = items.iter().flat_map(|i| i.chars()).filter(|c| c.is_alphabetic()).collect();
    let caps = !letters.is_empty() && letters.iter().all(|c| c.is_uppercase());
    Parsed { preamble, closing, fillers, bang, boxed, numbered, commas, caps, items, words, chars }
}

impl Parsed {
    /// Whether the response meets one skill.
    pub fn meets(&self, skill: Skill) -> bool {
        match skill {
            Skill::Caps => self.caps,
            Skill::Bang => self.bang,
            Skill::Numbered => self.numbered,
            Skill::Boxed => self.boxed,
            Skill::Commas => self.commas,
            Skill::MaxWords(n) => self.words <= n as usize && self.words > 0,
        }
    }
}
