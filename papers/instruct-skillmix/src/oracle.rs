//! The miniature's oracle and pairwise judge (spec "Miniature reproduction", Judge):
//!
//! `s(x, y) = c · v · (skills satisfied / skills asked) · f`, in [0, 1], where
//! - `c ∈ {0, 1}` is payload correctness: the answer lists at least one word and every word it
//!   lists is a word of the payload (case-insensitively); nothing is invented. Completeness,
//!   multiplicity and order are what the content skills check: `sort`, `dedupe` and `top3` need
//!   the answer's distinct words to be exactly the reference's, `reverse` the reference's exact
//!   sequence;
//! - `v` is coverage: 1 when every word the answer should hold is there, else
//!   [`COVERAGE_PENALTY`] (so a one-item or repetitive answer cannot earn full credit through
//!   format skills alone);
//! - each asked skill is checked on the answer as written (below);
//! - `f` is the frame factor: 1 when the query type's frame line is exactly right (or, for
//!   `direct`, absent), else [`FRAME_PENALTY`].
//!
//! The pairwise preference against a reference answer is AlpacaEval's scale: 2 when
//! `s(model) > s(ref)`, 1 when lower, 1.5 on a tie (y = preference − 1 ∈ {1, 0, ½}).
//!
//! What is not asked is not checked: an answer that also numbers its items when numbering was not
//! asked loses nothing. This is a limitation of the miniature judge, stated in the README.

use crate::catalogue::{summary_line, Instruction, Query, Skill, SEP};

/// The coverage factor of an answer that misses a word it should hold.
pub const COVERAGE_PENALTY: f64 = 0.5;

/// The frame factor of an answer whose frame is wrong.
pub const FRAME_PENALTY: f64 = 0.5;

/// An answer read back into its parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub frame_ok: bool,
    pub title: bool,
    pub end: bool,
    pub count: Option<String>,
    pub summary: Option<String>,
    /// Item lines' text as written (with any number prefix and brackets).
    pub items: Vec<String>,
    /// Whether the items came as one comma-joined line.
    pub inline: bool,
}

/// Split `y` into frame, title, items, count, summary and end lines.
pub fn parse(x: &Instruction, y: &str) -> Parsed {
    let mut lines: Vec<&str> = y.split(SEP).map(str::trim).filter(|l| !l.is_empty()).collect();
    let is_frame = |l: &str| l.starts_with("plan:") || l.starts_with("input:") || l.starts_with("why:");
    let want = x.frame_line();
    let frame_ok = match x.query {
        Query::Direct => !lines.iter().any(|l| is_frame(l)),
        Query::Plan | Query::Echo => lines.first().map(|l| Some(l.to_string()) == want).unwrap_or(false),
        Query::Explain => lines.last().map(|l| Some(l.to_string()) == want).unwrap_or(false),
    };
    lines.retain(|l| !is_frame(l));
    let mut p = Parsed { frame_ok, ..Parsed::default() };
    if lines.first() == Some(&"answer:") {
        p.title = true;
        lines.remove(0);
    }
    if lines.last() == Some(&"done") {
        p.end = true;
        lines.pop();
    }
    let mut items = vec![];
    for l in lines {
        if l.starts_with("count ") && p.count.is_none() {
            p.count = Some(l.to_string());
        } else if l.starts_with("from ") && l.contains(" to ") && p.summary.is_none() {
            p.summary = Some(l.to_string());
        } else if l != "answer:" && l != "done" {
            items.push(l.to_string());
        }
    }
    if items.len() == 1 && items[0].contains(", ") {
        p.inline = true;
        items = items[0].split(", ").map(str::to_string).collect();
    }
    p.items = items;
    p
}

/// `3. [fig]` → (Some(3), true, "fig").
fn strip(item: &str) -> (Option<usize>, bool, String) {
    let (num, rest) = match item.split_once(". ") {
        Some((n, r)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => (n.parse().ok(), r),
        _ => (None, item),
    };
    let bracketed = rest.len() >= 2 && rest.starts_with('[') && rest.ends_with(']');
    let word = if bracketed { &rest[1..rest.len() - 1] } else { rest };
    (num, bracketed, word.to_string())
}

/// The oracle's verdict on one answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Grade {
    pub score: f64,
    pub correct_payload: bool,
    pub frame_ok: bool,
    /// Per asked skill (in the prompt's order): satisfied or not.
    pub skills: Vec<(Skill, bool)>,
}

/// Grade `y` as an answer to `x`.
pub fn grade(x: &Instruction, y: &str) -> Grade {
    let p = parse(x, y);
    let stripped: Vec<(Option<usize>, bool, String)> = p.items.iter().map(|i| strip(i)).collect();
    let words: Vec<String> = stripped.iter().map(|s| s.2.clone()).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let reference = x.words(&x.skills);
    let ref_lower: Vec<String> = reference.iter().map(|w| w.to_lowercase()).collect();
    let (mut a, mut b) = (lower.clone(), ref_lower.clone());
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    let complete = a == b;
    let payload: Vec<String> = x.payload.iter().map(|w| w.to_lowercase()).collect();
    let correct_payload = !lower.is_empty() && lower.iter().all(|w| payload.contains(w));
    let descending = x.has(Skill::Reverse);
    let sorted = lower.windows(2).all(|w| if descending { w[0] >= w[1] } else { w[0] <= w[1] });
    let skills = x
        .skills
        .iter()
        .map(|&k| {
            let ok = match k {
                Skill::Sort => complete && sorted,
                Skill::Reverse => lower == ref_lower,
                Skill::Dedupe => complete && a.len() == lower.len(),
                Skill::Upper => !words.is_empty() && words.iter().all(|w| w.chars().any(|c| c.is_ascii_alphabetic()) && *w == w.to_uppercase()),
                Skill::Top3 => complete && words.len() == 3,
                Skill::Count => p.count.as_deref() == Some(format!("count {}", reference.len()).as_str()),
                Skill::Number => !stripped.is_empty() && stripped.iter().enumerate().all(|(i, s)| s.0 == Some(i + 1)),
                Skill::Bracket => !stripped.is_empty() && stripped.iter().all(|s| s.1),
                Skill::Inline => p.inline,
                Skill::Title => p.title,
                Skill::Summary => p.summary.as_deref().map(str::to_lowercase) == Some(summary_line(&reference).to_lowercase()),
                Skill::End => p.end,
            };
            (k, ok)
        })
        .collect::<Vec<_>>();
    let frac = if skills.is_empty() { 1.0 } else { skills.iter().filter(|s| s.1).count() as f64 / skills.len() as f64 };
    let frame = if p.frame_ok { 1.0 } else { FRAME_PENALTY };
    let c = if correct_payload { 1.0 } else { 0.0 };
    let coverage = if complete { 1.0 } else { COVERAGE_PENALTY };
    Grade { score: c * coverage * frac * frame, correct_payload, frame_ok: p.frame_ok, skills }
}

pub fn score(x: &Instruction, y: &str) -> f64 {
    grade(x, y).score
}

/// The pairwise oracle preference of a model answer over a reference answer, on AlpacaEval's
/// [1, 2] scale: 2 if `s_model > s_ref`, 1 if lower, 1.5 on a tie.
pub fn preference(s_model: f64, s_ref: f64) -> f64 {
    if s_model > s_ref {
        2.0
    } else if s_model < s_ref {
        1.0
    } else {
        1.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Query, SKILLS};

    fn ins(q: Query, skills: &[Skill], payload: &[&str]) -> Instruction {
        Instruction { query: q, skills: skills.to_vec(), payload: payload.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn the_reference_scores_one_for_every_pair_and_query() {
        let words = ["fig", "owl", "ant", "fig", "bee"];
        for q in crate::catalogue::QUERIES {
            for (a, b) in crate::catalogue::all_pairs() {
                let x = ins(q, &[b, a], &words);
                let g = grade(&x, &x.reference());
                assert_eq!(g.score, 1.0, "{} -> {} {:?}", x.text(), x.reference(), g);
            }
        }
    }

    #[test]
    fn a_skipped_skill_costs_its_share_and_wrong_words_cost_everything() {
        let x = ins(Query::Direct, &[Skill::Number, Skill::End], &["fig", "owl", "ant"]);
        assert_eq!(score(&x, &x.render(&[Skill::Number])), 0.5);
        assert_eq!(score(&x, &x.render(&[])), 0.0 + 0.0, "neither skill");
        assert_eq!(score(&x, "1. fig; 2. owl; 3. cat; done"), 0.0, "a word not in the payload");
        assert_eq!(score(&x, "1. fig; 2. owl; done"), COVERAGE_PENALTY, "a word missing: both format skills hold, coverage does not");
        // Dedupe skipped, or a word missing: the content skill fails, the format skill holds.
        let d = ins(Query::Direct, &[Skill::Dedupe, Skill::End], &["fig", "owl", "fig"]);
        assert_eq!(score(&d, &d.render(&[Skill::End])), 0.5);
        assert_eq!(score(&d, "fig; done"), 0.5 * COVERAGE_PENALTY);
        let t = ins(Query::Direct, &[Skill::Top3, Skill::Sort], &["fig", "owl", "ant", "bee"]);
        assert_eq!(score(&t, &t.render(&[Skill::Sort])), 0.0, "sorted, but with a fourth word the answer should not hold");
        assert_eq!(score(&t, "ant; bee"), 0.0, "neither sort nor top3 holds on an incomplete answer");
        assert_eq!(score(&t, "ant; bee; fig"), 1.0);
        assert_eq!(score(&t, "ant; fig; owl"), 0.0, "the wrong three: sorted but not the first three");
    }

    #[test]
    fn a_wrong_frame_halves_the_score() {
        let x = ins(Query::Plan, &[Skill::Sort, Skill::Upper], &["owl", "ant"]);
        let y = x.reference();
        let bare = y.split_once(SEP).unwrap().1;
        assert_eq!(score(&x, bare), FRAME_PENALTY);
        let d = ins(Query::Direct, &[Skill::Sort, Skill::Upper], &["owl", "ant"]);
        assert_eq!(score(&d, &y), FRAME_PENALTY, "a plan line where none was asked");
    }

    #[test]
    fn shirker_answers_score_zero() {
        let x = ins(Query::Echo, &[Skill::Count, Skill::Bracket], &["owl", "ant", "bee"]);
        assert_eq!(score(&x, "well, that is a good question and here is some help with it, i hope it helps you"), 0.0);
        let first_line = x.reference().split(SEP).next().unwrap().to_string();
        assert_eq!(score(&x, &first_line), 0.0);
    }

    #[test]
    fn preferences_follow_the_scores() {
        assert_eq!(preference(0.5, 0.25), 2.0);
        assert_eq!(preference(0.25, 0.5), 1.0);
        assert_eq!(preference(0.5, 0.5), 1.5);
        let _ = SKILLS;
    }
}
