//! A tokenizer: `tokenizer.json` through the `tokenizers` crate, the special tokens and chat
//! template from `tokenizer_config.json` (or `chat_template.jinja`), and chat encoding that
//! returns prompt ids and response ids separately so response masks are exact.

use super::chat::{ChatTemplate, Message, ResponseSpan};
use crate::error::{Error, Result};
use crate::hub::Source;
use std::path::Path;

/// A loaded tokenizer with its special tokens and (if known) chat template.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub pad_token: Option<String>,
    pub chat: Option<ChatTemplate>,
    /// Where it came from (for messages).
    pub origin: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer").field("origin", &self.origin).field("vocab", &self.vocab_size()).field("chat", &self.chat).finish()
    }
}

/// `"<s>"` or `{"content": "<s>", ...}` in `tokenizer_config.json`.
fn token_str(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content").and_then(|c| c.as_str()).map(String::from),
        _ => None,
    }
}

/// The `chat_template` of a tokenizer config: a string, or a list of named templates ("default" wins).
fn template_str(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => {
            let named = |n: &serde_json::Value| n.get("template").and_then(|t| t.as_str()).map(String::from);
            a.iter().find(|n| n.get("name").and_then(|x| x.as_str()) == Some("default")).and_then(named).or_else(|| a.first().and_then(named))
        }
        _ => None,
    }
}

impl Tokenizer {
    /// Wrap a `tokenizers::Tokenizer` built in code (e.g. the miniature world's).
    pub fn from_parts(inner: tokenizers::Tokenizer, bos: Option<&str>, eos: Option<&str>, pad: Option<&str>, chat: Option<ChatTemplate>) -> Self {
        Self {
            inner,
            bos_token: bos.map(String::from),
            eos_token: eos.map(String::from),
            pad_token: pad.map(String::from),
            chat,
            origin: "<in memory>".into(),
        }
    }

    /// Load `tokenizer.json`, and the special tokens and chat template from the optional
    /// `tokenizer_config.json` / `chat_template.jinja`.
    pub fn from_files(tokenizer_json: &Path, tokenizer_config: Option<&Path>, chat_jinja: Option<&Path>) -> Result<Self> {
        if !tokenizer_json.exists() {
            return Err(Error::invalid(
                tokenizer_json.display().to_string(),
                "is missing; every model folder needs its tokenizer.json (save it with `tokenizer.save_pretrained(dir)` in Python)",
            ));
        }
        let inner = crate::io::guard_parser(tokenizer_json, "tokenizer.json", || {
            tokenizers::Tokenizer::from_file(tokenizer_json).map_err(|e| {
                Error::invalid(tokenizer_json.display().to_string(), format!("is not a readable tokenizer.json ({e})"))
            })
        })?;
        let cfg: serde_json::Value = match tokenizer_config {
            Some(p) => crate::io::read_json(p)?,
            None => serde_json::Value::Null,
        };
        let bos = token_str(cfg.get("bos_token"));
        let eos = token_str(cfg.get("eos_token"));
        let pad = token_str(cfg.get("pad_token"));
        // The template and the file it came from (named in errors).
        let jinja = match (chat_jinja, tokenizer_config) {
            (Some(p), _) => Some((std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?, p)),
            (None, Some(p)) => template_str(cfg.get("chat_template")).map(|j| (j, p)),
            (None, None) => None,
        };
        let chat = match jinja {
            Some((j, from)) => Some(
                ChatTemplate::detect(&j, bos.as_deref().unwrap_or(""), eos.as_deref().unwrap_or(""))
                    .map_err(|e| Error::invalid(from.display().to_string(), e.to_string()))?,
            ),
            None => None,
        };
        let mut t = Self::from_parts(inner, bos.as_deref(), eos.as_deref(), pad.as_deref(), chat);
        t.origin = tokenizer_json.display().to_string();
        for (what, tok) in [("bos_token", &t.bos_token), ("eos_token", &t.eos_token), ("pad_token", &t.pad_token)] {
            if let Some(s) = tok {
                if t.inner.token_to_id(s).is_none() {
                    return Err(Error::invalid(
                        format!("{}: {what}", tokenizer_config.map(|p| p.display().to_string()).unwrap_or_default()),
                        format!("{s:?} is not in the vocabulary of {}", t.origin),
                    ));
                }
            }
        }
        Ok(t)
    }

    /// Load from a model folder or hub id.
    pub fn from_source(src: &Source) -> Result<Self> {
        let json = src.file("tokenizer.json")?;
        let cfg = src.optional_file("tokenizer_config.json")?;
        let jinja = src.optional_file("chat_template.jinja")?;
        Self::from_files(&json, cfg.as_deref(), jinja.as_deref())
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Number of ids in use (including added tokens): one more than the largest id.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab(true).values().max().map(|&m| m as usize + 1).unwrap_or(0)
    }

    /// A model's embedding of `vocab_size` rows must have a row for every token id.
    pub fn check_fits(&self, vocab_size: usize) -> Result<()> {
        let n = self.vocab_size();
        if n > vocab_size {
            return Err(Error::invalid(
                self.origin.clone(),
                format!(
                    "has token ids up to {} but the model's embedding has only vocab_size = {} rows; the tokenizer does not belong to this model",
                    n - 1,
                    vocab_size
                ),
            ));
        }
        Ok(())
    }

    pub fn token_id(&self, token: &str) -> Option<i64> {
        self.inner.token_to_id(token).map(i64::from)
    }
    pub fn bos_id(&self) -> Option<i64> {
        self.bos_token.as_deref().and_then(|t| self.token_id(t))
    }
    pub fn eos_id(&self) -> Option<i64> {
        self.eos_token.as_deref().and_then(|t| self.token_id(t))
    }
    /// The pad id: `pad_token`, else the EOS id, else 0 (padding is always masked, so any id works).
    pub fn pad_id(&self) -> i64 {
        self.pad_token.as_deref().and_then(|t| self.token_id(t)).or(self.eos_id()).unwrap_or(0)
    }
    /// Prepends the BOS id unless `ids` already starts with it: some chat templates write BOS
    /// themselves and some leave it to the tokenizer, and every scored or generated sequence
    /// should begin with exactly one.
    pub fn ensure_bos(&self, ids: &mut Vec<i64>) {
        if let Some(bos) = self.bos_id() {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
    }
    /// Appends the EOS id unless `ids` already ends with it.
    pub fn ensure_eos(&self, ids: &mut Vec<i64>) {
        if let Some(eos) = self.eos_id() {
            if ids.last() != Some(&eos) {
                ids.push(eos);
            }
        }
    }

    /// Ids that end an assistant turn: EOS and the template's end-of-turn token.
    pub fn stop_tokens(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.eos_id().into_iter().collect();
        for t in ["<|eot_id|>", "<|im_end|>", "<end_of_turn>"] {
            if let Some(id) = self.token_id(t) {
                if !v.contains(&id) {
                    v.push(id);
                }
            }
        }
        v
    }

    /// Token ids of `text`; `add_special_tokens` applies the tokenizer's post-processor (e.g. BOS).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<i64>> {
        let enc = self.inner.encode(text, add_special_tokens).map_err(|e| Error::invalid(self.origin.clone(), format!("encoding failed: {e}")))?;
        Ok(enc.get_ids().iter().map(|&i| i64::from(i)).collect())
    }

    pub fn decode(&self, ids: &[i64], skip_special_tokens: bool) -> Result<String> {
        let ids: Vec<u32> = ids
            .iter()
            .map(|&i| u32::try_from(i).map_err(|_| Error::invalid("token ids", format!("{i} is not a token id"))))
            .collect::<Result<_>>()?;
        self.inner.decode(&ids, skip_special_tokens).map_err(|e| Error::invalid(self.origin.clone(), format!("decoding failed: {e}")))
    }

    fn template(&self) -> Result<&ChatTemplate> {
        self.chat.as_ref().ok_or_else(|| {
            Error::invalid(self.origin.clone(), "has no chat template (tokenizer_config.json has no chat_template); set one with `ChatTemplate::from_name`")
        })
    }

    /// This tokenizer with the named chat template (`ChatTemplate::from_name`), filled with its own
    /// BOS and EOS tokens: how a paper-scale config's `chat_template = "llama3"` is applied.
    pub fn with_chat_template(mut self, name: &str) -> Result<Self> {
        self.chat = Some(ChatTemplate::from_name(name, self.bos_token.as_deref().unwrap_or(""), self.eos_token.as_deref().unwrap_or(""))?);
        Ok(self)
    }

    /// Ids of a rendered chat, as transformers' `apply_chat_template(..., tokenize=True)` gives them.
    pub fn encode_chat(&self, messages: &[Message], add_generation_prompt: bool) -> Result<Vec<i64>> {
        self.encode(&self.template()?.render(messages, add_generation_prompt)?, false)
    }

    /// An answer to train on: (prompt ids with BOS once, response ids ending in EOS), the assistant
    /// header with the response (`ResponseSpan::WithHeader`, as the alignment handbook's SFT).
    pub fn encode_answer(&self, context: &[Message], answer: &str) -> Result<(Vec<i64>, Vec<i64>)> {
        let (mut prompt, mut response) = self.encode_pair(context, answer, ResponseSpan::WithHeader)?;
        self.ensure_bos(&mut prompt);
        self.ensure_eos(&mut response);
        Ok((prompt, response))
    }

    /// (prompt ids, response ids) of `prompt` followed by the assistant turn `response`.
    /// Their concatenation is exactly the tokenisation of the whole rendered chat; if a token
    /// straddles the text boundary it goes to the response.
    pub fn encode_pair(&self, prompt: &[Message], response: &str, span: ResponseSpan) -> Result<(Vec<i64>, Vec<i64>)> {
        let (p, r) = self.template()?.render_split(prompt, response, span)?;
        let full = self.encode(&format!("{p}{r}"), false)?;
        let alone = self.encode(&p, false)?;
        let cut = full.iter().zip(&alone).take_while(|(a, b)| a == b).count();
        Ok((full[..cut].to_vec(), full[cut..].to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
    use tokenizers::AddedToken;

    fn word_tokenizer() -> Tokenizer {
        let vocab: std::collections::HashMap<String, u32> =
            ["<unk>", "hello", "world", "a", "b"].iter().enumerate().map(|(i, w)| (w.to_string(), i as u32)).collect();
        let model = WordLevel::builder().vocab(vocab.into_iter().collect()).unk_token("<unk>".into()).build().unwrap();
        let mut t = tokenizers::Tokenizer::new(model);
        t.with_pre_tokenizer(Some(WhitespaceSplit));
        t.add_special_tokens(&[AddedToken::from("<|im_start|>", true), AddedToken::from("<|im_end|>", true)]);
        let chat = ChatTemplate::from_name("chatml", "", "<|im_end|>").unwrap();
        Tokenizer::from_parts(t, None, Some("<|im_end|>"), None, Some(chat))
    }

    #[test]
    fn pair_ids_concatenate_to_the_whole_chat() {
        let t = word_tokenizer();
        let (p, r) = t.encode_pair(&[Message::user("hello world")], "a b", ResponseSpan::WithHeader).unwrap();
        let whole = t.encode_chat(&[Message::user("hello world"), Message::assistant("a b")], false).unwrap();
        assert_eq!([p.clone(), r.clone()].concat(), whole);
        assert_eq!(p, vec![5, 0, 1, 2, 6]); // <|im_start|> user(unk) hello world <|im_end|>
        assert_eq!(r, vec![5, 0, 3, 4, 6]);
        assert_eq!(t.stop_tokens(), vec![6]);
        assert_eq!(t.pad_id(), 6);
        assert_eq!(t.vocab_size(), 7);
    }

    #[test]
    fn vocab_must_fit_the_embedding() {
        let t = word_tokenizer();
        let e = t.check_fits(6).unwrap_err().to_string();
        assert!(e.contains("vocab_size = 6") && e.contains("up to 6"), "{e}");
        t.check_fits(7).unwrap();
    }

    #[test]
    fn missing_tokenizer_json_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = Tokenizer::from_files(&dir.path().join("tokenizer.json"), None, None).unwrap_err().to_string();
        assert!(e.contains("tokenizer.json") && e.contains("missing"), "{e}");
        std::fs::write(dir.path().join("tokenizer.json"), "{not json").unwrap();
        let e = Tokenizer::from_files(&dir.path().join("tokenizer.json"), None, None).unwrap_err().to_string();
        assert!(e.contains("not a readable tokenizer.json"), "{e}");
    }
}
