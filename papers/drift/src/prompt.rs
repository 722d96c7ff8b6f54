//! The paper-scale guided-generation prompt (spec step 1, `gen-drift.py`): a plain-text transcript,
//! not the chat template. Lines, joined by newlines:
//!
//! ```text
//! <first system message, if any>
//! User: … / Assistant: …        every turn of x
//! Assistant: <y⁻>
//! User: <f>
//! System: <instruction to improve the response using the feedback>
//! Assistant:                    (the cue, with its trailing space)
//! ```
//!
//! `y⁺` is the decoded continuation after the *last* `"Assistant: "`, whitespace-stripped
//! (pitfall 3: a completion that itself writes the marker is cut there, as upstream does). The
//! instruction line is the config's `improve_instruction`; the default below is written in our own
//! words (upstream's sentence is data and is not copied; it asks the same thing).

use serde::{Deserialize, Serialize};

/// One chat message of the DSAT data (`prompt`, `rejected`, `user_preference` fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// One line of `data/dsat_data.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DsatRecord {
    pub prompt: Vec<Message>,
    pub rejected: Vec<Message>,
    pub user_preference: Vec<Message>,
}

pub const DEFAULT_INSTRUCTION: &str = "The user was not satisfied with the previous answer. Write a better response to the conversation that takes the user's feedback into account.";

pub const MARKER: &str = "Assistant: ";

impl DsatRecord {
    /// Check the record has a prompt, one assistant reply and one user feedback message.
    pub fn validate(&self, line: usize) -> anyhow::Result<()> {
        anyhow::ensure!(!self.prompt.is_empty(), "DSAT record on line {line}: empty `prompt`");
        anyhow::ensure!(self.rejected.len() == 1 && self.rejected[0].role == "assistant", "DSAT record on line {line}: `rejected` must hold exactly one assistant message");
        anyhow::ensure!(self.user_preference.len() == 1 && self.user_preference[0].role == "user", "DSAT record on line {line}: `user_preference` must hold exactly one user message");
        for m in &self.prompt {
            anyhow::ensure!(matches!(m.role.as_str(), "system" | "user" | "assistant"), "DSAT record on line {line}: unknown role {:?}", m.role);
        }
        Ok(())
    }
}

/// The guided prompt of one DSAT record.
pub fn guided_prompt(r: &DsatRecord, instruction: &str) -> String {
    let mut lines = vec![];
    if let Some(sys) = r.prompt.iter().find(|m| m.role == "system") {
        lines.push(sys.content.clone());
    }
    for m in r.prompt.iter().filter(|m| m.role != "system") {
        lines.push(format!("{}: {}", if m.role == "user" { "User" } else { "Assistant" }, m.content));
    }
    lines.push(format!("{MARKER}{}", r.rejected[0].content));
    lines.push(format!("User: {}", r.user_preference[0].content));
    lines.push(format!("System: {instruction}"));
    lines.push(MARKER.to_string());
    lines.join("\n")
}

/// `y⁺`: the text after the last `"Assistant: "` of `prompt + completion`, stripped.
pub fn extract_positive(prompt_and_completion: &str) -> String {
    match prompt_and_completion.rfind(MARKER) {
        Some(i) => prompt_and_completion[i + MARKER.len()..].trim().to_string(),
        None => prompt_and_completion.trim().to_string(),
    }
}

/// Keep the last `max` token ids (pitfall 3: truncate from the left, so the instruction and the
/// final cue survive a long conversation).
pub fn truncate_left(ids: &[i64], max: usize) -> Vec<i64> {
    ids[ids.len().saturating_sub(max)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(system: bool) -> DsatRecord {
        let m = |r: &str, c: &str| Message { role: r.into(), content: c.into() };
        let mut prompt = vec![m("user", "hi"), m("assistant", "hello"), m("user", "sort 3 1 2")];
        if system {
            prompt.insert(0, m("system", "Be brief."));
        }
        DsatRecord { prompt, rejected: vec![m("assistant", "3 1 2")], user_preference: vec![m("user", "that is not sorted")] }
    }

    #[test]
    fn transcript_layout() {
        let p = guided_prompt(&rec(true), "Improve it.");
        assert_eq!(p, "Be brief.\nUser: hi\nAssistant: hello\nUser: sort 3 1 2\nAssistant: 3 1 2\nUser: that is not sorted\nSystem: Improve it.\nAssistant: ");
        assert!(guided_prompt(&rec(false), "I").starts_with("User: hi\n"));
    }

    #[test]
    fn positive_is_after_the_last_marker() {
        let p = guided_prompt(&rec(false), "Improve it.");
        assert_eq!(extract_positive(&format!("{p}  1 2 3 \n")), "1 2 3");
        // A completion that writes the marker itself is cut there (upstream's behaviour).
        assert_eq!(extract_positive(&format!("{p}1 2 3\nAssistant: again")), "again");
    }

    #[test]
    fn left_truncation_keeps_the_cue() {
        assert_eq!(truncate_left(&[1, 2, 3, 4, 5], 3), vec![3, 4, 5]);
        assert_eq!(truncate_left(&[1, 2], 3), vec![1, 2]);
    }

    #[test]
    fn malformed_records_are_named() {
        let mut r = rec(false);
        r.rejected.clear();
        assert!(r.validate(7).unwrap_err().to_string().contains("line 7"));
        let bad: Result<DsatRecord, _> = serde_json::from_str(r#"{"prompt": [{"role": "user"}], "rejected": [], "user_preference": []}"#);
        assert!(bad.is_err());
    }
}
