//! Task families and prompts. A prompt is a family, a payload and a set of format skills,
//! rendered compactly as text (`sort 52 9 71 +comma +bang`). Each family has a canonical answer
//! (a list of items) and a partial-credit content score.

use super::lexicon;
use super::skill::Skill;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Reverse the letters of a word. Partial credit per character.
    Reverse,
    /// Sort numbers ascending. Partial credit per position.
    Sort,
    /// Count a letter in a word. Off by one earns half.
    Count,
    /// Add two numbers. Partial credit per digit (right-aligned).
    Add,
    /// Write the words in capitals. Partial credit per character.
    Upper,
    /// Repeat a word N times. Partial credit per item.
    Repeat,
    /// List N distinct members of a category (open answer).
    List,
    /// Describe a noun with N distinct adjectives from its allowed set (open answer).
    Describe,
}

pub const FAMILIES: [Family; 8] = [
    Family::Reverse,
    Family::Sort,
    Family::Count,
    Family::Add,
    Family::Upper,
    Family::Repeat,
    Family::List,
    Family::Describe,
];

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Reverse => "reverse",
            Family::Sort => "sort",
            Family::Count => "count",
            Family::Add => "add",
            Family::Upper => "upper",
            Family::Repeat => "repeat",
            Family::List => "list",
            Family::Describe => "describe",
        }
    }
    pub fn from_name(s: &str) -> Option<Family> {
        FAMILIES.iter().copied().find(|f| f.name() == s)
    }
    /// Many distinct answers are fully correct.
    pub fn is_open(self) -> bool {
        matches!(self, Family::List | Family::Describe)
    }
    /// The answer is a single item (so list-shaped skills do not apply).
    pub fn single_item(self) -> bool {
        matches!(self, Family::Reverse | Family::Count | Family::Add)
    }
    /// The answer contains letters whose case the `Caps` skill can change.
    pub fn has_letters(self) -> bool {
        matches!(self, Family::Reverse | Family::Repeat | Family::List | Family::Describe)
    }
    /// Whether a skill makes sense for an answer of this family with `n_items` items
    /// (not trivially met, not contradictory).
    pub fn accepts(self, s: Skill, n_items: usize) -> bool {
        match s {
            Skill::Caps => self.has_letters(),
            Skill::Numbered | Skill::Commas => !self.single_item() && n_items >= 2,
            Skill::Bang | Skill::Boxed | Skill::MaxWords(_) => true,
        }
    }
}

/// What the task is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Payload {
    Reverse { word: String },
    Sort { nums: Vec<u32> },
    Count { letter: char, word: String },
    Add { a: u32, b: u32 },
    Upper { words: Vec<String> },
    Repeat { word: String, n: usize },
    List { category: String, n: usize },
    Describe { noun: String, n: usize },
}

/// One instruction of the world.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prompt {
    pub family: Family,
    pub payload: Payload,
    pub skills: Vec<Skill>,
}

impl Prompt {
    /// The prompt as the model sees it, e.g. `sort 52 9 71 +comma +bang`.
    pub fn text(&self) -> String {
        let body = match &self.payload {
            Payload::Reverse { word } => format!("reverse {word}"),
            Payload::Sort { nums } => format!("sort {}", join(nums.iter().map(|n| n.to_string()))),
            Payload::Count { letter, word } => format!("count {letter} in {word}"),
            Payload::Add { a, b } => format!("add {a} {b}"),
            Payload::Upper { words } => format!("upper {}", words.join(" ")),
            Payload::Repeat { word, n } => format!("repeat {word} {n}"),
            Payload::List { category, n } => format!("list {n} {category}"),
            Payload::Describe { noun, n } => format!("describe {noun} {n}"),
        };
        let mut s = body;
        for sk in &self.skills {
            s.push(' ');
            s.push_str(&sk.tag());
        }
        s
    }

    /// Read a prompt back from its [`Prompt::text`] (e.g. what a judge behind an HTTP API sees);
    /// None when the text is not a prompt of this world.
    pub fn parse(text: &str) -> Option<Prompt> {
        let mut words: Vec<&str> = text.split(' ').collect();
        let mut skills = vec![];
        while words.last().is_some_and(|w| w.starts_with('+')) {
            skills.insert(0, Skill::from_tag(words.pop()?)?);
        }
        let (&head, rest) = words.split_first()?;
        let family = Family::from_name(head)?;
        let word = |w: &str| (!w.is_empty()).then(|| w.to_string());
        let payload = match (family, rest) {
            (Family::Reverse, [w]) => Payload::Reverse { word: word(w)? },
            (Family::Sort, nums) if !nums.is_empty() => Payload::Sort { nums: nums.iter().map(|n| n.parse().ok()).collect::<Option<_>>()? },
            (Family::Count, [l, "in", w]) => {
                let mut cs = l.chars();
                let (letter, None) = (cs.next()?, cs.next()) else { return None };
                Payload::Count { letter, word: word(w)? }
            }
            (Family::Add, [a, b]) => Payload::Add { a: a.parse().ok()?, b: b.parse().ok()? },
            (Family::Upper, ws) if !ws.is_empty() => Payload::Upper { words: ws.iter().map(|w| word(w)).collect::<Option<_>>()? },
            (Family::Repeat, [w, n]) => Payload::Repeat { word: word(w)?, n: n.parse().ok()? },
            (Family::List, [n, c]) => Payload::List { category: lexicon::category(c).map(|_| c.to_string())?, n: n.parse().ok()? },
            (Family::Describe, [noun, n]) => Payload::Describe { noun: lexicon::adjectives(noun).map(|_| noun.to_string())?, n: n.parse().ok()? },
            _ => return None,
        };
        Some(Prompt { family, payload, skills })
    }

    /// The canonical correct answer's items (for open families, the first members in lexicon order).
    pub fn answer_items(&self) -> Vec<String> {
        match &self.payload {
            Payload::Reverse { word } => vec![word.chars().rev().collect()],
            Payload::Sort { nums } => {
                let mut v = nums.clone();
                v.sort_unstable();
                v.iter().map(|n| n.to_string()).collect()
            }
            Payload::Count { letter, word } => vec![word.chars().filter(|c| c == letter).count().to_string()],
            Payload::Add { a, b } => vec![(a + b).to_string()],
            Payload::Upper { words } => words.iter().map(|w| w.to_uppercase()).collect(),
            Payload::Repeat { word, n } => vec![word.clone(); *n],
            Payload::List { category, n } => {
                lexicon::category(category).unwrap_or(&[]).iter().take(*n).map(|s| s.to_string()).collect()
            }
            Payload::Describe { noun, n } => {
                lexicon::adjectives(noun).unwrap_or(&[]).iter().take(*n).map(|s| s.to_string()).collect()
            }
        }
    }

    /// A random fully correct answer (differs from the canonical one only for open families).
    pub fn random_answer_items<R: Rng>(&self, rng: &mut R) -> Vec<String> {
        let pick = |set: &[&str], n: usize, rng: &mut R| -> Vec<String> {
            set.choose_multiple(rng, n).map(|s| s.to_string()).collect()
        };
        match &self.payload {
            Payload::List { category, n } => pick(lexicon::category(category).unwrap_or(&[]), *n, rng),
            Payload::Describe { noun, n } => pick(lexicon::adjectives(noun).unwrap_or(&[]), *n, rng),
            _ => self.answer_items(),
        }
    }

    /// Content score in [0, 1] of the answer items `got` (already stripped of format).
    /// Comparison is case-insensitive except for `upper`, whose content is the case.
    pub fn content_score(&self, got: &[String]) -> f64 {
        let lower: Vec<String> = got.iter().map(|s| s.to_lowercase()).collect();
        match &self.payload {
            Payload::Reverse { .. } | Payload::Add { .. } => {
                let want = &self.answer_items()[0];
                let g = lower.join("");
                if matches!(self.payload, Payload::Add { .. }) {
                    char_overlap_right(want, &g)
                } else {
                    char_overlap(want, &g)
                }
            }
            Payload::Upper { .. } => char_overlap(&self.answer_items().join(" "), &got.join(" ")),
            Payload::Sort { .. } | Payload::Repeat { .. } => {
                let want = self.answer_items();
                let hits = want.iter().zip(&lower).filter(|(a, b)| a == b).count();
                hits as f64 / want.len().max(lower.len()).max(1) as f64
            }
            Payload::Count { .. } => {
                let want: i64 = self.answer_items()[0].parse().unwrap_or(0);
                let Some(first) = lower.first().and_then(|s| s.parse::<i64>().ok()) else { return 0.0 };
                let base = match (first - want).abs() {
                    0 => 1.0,
                    1 => 0.5,
                    _ => 0.0,
                };
                base / lower.len() as f64
            }
            Payload::List { category, n } => {
                set_score(lexicon::category(category).unwrap_or(&[]), *n, &lower)
            }
            Payload::Describe { noun, n } => set_score(lexicon::adjectives(noun).unwrap_or(&[]), *n, &lower),
        }
    }
}

fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(" ")
}

/// Position-wise character agreement over the longer string.
fn char_overlap(want: &str, got: &str) -> f64 {
    let (w, g): (Vec<char>, Vec<char>) = (want.chars().collect(), got.chars().collect());
    let hits = w.iter().zip(&g).filter(|(a, b)| a == b).count();
    hits as f64 / w.len().max(g.len()).max(1) as f64
}

/// Digit agreement aligned on the right (units with units).
fn char_overlap_right(want: &str, got: &str) -> f64 {
    let (w, g): (Vec<char>, Vec<char>) = (want.chars().rev().collect(), got.chars().rev().collect());
    let hits = w.iter().zip(&g).filter(|(a, b)| a == b).count();
    hits as f64 / w.len().max(g.len()).max(1) as f64
}

/// Distinct valid members over max(requested, given).
fn set_score(valid: &[&str], n: usize, got: &[String]) -> f64 {
    let mut seen: Vec<&str> = vec![];
    for g in got {
        if valid.contains(&g.as_str()) && !seen.contains(&g.as_str()) {
            seen.push(g);
        }
    }
    seen.len().min(n) as f64 / n.max(got.len()).max(1) as f64
}

/// Draw a payload of the given family.
pub fn sample_payload<R: Rng>(family: Family, rng: &mut R) -> Payload {
    let words = lexicon::words();
    let word = |rng: &mut R| words.choose(rng).unwrap().to_string();
    match family {
        Family::Reverse => Payload::Reverse { word: word(rng) },
        Family::Sort => {
            Payload::Sort { nums: (0..3).map(|_| rng.gen_range(0..100)).collect() }
        }
        Family::Count => {
            let w = word(rng);
            let chars: Vec<char> = w.chars().collect();
            // Half the time ask about a letter that is present, else any letter.
            let letter = if rng.gen_bool(0.7) { *chars.choose(rng).unwrap() } else { rng.gen_range(b'a'..=b'z') as char };
            Payload::Count { letter, word: w }
        }
        Family::Add => Payload::Add { a: rng.gen_range(0..50), b: rng.gen_range(0..50) },
        Family::Upper => Payload::Upper { words: (0..rng.gen_range(1..=2)).map(|_| word(rng)).collect() },
        Family::Repeat => Payload::Repeat { word: word(rng), n: rng.gen_range(2..=3) },
        Family::List => {
            let (c, _) = lexicon::CATEGORIES.choose(rng).unwrap();
            Payload::List { category: c.to_string(), n: rng.gen_range(2..=3) }
        }
        Family::Describe => {
            let (noun, _) = lexicon::NOUNS.choose(rng).unwrap();
            Payload::Describe { noun: noun.to_string(), n: rng.gen_range(1..=2) }
        }
    }
}
