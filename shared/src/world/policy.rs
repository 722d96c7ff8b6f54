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

/// 1 when the oracle scores `y` above the baseline answer `b` to `x`, ½ on a tie, else 0.
pub fn oracle_win(world: &World, x: &Prompt, y: &str, b: &str) -> f64 {
    let (s, t) = (world.oracle.score(x, y), world.oracle.score(x, b));
    if s > t {
        1.0
    } else if s == t {
        0.5
    } else {
        0.0
    }
}

/// How a policy is sampled for on-policy pairs: K samples per prompt at (T, top-p), `prompts_per_batch`
/// prompts per generation call.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    pub samples: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub prompts_per_batch: usize,
}

/// How answers are decoded for evaluation (one per prompt, `batch` prompts per call).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decode {
    pub temperature: f64,
    pub batch: usize,
}

/// On-policy pairs with oracle labels: K samples of `model` per prompt ranked by the oracle, the
/// best against the worst (ties drawn from the stream `stream` of `seed`), as training examples.
pub struct OraclePairs {
    pub examples: Vec<crate::train::Example>,
    /// Mean oracle score of the chosen and of the rejected answers.
    pub chosen_oracle: f64,
    pub rejected_oracle: f64,
}

pub fn oracle_pairs(world: &World, model: &Llama, tok: &WorldTokenizer, prompts: &[Prompt], s: &Sampling, seed: u64, stream: &str) -> Result<OraclePairs> {
    use crate::train::onpolicy::{build_pairs, sample_groups, score_groups};
    let ids: Vec<Vec<i64>> = prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<Result<_>>()?;
    let gen = GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: s.temperature, top_p: s.top_p, stop_tokens: vec![tok.eos], seed: seed ^ 0x0b5e };
    let samples = sample_groups(model, &ids, tok.pad, s.samples, s.prompts_per_batch, &gen)?;
    let groups = score_groups(samples, |y| tok.decode_response(y), |i, ys| Ok(ys.iter().map(|y| world.oracle.score(&prompts[i], y)).collect()))?;
    let pairs = build_pairs(&groups, &crate::train::pairs::PairRule::BestVsWorst, &mut super::rng(seed, stream));
    let n = pairs.len().max(1) as f64;
    let examples = pairs
        .iter()
        .map(|p| Ok(crate::train::Example::pair(tok.encode_prompt(&prompts[p.prompt].text())?, tok.encode_response(&tok.decode_response(&p.chosen))?, tok.encode_response(&tok.decode_response(&p.rejected))?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(OraclePairs { examples, chosen_oracle: pairs.iter().map(|p| p.chosen_score).sum::<f64>() / n, rejected_oracle: pairs.iter().map(|p| p.rejected_score).sum::<f64>() / n })
}
