//! The world's tokenizer: character level, built by our own code as a real
//! `tokenizers::Tokenizer` (a WordLevel model over single characters, a pre-tokenizer that
//! isolates every character, a decoder that fuses them back), so the miniature goes through the
//! same tokenizer interface as paper scale. Reserved special tokens serve the papers' prompt forms.
//!
//! A training example is `<bos> prompt <sep>` then `response <eos>`.

use crate::error::{Error, Result};
use std::collections::HashMap;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

pub const PAD: &str = "<pad>";
pub const BOS: &str = "<bos>";
pub const EOS: &str = "<eos>";
pub const UNK: &str = "<unk>";
pub const SEP: &str = "<sep>";

/// Special tokens, in id order after the characters' block. Ids are stable: append only.
pub const SPECIALS: &[&str] = &[
    PAD, BOS, EOS, UNK, SEP, // framing
    "<se_q>", "<yes>", "<no>", // adaptive-compute: "would a restart do better?"
    "<prev>", "<refine>", "<ans>", // evolve: refine prompts
    "<judge>", "<resp>", "<score>", "<S1>", "<S2>", "<S3>", "<S4>", "<S5>", // self-judging
    "<fb>", "<improve>", // drift: user feedback and guided improvement
];

/// Every character the world writes: printable ASCII.
pub fn alphabet() -> Vec<char> {
    (b' '..=b'~').map(|b| b as char).collect()
}

/// Build the tokenizer. Specials take ids 0..; characters follow.
pub fn build() -> Result<Tokenizer> {
    let mut vocab: HashMap<String, u32> = HashMap::new();
    for (i, s) in SPECIALS.iter().enumerate() {
        vocab.insert(s.to_string(), i as u32);
    }
    for c in alphabet() {
        let id = vocab.len() as u32;
        vocab.insert(c.to_string(), id);
    }
    let model = WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token(UNK.to_string())
        .build()
        .map_err(|e| Error::Other(format!("building the world tokenizer: {e}")))?;
    let mut tok = Tokenizer::new(model);
    let split = Split::new(SplitPattern::Regex(".".into()), SplitDelimiterBehavior::Isolated, false)
        .map_err(|e| Error::Other(format!("building the world tokenizer's pre-tokenizer: {e}")))?;
    tok.with_pre_tokenizer(Some(split));
    tok.with_decoder(Some(Fuse::new()));
    tok.add_special_tokens(&SPECIALS.iter().map(|s| AddedToken::from(s.to_string(), true)).collect::<Vec<_>>());
    Ok(tok)
}

/// The tokenizer plus the ids the trainers need, with prompt/response helpers.
#[derive(Clone)]
pub struct WorldTokenizer {
    pub tok: Tokenizer,
    pub pad: i64,
    pub bos: i64,
    pub eos: i64,
    pub sep: i64,
}

impl WorldTokenizer {
    pub fn new() -> Result<Self> {
        Self::from_tokenizer(build()?)
    }

    pub fn from_tokenizer(tok: Tokenizer) -> Result<Self> {
        let id = |s: &str| tok.token_to_id(s).map(|i| i as i64).ok_or_else(|| Error::invalid("tokenizer", format!("lacks {s}")));
        Ok(WorldTokenizer { pad: id(PAD)?, bos: id(BOS)?, eos: id(EOS)?, sep: id(SEP)?, tok })
    }

    pub fn vocab_size(&self) -> usize {
        self.tok.get_vocab_size(true)
    }

    pub fn id(&self, token: &str) -> Option<i64> {
        self.tok.token_to_id(token).map(|i| i as i64)
    }

    /// Token ids of a text (special tokens written inline, e.g. `<fb>`, are recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        let enc = self.tok.encode(text, false).map_err(|e| Error::invalid("tokenizer", format!("encoding {text:?}: {e}")))?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    /// `<bos> prompt <sep>`.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<i64>> {
        let mut ids = vec![self.bos];
        ids.extend(self.encode(prompt)?);
        ids.push(self.sep);
        Ok(ids)
    }

    /// `response <eos>`.
    pub fn encode_response(&self, response: &str) -> Result<Vec<i64>> {
        let mut ids = self.encode(response)?;
        ids.push(self.eos);
        Ok(ids)
    }

    /// Text of generated ids: stops at the first `<eos>`, drops padding and other specials.
    pub fn decode_response(&self, ids: &[i64]) -> String {
        let end = ids.iter().position(|&i| i == self.eos).unwrap_or(ids.len());
        let ids: Vec<u32> = ids[..end].iter().filter(|&&i| i >= 0).map(|&i| i as u32).collect();
        self.tok.decode(&ids, true).unwrap_or_default()
    }
}
