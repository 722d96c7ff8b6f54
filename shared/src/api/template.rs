//! Judge prompt templates as upstream fills them, and the inverse (a judge reading its fields
//! back out of a filled prompt).
//!
//! - AlpacaEval (`utils.make_prompts`): placeholders are `{name}` with no whitespace inside;
//!   for each name, in order of first appearance, the *first* occurrence is replaced (not
//!   `str.format`, so literal braces in the template stay). The filled text is a ChatML-like
//!   string that `prompt_to_chatml` turns into messages.
//! - WildBench (`src/eval.py`): `{$name}` placeholders, every occurrence replaced (`str.replace`).

use super::types::ChatMessage;
use crate::error::{Error, Result};

/// The `{name}` placeholders of an AlpacaEval template, in order of first appearance
/// (upstream's regex `{([^ \s]+?)}`).
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            let rest = &template[i + 1..];
            if let Some(end) = rest.find(|c: char| c == '}' || c.is_whitespace()) {
                if end > 0 && rest[end..].starts_with('}') {
                    let name = &rest[..end];
                    if !name.contains('{') && !out.iter().any(|n| n == name) {
                        out.push(name.to_string());
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// Fill an AlpacaEval template: each placeholder's first occurrence, in order of appearance.
/// A placeholder without a value is an error naming it.
pub fn fill_first(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = template.to_string();
    for name in placeholders(template) {
        let Some((_, v)) = values.iter().find(|(k, _)| *k == name) else {
            return Err(Error::invalid("prompt template", format!("has a placeholder {{{name}}} but no value was given for it")));
        };
        out = out.replacen(&format!("{{{name}}}"), v, 1);
    }
    Ok(out)
}

/// Fill a WildBench template: every occurrence of each `{$name}`.
pub fn fill_all(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{${k}}}"), v);
    }
    out
}

/// Upstream's `prompt_to_chatml`: `<|im_start|>role\ncontent<|im_end|>` blocks to messages,
/// contents stripped. A `system name=...` role becomes `system` (the name is dropped).
pub fn prompt_to_chatml(prompt: &str) -> Result<Vec<ChatMessage>> {
    const START: &str = "<|im_start|>";
    const END: &str = "<|im_end|>";
    let p = prompt.trim();
    if !p.starts_with(START) || !p.ends_with(END) {
        return Err(Error::invalid("prompt template", "a ChatML prompt must start with <|im_start|> and end with <|im_end|>"));
    }
    let mut out = vec![];
    for block in p.split(START).skip(1) {
        let (role, rest) = block.split_once('\n').unwrap_or((block, ""));
        let content = rest.split(END).next().unwrap_or("").trim();
        let role = role.trim();
        let role = if role.starts_with("system") { "system" } else { role };
        out.push(ChatMessage::new(role, content));
    }
    Ok(out)
}

/// Read the values back out of a filled template: `marks` are the placeholder strings as they
/// appear in `template` (e.g. `{instruction}` or `{$history}`). The literal text between them
/// must match; a value runs to the next literal's first occurrence (the last one to the final
/// literal at the end). None when `text` was not made from `template`.
pub fn unfill(template: &str, marks: &[&str], text: &str) -> Option<Vec<(String, String)>> {
    // Split the template into literal, mark, literal, mark, ..., literal.
    let mut pieces: Vec<(usize, &str)> = vec![];
    for m in marks {
        let mut from = 0;
        while let Some(i) = template[from..].find(m) {
            pieces.push((from + i, m));
            from += i + m.len();
        }
    }
    pieces.sort();
    let mut literals = vec![];
    let mut at = 0;
    for (i, m) in &pieces {
        if *i < at {
            return None; // overlapping marks
        }
        literals.push(&template[at..*i]);
        at = i + m.len();
    }
    literals.push(&template[at..]);
    let mut pos = text.strip_prefix(literals[0]).map(|_| literals[0].len())?;
    let mut out: Vec<(String, String)> = vec![];
    for (j, (_, m)) in pieces.iter().enumerate() {
        let next = literals[j + 1];
        let value = if j + 1 == pieces.len() {
            let end = text.len().checked_sub(next.len())?;
            if end < pos || !text.ends_with(next) {
                return None;
            }
            &text[pos..end]
        } else {
            let k = text[pos..].find(next)?;
            &text[pos..pos + k]
        };
        let name = m.to_string();
        match out.iter().find(|(n, _)| *n == name) {
            Some((_, v)) if v != value => return None,
            Some(_) => {}
            None => out.push((name, value.to_string())),
        }
        pos += value.len() + next.len();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "<|im_start|>system\nBe fair.\n<|im_end|>\n<|im_start|>user\n{\n  \"instruction\": \"\"\"{instruction}\"\"\",\n}\nA: {output_1}\nB: {output_2}\n<|im_end|>";

    #[test]
    fn placeholders_skip_literal_braces() {
        assert_eq!(placeholders(T), vec!["instruction", "output_1", "output_2"]);
        assert_eq!(placeholders("{a} { b } {a} {c d}"), vec!["a"]);
    }

    #[test]
    fn fill_replaces_first_occurrences_in_order_and_needs_every_value() {
        let f = fill_first(T, &[("instruction", "say {output_1}"), ("output_1", "x"), ("output_2", "y")]).unwrap();
        // As upstream: the instruction's own "{output_1}" is the first occurrence after filling.
        assert!(f.contains("say x") && f.contains("A: {output_1}") && f.contains("B: y"), "{f}");
        let e = fill_first(T, &[("instruction", "i")]).unwrap_err().to_string();
        assert!(e.contains("{output_1}"), "{e}");
        assert_eq!(fill_all("{$a}-{$b}-{$a}", &[("a", "1"), ("b", "2")]), "1-2-1");
    }

    #[test]
    fn chatml_to_messages_and_back_out() {
        let f = fill_first(T, &[("instruction", "reverse cat"), ("output_1", "tac"), ("output_2", "cat!")]).unwrap();
        let m = prompt_to_chatml(&f).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].role.as_str(), m[0].text().unwrap().as_str()), ("system", "Be fair."));
        let tm = prompt_to_chatml(T).unwrap();
        let got = unfill(&tm[1].text().unwrap(), &["{instruction}", "{output_1}", "{output_2}"], &m[1].text().unwrap()).unwrap();
        assert_eq!(got, vec![("{instruction}".into(), "reverse cat".into()), ("{output_1}".into(), "tac".into()), ("{output_2}".into(), "cat!".into())]);
        assert!(unfill(&tm[1].text().unwrap(), &["{instruction}"], "something else").is_none());
        assert!(prompt_to_chatml("no chatml").is_err());
    }
}
