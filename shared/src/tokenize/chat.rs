//! Chat templates of the supported families, rendered in Rust: Llama-3, ChatML (Qwen2),
//! Mistral (instruct v0.1/v0.2), the SimPO authors' replacement Mistral template, Zephyr and
//! Gemma. Each renders exactly what transformers' `apply_chat_template` renders with the family's
//! Jinja template (checked against it in the parity tests), and [`ChatTemplate::render_split`]
//! exposes the prompt/response boundary. [`ChatTemplate::maybe_insert_system_message`] adds the
//! empty system turn alignment-handbook (and the SimPO repo's `run_simpo.py`) inserts.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
    pub fn system(c: impl Into<String>) -> Self {
        Self::new("system", c)
    }
    pub fn user(c: impl Into<String>) -> Self {
        Self::new("user", c)
    }
    pub fn assistant(c: impl Into<String>) -> Self {
        Self::new("assistant", c)
    }
}

/// The template families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `<|start_header_id|>role<|end_header_id|>\n\n{content|trim}<|eot_id|>`, BOS before the first turn.
    Llama3,
    /// `<|im_start|>role\n{content}<|im_end|>\n`, with an optional default system turn (Qwen2).
    ChatMl,
    /// `{bos}[INST] {user} [/INST]{assistant}{eos}`; a system turn is folded into the first user turn.
    Mistral,
    /// The template `run_simpo.py` swaps in for every model path containing "mistral" (SimPO issue
    /// #26): no BOS (the trainer adds it), `[INST] {strip(system + "\n\n" + user)} [/INST]` for the
    /// first user turn, `[INST] {strip(user)} [/INST]` after, ` {strip(assistant)} {eos}` for answers.
    MistralSimpo,
    /// `<|role|>\n{content}{eos}\n`.
    Zephyr,
    /// `{bos}` then `<start_of_turn>{user|model}\n{content|trim}<end_of_turn>\n`; no system role.
    Gemma,
}

/// Where the response span starts in a (prompt, response) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseSpan {
    /// The assistant header belongs to the response (SimPO / alignment-handbook: the response is
    /// the template applied to the single assistant message).
    WithHeader,
    /// The prompt ends with the generation prompt; the response is content + end of turn.
    ContentOnly,
}

/// A family's template with the tokenizer's special-token strings filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatTemplate {
    pub family: Family,
    pub bos: String,
    pub eos: String,
    /// ChatML: the system turn inserted when the conversation has none (Qwen2's "You are a helpful assistant.").
    pub default_system: Option<String>,
}

impl ChatTemplate {
    pub fn new(family: Family, bos: &str, eos: &str) -> Self {
        Self { family, bos: bos.into(), eos: eos.into(), default_system: None }
    }

    /// By name: `llama3`, `chatml`, `qwen2` (ChatML with Qwen2's default system turn), `mistral`,
    /// `mistral-simpo` (the SimPO authors' replacement), `zephyr`, `gemma`.
    pub fn from_name(name: &str, bos: &str, eos: &str) -> Result<Self> {
        let fam = match name {
            "llama3" | "llama-3" => Family::Llama3,
            "chatml" | "qwen2" => Family::ChatMl,
            "mistral" => Family::Mistral,
            "mistral-simpo" => Family::MistralSimpo,
            "zephyr" => Family::Zephyr,
            "gemma" | "gemma2" => Family::Gemma,
            other => {
                return Err(Error::invalid(
                    "chat template",
                    format!("{other:?} is not one of llama3, chatml, qwen2, mistral, mistral-simpo, zephyr, gemma"),
                ))
            }
        };
        let mut t = Self::new(fam, bos, eos);
        if name == "qwen2" {
            t.default_system = Some("You are a helpful assistant.".into());
        }
        Ok(t)
    }

    /// Recognise the family of a Jinja `chat_template` (from `tokenizer_config.json`).
    pub fn detect(jinja: &str, bos: &str, eos: &str) -> Result<Self> {
        let fam = if jinja.contains("<|start_header_id|>") {
            Family::Llama3
        } else if jinja.contains("<|im_start|>") {
            Family::ChatMl
        } else if jinja.contains("[INST]") {
            Family::Mistral
        } else if jinja.contains("<|assistant|>") {
            Family::Zephyr
        } else if jinja.contains("<start_of_turn>") {
            Family::Gemma
        } else {
            return Err(Error::invalid(
                "chat_template",
                "is not a Llama-3, ChatML/Qwen2, Mistral, Zephyr or Gemma template; name one explicitly",
            ));
        };
        let mut t = Self::new(fam, bos, eos);
        if fam == Family::ChatMl {
            t.default_system = default_system_of(jinja);
        }
        Ok(t)
    }

    /// What `add_generation_prompt=True` appends: the assistant header.
    pub fn generation_prompt(&self) -> &'static str {
        match self.family {
            Family::Llama3 => "<|start_header_id|>assistant<|end_header_id|>\n\n",
            Family::ChatMl => "<|im_start|>assistant\n",
            Family::Mistral | Family::MistralSimpo => "",
            Family::Zephyr => "<|assistant|>\n",
            Family::Gemma => "<start_of_turn>model\n",
        }
    }

    /// The text transformers' `apply_chat_template(messages, add_generation_prompt=...)` renders.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        for (i, m) in messages.iter().enumerate() {
            if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
                return Err(Error::invalid(format!("message {i}"), format!("role {:?} is not system, user or assistant", m.role)));
            }
        }
        let mut out = String::new();
        match self.family {
            Family::Llama3 => {
                for (i, m) in messages.iter().enumerate() {
                    if i == 0 {
                        out.push_str(&self.bos);
                    }
                    out.push_str(&format!("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", m.role, m.content.trim()));
                }
            }
            Family::ChatMl => {
                if let (Some(sys), Some(first)) = (&self.default_system, messages.first()) {
                    if first.role != "system" {
                        out.push_str(&format!("<|im_start|>system\n{sys}<|im_end|>\n"));
                    }
                }
                for m in messages {
                    out.push_str(&format!("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content));
                }
            }
            Family::Mistral => {
                out.push_str(&self.bos);
                let (system, rest) = match messages.first() {
                    Some(m) if m.role == "system" => (Some(m.content.as_str()), &messages[1..]),
                    _ => (None, messages),
                };
                for (i, m) in rest.iter().enumerate() {
                    let want = if i % 2 == 0 { "user" } else { "assistant" };
                    if m.role != want {
                        return Err(Error::invalid(
                            format!("message {i}"),
                            "Mistral chats must alternate user/assistant (after an optional first system turn)",
                        ));
                    }
                    if m.role == "user" {
                        match (i, system) {
                            (0, Some(s)) if !s.is_empty() => out.push_str(&format!("[INST] {s}\n\n{} [/INST]", m.content)),
                            _ => out.push_str(&format!("[INST] {} [/INST]", m.content)),
                        }
                    } else {
                        out.push_str(&m.content);
                        out.push_str(&self.eos);
                    }
                }
            }
            Family::MistralSimpo => {
                let (system, rest) = match messages.first() {
                    Some(m) if m.role == "system" => (format!("{}\n\n", m.content.trim()), &messages[1..]),
                    _ => (String::new(), messages),
                };
                for (i, m) in rest.iter().enumerate() {
                    let content = if i == 0 { format!("{system}{}", m.content) } else { m.content.clone() };
                    match m.role.as_str() {
                        "user" => out.push_str(&format!("[INST] {} [/INST]", content.trim())),
                        "assistant" => out.push_str(&format!(" {} {}", content.trim(), self.eos)),
                        _ => return Err(Error::invalid(format!("message {i}"), "a system turn may only come first")),
                    }
                }
            }
            Family::Zephyr => {
                for m in messages {
                    out.push_str(&format!("<|{}|>\n{}{}\n", m.role, m.content, self.eos));
                }
            }
            Family::Gemma => {
                out.push_str(&self.bos);
                for (i, m) in messages.iter().enumerate() {
                    let role = match m.role.as_str() {
                        "system" => return Err(Error::invalid(format!("message {i}"), "Gemma's template has no system role: fold it into the first user turn")),
                        "assistant" => "model",
                        r => r,
                    };
                    if (role == "user") != (i % 2 == 0) {
                        return Err(Error::invalid(format!("message {i}"), "Gemma chats must alternate user/assistant"));
                    }
                    out.push_str(&format!("<start_of_turn>{role}\n{}<end_of_turn>\n", m.content.trim()));
                }
            }
        }
        if add_generation_prompt && !messages.is_empty() {
            out.push_str(self.generation_prompt());
        }
        Ok(out)
    }

    /// Whether the family's Jinja template refers to a system role, the test alignment-handbook's
    /// `maybe_insert_system_message` applies (`"system"` or `"<|im_start|>"` in the template text)
    /// before it inserts an empty system turn:
    ///
    /// | family | template | inserts | what the empty turn renders |
    /// |---|---|---|---|
    /// | Llama3 | Meta's, and the SimPO SFT's | no | – |
    /// | ChatMl | `<|im_start|>` | yes | `<|im_start|>system\n<|im_end|>\n` (replacing Qwen2's default system text) |
    /// | Mistral | mistral-instruct v0.2's ("Only user and assistant roles") | no | – |
    /// | MistralSimpo | `messages[0]['role'] == 'system'` | yes | nothing (folded into the first user turn, then stripped) |
    /// | Zephyr | zephyr-7b-sft-full's (`'<|system|>\n'`) | yes | `<|system|>\n{eos}\n` |
    /// | Gemma | gemma-2-9b-it's refuses a system turn; SimPO's Gemma config swaps in one that folds it into the first user turn | – | nothing either way, so nothing is inserted (this family's renderer refuses system turns, as gemma-2-9b-it's template does) |
    pub fn mentions_system(&self) -> bool {
        matches!(self.family, Family::ChatMl | Family::MistralSimpo | Family::Zephyr)
    }

    /// alignment-handbook's `maybe_insert_system_message`: an empty system turn first when the
    /// conversation has none and the template mentions a system role ([`Self::mentions_system`]).
    /// `run_simpo.py` does this to every training prompt (`auto_insert_empty_system_msg`, default
    /// true) and the SimPO eval templates carry it too (Zephyr: `<|system|>\n</s>`).
    pub fn maybe_insert_system_message(&self, messages: &mut Vec<Message>) {
        if self.mentions_system() && messages.first().is_some_and(|m| m.role != "system") {
            messages.insert(0, Message::system(""));
        }
    }

    /// Render `prompt` followed by the assistant turn `response`, split into (prompt text, response
    /// text) at the boundary `span` asks for. The two concatenate to the full conversation's rendering.
    pub fn render_split(&self, prompt: &[Message], response: &str, span: ResponseSpan) -> Result<(String, String)> {
        if prompt.is_empty() {
            return Err(Error::invalid("chat prompt", "has no messages"));
        }
        let mut all = prompt.to_vec();
        all.push(Message::assistant(response));
        let full = self.render(&all, false)?;
        let head = self.render(prompt, span == ResponseSpan::ContentOnly)?;
        match full.strip_prefix(&head) {
            Some(tail) => Ok((head, tail.to_string())),
            None => Err(Error::invalid("chat template", "the prompt rendering is not a prefix of the full chat (internal error)")),
        }
    }
}

/// The default system text of a ChatML template, e.g. Qwen2's
/// `'<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'` literal.
fn default_system_of(jinja: &str) -> Option<String> {
    // The newline may be a Jinja escape (`\n`, as in hub configs) or a literal newline.
    for marker in ["<|im_start|>system\\n", "<|im_start|>system\n"] {
        let mut rest = jinja;
        while let Some(i) = rest.find(marker) {
            let after = &rest[i + marker.len()..];
            if let Some(j) = after.find("<|im_end|>") {
                let text = &after[..j];
                if !text.contains('\'') && !text.contains('"') && !text.contains("{{") && !text.contains("{%") {
                    return Some(text.replace("\\n", "\n"));
                }
            }
            rest = after;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Vec<Message> {
        vec![Message::system("Be brief."), Message::user("Hi there "), Message::assistant("Hello!"), Message::user("2+2?")]
    }

    #[test]
    fn llama3_rendering() {
        let t = ChatTemplate::from_name("llama3", "<|begin_of_text|>", "<|end_of_text|>").unwrap();
        let s = t.render(&chat()[1..2], true).unwrap();
        assert_eq!(s, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    #[test]
    fn chatml_default_system_and_split() {
        let jinja = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        let t = ChatTemplate::detect(jinja, "", "<|im_end|>").unwrap();
        assert_eq!(t.default_system.as_deref(), Some("You are a helpful assistant."));
        let literal = jinja.replace("\\n", "\n");
        assert_eq!(ChatTemplate::detect(&literal, "", "").unwrap().default_system, t.default_system);
        let (p, r) = t.render_split(&[Message::user("hi")], "yo", ResponseSpan::WithHeader).unwrap();
        assert_eq!(p, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n");
        assert_eq!(r, "<|im_start|>assistant\nyo<|im_end|>\n");
        let (p2, r2) = t.render_split(&[Message::user("hi")], "yo", ResponseSpan::ContentOnly).unwrap();
        assert_eq!(p2, format!("{p}<|im_start|>assistant\n"));
        assert_eq!(r2, "yo<|im_end|>\n");
    }

    #[test]
    fn mistral_folds_system_and_requires_alternation() {
        let t = ChatTemplate::from_name("mistral", "<s>", "</s>").unwrap();
        let s = t.render(&chat(), false).unwrap();
        assert_eq!(s, "<s>[INST] Be brief.\n\nHi there  [/INST]Hello!</s>[INST] 2+2? [/INST]");
        let e = t.render(&[Message::user("a"), Message::user("b")], false).unwrap_err().to_string();
        assert!(e.contains("alternate"), "{e}");
    }

    #[test]
    fn simpo_mistral_strips_folds_and_has_no_bos() {
        let t = ChatTemplate::from_name("mistral-simpo", "<s>", "</s>").unwrap();
        let msgs = vec![Message::system(" Be brief. "), Message::user("  Hi there \n"), Message::assistant("\n Hello! "), Message::user(" 2+2?")];
        // strip() applies to system + "\n\n" + user as a whole: the user text's own leading spaces stay.
        assert_eq!(t.render(&msgs, false).unwrap(), "[INST] Be brief.\n\n  Hi there [/INST] Hello! </s>[INST] 2+2? [/INST]");
        // An empty system turn leaves no trace: the folded "\n\n" is stripped away.
        let mut with_empty = vec![Message::user(" Hi ")];
        t.maybe_insert_system_message(&mut with_empty);
        assert_eq!(with_empty[0], Message::system(""));
        assert_eq!(t.render(&with_empty, false).unwrap(), "[INST] Hi [/INST]");
        // The lone assistant message, as run_simpo.py renders chosen/rejected.
        assert_eq!(t.render(&[Message::assistant(" ok ")], false).unwrap(), " ok </s>");
        let (p, r) = t.render_split(&with_empty, "  fine ", ResponseSpan::WithHeader).unwrap();
        assert_eq!((p.as_str(), r.as_str()), ("[INST] Hi [/INST]", " fine </s>"));
    }

    #[test]
    fn empty_system_turn_is_inserted_where_the_template_mentions_system() {
        let one = || vec![Message::user("q")];
        for (name, inserts) in [("llama3", false), ("chatml", true), ("qwen2", true), ("mistral", false), ("mistral-simpo", true), ("zephyr", true), ("gemma", false)] {
            let t = ChatTemplate::from_name(name, "<s>", "</s>").unwrap();
            let mut m = one();
            t.maybe_insert_system_message(&mut m);
            assert_eq!(m.len() == 2, inserts, "{name}");
            // A conversation that already has a system turn is left alone.
            let mut s = vec![Message::system("x"), Message::user("q")];
            t.maybe_insert_system_message(&mut s);
            assert_eq!(s.len(), 2);
        }
        let z = ChatTemplate::from_name("zephyr", "<s>", "</s>").unwrap();
        let mut m = one();
        z.maybe_insert_system_message(&mut m);
        assert_eq!(z.render(&m, false).unwrap(), "<|system|>\n</s>\n<|user|>\nq</s>\n");
    }

    #[test]
    fn zephyr_rendering() {
        let t = ChatTemplate::from_name("zephyr", "<s>", "</s>").unwrap();
        let s = t.render(&chat()[..2], true).unwrap();
        assert_eq!(s, "<|system|>\nBe brief.</s>\n<|user|>\nHi there </s>\n<|assistant|>\n");
    }

    #[test]
    fn gemma_rendering() {
        // gemma-2-9b-it's template: BOS once, "model" for the assistant, content trimmed.
        let t = ChatTemplate::detect("{{ bos_token }}{% for message in messages %}<start_of_turn>{{ role }}", "<bos>", "<eos>").unwrap();
        assert_eq!(t.family, Family::Gemma);
        let s = t.render(&chat()[1..3], true).unwrap();
        assert_eq!(s, "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>model\n");
        let (p, r) = t.render_split(&chat()[1..2], " Hello! ", ResponseSpan::WithHeader).unwrap();
        assert_eq!((p.as_str(), r.as_str()), ("<bos><start_of_turn>user\nHi there<end_of_turn>\n", "<start_of_turn>model\nHello!<end_of_turn>\n"));
    }

    #[test]
    fn unknown_roles_and_templates_are_errors() {
        let t = ChatTemplate::from_name("zephyr", "<s>", "</s>").unwrap();
        assert!(t.render(&[Message::new("tool", "x")], false).is_err());
        assert!(ChatTemplate::from_name("phi3", "", "").is_err());
        let g = ChatTemplate::from_name("gemma", "<bos>", "<eos>").unwrap();
        assert!(g.render(&chat(), false).unwrap_err().to_string().contains("system"));
        assert!(ChatTemplate::detect("{{ messages }}", "", "").is_err());
    }
}
