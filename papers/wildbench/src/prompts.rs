//! Prompts for a judge endpoint (spec §3): the checklist-guided pairwise prompt (WB-Reward)
//! and the pointwise scoring prompt (WB-Score), with upstream's 1,000-word cut and the
//! seeded choice of which model is "A". The wording is ours; the structure follows the spec.

use crate::reward::{EMPTY_MARKER, TRUNCATED_SUFFIX};

/// Words kept of history, query and responses (`--max_words_to_eval`; `None` = no cut, as in v2.0625).
pub const MAX_WORDS: usize = 1000;

/// One turn of a conversation.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Turn {
    pub role: String,
    pub content: String,
}

/// A WildBench task: the conversation (the last turn is the current user query) and its checklist.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Task {
    pub session_id: String,
    pub conversation_input: Vec<Turn>,
    pub checklist: Vec<String>,
}

/// Keep the first `max` space-separated words; a cut text gets `... (truncated)` glued to its last word.
pub fn truncate_words(text: &str, max: Option<usize>) -> String {
    let Some(max) = max else { return text.to_string() };
    let words: Vec<&str> = text.split(' ').collect();
    if words.len() <= max {
        return text.to_string();
    }
    format!("{}{TRUNCATED_SUFFIX}", words[..max].join(" "))
}

/// Earlier turns as `USER: …` / `ASSISTANT: …`, and the current query.
pub fn history_and_query(task: &Task, max: Option<usize>) -> (String, String) {
    let (query, earlier) = task.conversation_input.split_last().map(|(q, e)| (q.content.as_str(), e)).unwrap_or(("", &[]));
    let history = earlier
        .iter()
        .map(|t| format!("{}: {}", if t.role == "user" { "USER" } else { "ASSISTANT" }, t.content))
        .collect::<Vec<_>>()
        .join("\n\n");
    (truncate_words(&history, max), truncate_words(query, max))
}

/// The checklist as upstream writes it into the templates: one `- item` line each.
pub fn checklist(task: &Task) -> String {
    task.checklist.iter().map(|c| format!("- {c}")).collect::<Vec<_>>().join("\n")
}

/// A response as the judge is shown it: stripped, cut to `max` words, `empty` when blank.
pub fn shown(response: &str, max: Option<usize>, empty: &str) -> String {
    let r = response.trim();
    if r.is_empty() { empty.to_string() } else { truncate_words(r, max) }
}

fn history_block(history: &str) -> String {
    if history.is_empty() { "(none: this is the first turn)".into() } else { history.to_string() }
}

/// The pairwise judge prompt; its answer is the JSON [`crate::judge_parse::parse_pairwise`] reads.
pub fn pairwise_prompt(task: &Task, response_a: &str, response_b: &str, max: Option<usize>) -> String {
    let (history, query) = history_and_query(task, max);
    format!(
        "You are an expert judge comparing two AI assistant responses to the same user query.\n\n\
         # Conversation so far\n{}\n\n# Current user query\n{query}\n\n\
         # Response A\n{}\n\n# Response B\n{}\n\n\
         # Checklist\nUse these questions to analyse each response; other important aspects count too.\n{}\n\n\
         # How to answer\nFirst analyse Response A and Response B against the checklist. Then give the reason for each \
         possible verdict and pick one:\n\
         - \"A++\": A is clearly better than B\n- \"A+\": A is slightly better than B\n\
         - \"A=B\": same quality (use this rarely)\n- \"B+\": B is slightly better than A\n- \"B++\": B is clearly better than A\n\
         Judge quality, not length: a longer response is not better for being longer.\n\n\
         Reply with one JSON object and nothing else:\n\
         {{\"analysis of A\": \"...\", \"analysis of B\": \"...\", \"reason of A=B\": \"...\", \
         \"reason of A>B\": \"...\", \"reason of B>A\": \"...\", \"choice\": \"A++ | A+ | A=B | B+ | B++\"}}\n",
        history_block(&history),
        shown(response_a, max, EMPTY_MARKER),
        shown(response_b, max, EMPTY_MARKER),
        checklist(task)
    )
}

/// The pointwise scoring prompt (1–10 rubric); its answer is read by [`crate::judge_parse::parse_score`].
pub fn score_prompt(task: &Task, response: &str, max: Option<usize>) -> String {
    let (history, query) = history_and_query(task, max);
    format!(
        "You are an expert judge scoring one AI assistant response to a user query.\n\n\
         # Conversation so far\n{}\n\n# Current user query\n{query}\n\n# Response\n{}\n\n\
         # Checklist\nUse these questions to analyse the response; other important aspects count too.\n{}\n\n\
         # Rubric\n- 1-2: very poor, nonsensical or off-topic\n- 3-4: poor, does not really help the user\n\
         - 5-6: fair but flawed (factual errors, hallucinations, missing key information)\n\
         - 7-8: good, could still be improved\n- 9-10: perfect and genuinely helpful\n\n\
         Reply with one JSON object and nothing else:\n\
         {{\"strengths\": \"...\", \"weaknesses\": \"...\", \"score\": \"1-10\"}}\n",
        history_block(&history),
        shown(response, max, ""),
        checklist(task)
    )
}

/// Python's `random` (MT19937), seeded as `random.seed(42)` for the A/B sides.
pub use shared::eval::pyrandom::PyRandom;

/// For each of `n` tasks in order: is the test model shown as A? (`random.seed(42)`, `random() < 0.5`)
pub fn test_model_is_a(n: usize) -> Vec<bool> {
    let mut rng = PyRandom::new(42);
    (0..n).map(|_| rng.random() < 0.5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_random_seed_42() {
        // CPython: random.seed(42); [random.random() for _ in range(3)]
        let mut r = PyRandom::new(42);
        assert_eq!(r.random(), 0.6394267984578837);
        assert_eq!(r.random(), 0.025010755222666936);
        assert_eq!(r.random(), 0.27502931836911926);
        assert_eq!(test_model_is_a(3), vec![false, true, true]);
    }

    #[test]
    fn truncation_glues_the_suffix() {
        assert_eq!(truncate_words("a b c", Some(2)), "a b... (truncated)");
        assert_eq!(truncate_words("a b", Some(2)), "a b");
        assert_eq!(truncate_words("a b c", None), "a b c");
    }

    fn task() -> Task {
        let t = |r: &str, c: &str| Turn { role: r.into(), content: c.into() };
        Task {
            session_id: "s".into(),
            conversation_input: vec![t("user", "hi"), t("assistant", "hello"), t("user", "sum 2+2")],
            checklist: vec!["Is the answer 4?".into(), "Is it brief?".into()],
        }
    }

    #[test]
    fn prompts_carry_every_part() {
        let p = pairwise_prompt(&task(), "4", "  ", Some(MAX_WORDS));
        for part in ["USER: hi\n\nASSISTANT: hello", "sum 2+2", "# Response A\n4\n", EMPTY_MARKER, "- Is the answer 4?\n- Is it brief?", "\"choice\""] {
            assert!(p.contains(part), "missing {part:?}");
        }
        let s = score_prompt(&task(), "four", None);
        assert!(s.contains("# Response\nfour\n") && s.contains("\"score\"") && s.contains("- Is it brief?"));
    }
}
