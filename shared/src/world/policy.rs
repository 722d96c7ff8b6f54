//! A world policy: the shared Llama model with the world's tokenizer, and the helpers every
//! paper needs around it: sampling responses as text, scoring them with the oracle.

use super::tokenizer::WorldTokenizer;
use super::{Prompt, World};
use crate::error::Result;
use crate::model::generate::{generate, GenerateConfig};
use crate::model::Llama;

/// The world's longest response in tokens (characters); generation stops there.
pub const MAX_RESPONSE_TOKENS: usize = 56;

/// A decoding setting: T = 0 is greedy.
pub fn decoding(temperature: f64, seed: u64, tok: &WorldTokenizer) -> GenerateConfig {
    GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature, top_p: 1.0, stop_tokens: vec![tok.eos], seed }
}

/// Sample one response per prompt (batched, `batch` prompts per call; call `c` uses seed + c).
pub fn sample_texts(model: &Llama, tok: &WorldTokenizer, prompts: &[Prompt], gen: &GenerateConfig, batch: usize) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(prompts.len());
    for (c, chunk) in prompts.chunks(batch.max(1)).enumerate() {
        let ids: Vec<Vec<i64>> = chunk.iter().map(|x| tok.encode_prompt(&x.text())).collect::<Result<_>>()?;
        let g = GenerateConfig { seed: gen.seed.wrapping_add(c as u64), ..gen.clone() };
        let new = tch::no_grad(|| generate(model, &ids, tok.pad, &g))?;
        out.extend(new.iter().map(|y| tok.decode_response(y)));
    }
    Ok(out)
}

/// Mean oracle score and accuracy of one response per prompt.
pub fn oracle_summary(world: &World, prompts: &[Prompt], ys: &[String]) -> (f64, f64) {
    let n = prompts.len().max(1) as f64;
    let grades: Vec<_> = prompts.iter().zip(ys).map(|(x, y)| world.oracle.grade(x, y)).collect();
    (grades.iter().map(|g| g.score).sum::<f64>() / n, grades.iter().filter(|g| g.correct).count() as f64 / n)
}
