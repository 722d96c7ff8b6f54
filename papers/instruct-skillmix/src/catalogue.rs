//! The miniature's skill and query-type catalogue: what the paper's teacher "lists" when asked
//! which skills instruction following needs and which kinds of query users send (spec Stage 1).
//!
//! It lives in this crate and only *reads* the world (its lexicon's words, its character
//! tokenizer's alphabet): no draw, score or output of `shared::world` changes, so every other
//! paper's results and cached bases stay valid.
//!
//! An instruction is (query type, skills, payload) rendered as one line of text,
//! `plan sort count: fig owl ant fig`; its reference response is the teacher's correct, complete
//! composition of the skills on the payload, in the frame the query type asks for. Lines of a
//! response are joined by `"; "` (the world's alphabet is printable ASCII, no newline).

use serde::{Deserialize, Serialize};

/// The twelve atomic skills: five operations on the payload's words, seven format constraints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Skill {
    /// Sort the words alphabetically.
    Sort,
    /// Reverse the order (after sorting, when both are asked: descending).
    Reverse,
    /// Drop repeated words (first occurrence kept).
    Dedupe,
    /// Upper-case every word.
    Upper,
    /// Keep only the first three words.
    Top3,
    /// Add a line `count N` (N = words in the answer).
    Count,
    /// Number the items `1. `, `2. `, ...
    Number,
    /// Wrap every item in brackets `[w]`.
    Bracket,
    /// All items on one line, joined by `, `.
    Inline,
    /// A first line `answer:`.
    Title,
    /// A summary line `from <first> to <last>`.
    Summary,
    /// A last line `done`.
    End,
}

/// The catalogue in its canonical order (the order in which a composition applies the skills).
pub const SKILLS: [Skill; 12] = [
    Skill::Dedupe,
    Skill::Sort,
    Skill::Reverse,
    Skill::Top3,
    Skill::Upper,
    Skill::Number,
    Skill::Bracket,
    Skill::Inline,
    Skill::Title,
    Skill::Count,
    Skill::Summary,
    Skill::End,
];

impl Skill {
    pub fn name(self) -> &'static str {
        match self {
            Skill::Sort => "sort",
            Skill::Reverse => "reverse",
            Skill::Dedupe => "dedupe",
            Skill::Upper => "upper",
            Skill::Top3 => "top3",
            Skill::Count => "count",
            Skill::Number => "number",
            Skill::Bracket => "bracket",
            Skill::Inline => "inline",
            Skill::Title => "title",
            Skill::Summary => "summary",
            Skill::End => "end",
        }
    }

    pub fn from_name(s: &str) -> Option<Skill> {
        SKILLS.iter().copied().find(|k| k.name() == s)
    }

    /// Position in the canonical order.
    pub fn rank(self) -> usize {
        SKILLS.iter().position(|&k| k == self).unwrap_or(usize::MAX)
    }
}

/// The four query types: they change the frame around the answer, not the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Query {
    /// The bare answer.
    Direct,
    /// A first line `plan: <skills>`, then the answer.
    Plan,
    /// The answer, then a last line `why: <skills>`.
    Explain,
    /// A first line `input: <payload>`, then the answer.
    Echo,
}

pub const QUERIES: [Query; 4] = [Query::Direct, Query::Plan, Query::Explain, Query::Echo];

impl Query {
    pub fn name(self) -> &'static str {
        match self {
            Query::Direct => "direct",
            Query::Plan => "plan",
            Query::Explain => "explain",
            Query::Echo => "echo",
        }
    }
}

/// Line separator of a response.
pub const SEP: &str = "; ";

/// One instruction: a query type, its skills (in the order the prompt names them) and a payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instruction {
    pub query: Query,
    pub skills: Vec<Skill>,
    pub payload: Vec<String>,
}

impl Instruction {
    /// The prompt text, e.g. `plan sort count: fig owl ant fig`.
    pub fn text(&self) -> String {
        let mut s = self.query.name().to_string();
        for k in &self.skills {
            s.push(' ');
            s.push_str(k.name());
        }
        s.push_str(": ");
        s.push_str(&self.payload.join(" "));
        s
    }

    pub fn has(&self, k: Skill) -> bool {
        self.skills.contains(&k)
    }

    /// The skills in canonical order (how the frame lines list them).
    pub fn canonical(&self) -> Vec<Skill> {
        let mut v = self.skills.clone();
        v.sort_by_key(|k| k.rank());
        v
    }

    /// The frame line a query type puts first (`plan`, `echo`) or last (`explain`).
    pub fn frame_line(&self) -> Option<String> {
        let names = || self.canonical().iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
        match self.query {
            Query::Direct => None,
            Query::Plan => Some(format!("plan: {}", names())),
            Query::Explain => Some(format!("why: {}", names())),
            Query::Echo => Some(format!("input: {}", self.payload.join(" "))),
        }
    }

    /// The answer's words after the operations among `done` (dedupe, sort, reverse, top3, upper).
    pub fn words(&self, done: &[Skill]) -> Vec<String> {
        let on = |k| done.contains(&k);
        let mut w = self.payload.clone();
        if on(Skill::Dedupe) {
            let mut seen = std::collections::HashSet::new();
            w.retain(|x| seen.insert(x.to_lowercase()));
        }
        if on(Skill::Sort) {
            w.sort();
        }
        if on(Skill::Reverse) {
            w.reverse();
        }
        if on(Skill::Top3) {
            w.truncate(3);
        }
        if on(Skill::Upper) {
            w = w.iter().map(|x| x.to_uppercase()).collect();
        }
        w
    }

    /// The response that executes exactly the skills in `done` (the teacher passes all of them;
    /// the partial oracle a random subset), always in the right frame.
    pub fn render(&self, done: &[Skill]) -> String {
        let on = |k| done.contains(&k);
        let words = self.words(done);
        let items: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let w = if on(Skill::Bracket) { format!("[{w}]") } else { w.clone() };
                if on(Skill::Number) {
                    format!("{}. {w}", i + 1)
                } else {
                    w
                }
            })
            .collect();
        let mut lines = vec![];
        if matches!(self.query, Query::Plan | Query::Echo) {
            lines.extend(self.frame_line());
        }
        if on(Skill::Title) {
            lines.push("answer:".to_string());
        }
        if on(Skill::Inline) {
            lines.push(items.join(", "));
        } else {
            lines.extend(items);
        }
        if on(Skill::Count) {
            lines.push(format!("count {}", words.len()));
        }
        if on(Skill::Summary) {
            lines.push(summary_line(&words));
        }
        if on(Skill::End) {
            lines.push("done".to_string());
        }
        if self.query == Query::Explain {
            lines.extend(self.frame_line());
        }
        lines.join(SEP)
    }

    /// The teacher's reference response: every asked skill executed.
    pub fn reference(&self) -> String {
        self.render(&self.skills)
    }
}

/// `from <first> to <last>` of the answer's words.
pub fn summary_line(words: &[String]) -> String {
    match (words.first(), words.last()) {
        (Some(a), Some(b)) => format!("from {a} to {b}"),
        _ => "from to".to_string(),
    }
}

/// Payload words: the world lexicon's words of at most `max_len` letters (short words keep a
/// prompt and its answer inside the tiny model's 128 positions).
pub fn payload_words(max_len: usize) -> Vec<&'static str> {
    shared::world::lexicon::words().into_iter().filter(|w| w.len() <= max_len).collect()
}

/// All unordered skill pairs of the catalogue, as positions in [`SKILLS`]: C(12, 2) = 66.
pub fn all_pairs() -> Vec<(Skill, Skill)> {
    let mut v = vec![];
    for i in 0..SKILLS.len() {
        for j in i + 1..SKILLS.len() {
            v.push((SKILLS[i], SKILLS[j]));
        }
    }
    v
}

/// An unordered pair key.
pub fn pair_key(a: Skill, b: Skill) -> (Skill, Skill) {
    if a.rank() <= b.rank() {
        (a, b)
    } else {
        (b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(q: Query, skills: &[Skill], payload: &[&str]) -> Instruction {
        Instruction { query: q, skills: skills.to_vec(), payload: payload.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn twelve_skills_four_queries_sixty_six_pairs() {
        assert_eq!(SKILLS.len(), 12);
        assert_eq!(QUERIES.len(), 4);
        assert_eq!(all_pairs().len(), 66, "spec test vector 7: C(12, 2) = 66");
        for k in SKILLS {
            assert_eq!(Skill::from_name(k.name()), Some(k));
        }
    }

    #[test]
    fn references_compose_in_canonical_order() {
        let x = ins(Query::Plan, &[Skill::Reverse, Skill::Sort], &["fig", "owl", "ant", "fig"]);
        assert_eq!(x.text(), "plan reverse sort: fig owl ant fig");
        assert_eq!(x.reference(), "plan: sort, reverse; owl; fig; fig; ant");
        let y = ins(Query::Explain, &[Skill::Dedupe, Skill::Number], &["fig", "owl", "fig"]);
        assert_eq!(y.reference(), "1. fig; 2. owl; why: dedupe, number");
        let z = ins(Query::Echo, &[Skill::Inline, Skill::Bracket, Skill::Count], &["cat", "dog"]);
        assert_eq!(z.reference(), "input: cat dog; [cat], [dog]; count 2");
        let w = ins(Query::Direct, &[Skill::Top3, Skill::Upper, Skill::Summary, Skill::Title, Skill::End], &["b", "c", "a", "d"]);
        assert_eq!(w.reference(), "answer:; B; C; A; from B to A; done");
    }

    #[test]
    fn every_character_is_in_the_world_alphabet() {
        let alphabet = shared::world::tokenizer::alphabet();
        let words = payload_words(4);
        assert!(words.len() >= 20, "{words:?}");
        let x = ins(Query::Plan, &SKILLS, &words[..4]);
        for c in x.text().chars().chain(x.reference().chars()).chain(ins(Query::Echo, &SKILLS, &words[..4]).reference().chars()) {
            assert!(alphabet.contains(&c), "{c:?}");
        }
    }
}
