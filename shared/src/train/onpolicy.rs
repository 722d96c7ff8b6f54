//! The on-policy loop's data side: sample K responses per prompt from the current policy,
//! score them with a pluggable judge, and turn each group into pairs with a [`PairRule`].
//!
//! The judge is any function from (prompt index, K response texts) to K scores: the world's
//! oracle, a pairwise judge used pointwise, a learned reward model, or the policy itself.
//! Training on the pairs is the pairwise trainer's job; iterating (sample → score → pair →
//! train, with the previous iterate or the initial model as reference) is the paper's loop,
//! written in plain sight in each paper crate from these pieces.

use super::pairs::{pairs_for_group, PairRule};
use crate::error::Result;
use crate::model::generate::{generate, GenerateConfig};
use crate::model::Llama;
use rand::Rng;

/// K sampled responses to one prompt with their scores.
#[derive(Clone, Debug)]
pub struct ScoredGroup {
    pub prompt: usize,
    /// Token ids of each response (stop token stripped).
    pub responses: Vec<Vec<i64>>,
    pub texts: Vec<String>,
    pub scores: Vec<f64>,
}

/// One on-policy preference pair.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredPair {
    pub prompt: usize,
    pub chosen: Vec<i64>,
    pub rejected: Vec<i64>,
    pub chosen_score: f64,
    pub rejected_score: f64,
}

/// Sample `k` responses for every prompt, `prompts_per_batch` prompts per generation call.
/// The seed of call `c` is `gen.seed + c`, so the same inputs give the same samples.
pub fn sample_groups(
    model: &Llama,
    prompts: &[Vec<i64>],
    pad_id: i64,
    k: usize,
    prompts_per_batch: usize,
    gen: &GenerateConfig,
) -> Result<Vec<Vec<Vec<i64>>>> {
    let pb = crate::progress::bar(prompts.len() as u64, "sampling", "prompts");
    let mut out = Vec::with_capacity(prompts.len());
    for (c, chunk) in prompts.chunks(prompts_per_batch.max(1)).enumerate() {
        let batch: Vec<Vec<i64>> = chunk.iter().flat_map(|p| std::iter::repeat(p.clone()).take(k)).collect();
        let cfg = GenerateConfig { seed: gen.seed.wrapping_add(c as u64), ..gen.clone() };
        let mut samples = tch::no_grad(|| generate(model, &batch, pad_id, &cfg))?;
        for s in samples.iter_mut() {
            if s.last().is_some_and(|t| gen.stop_tokens.contains(t)) {
                s.pop();
            }
        }
        let mut it = samples.into_iter();
        for _ in chunk {
            out.push(it.by_ref().take(k).collect());
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// A sampled response as the policy emitted it, for training on: [`sample_groups`] strips the
/// stop token, so a sample shorter than `gen.max_new_tokens` gets the first stop token back (the
/// policy learns where to stop, and an immediate stop is a one-token response, not an empty one);
/// a sample that ran to the length limit stays as it is.
pub fn with_stop(y: &[i64], gen: &GenerateConfig) -> Vec<i64> {
    let mut y = y.to_vec();
    if let Some(&stop) = gen.stop_tokens.first() {
        if y.len() < gen.max_new_tokens {
            y.push(stop);
        }
    }
    y
}

/// Decode and score every group. `score(prompt_index, texts)` returns one score per text.
pub fn score_groups(
    samples: Vec<Vec<Vec<i64>>>,
    decode: impl Fn(&[i64]) -> String,
    mut score: impl FnMut(usize, &[String]) -> Result<Vec<f64>>,
) -> Result<Vec<ScoredGroup>> {
    samples
        .into_iter()
        .enumerate()
        .map(|(prompt, responses)| {
            let texts: Vec<String> = responses.iter().map(|r| decode(r)).collect();
            let scores = score(prompt, &texts)?;
            if scores.len() != texts.len() {
                return Err(crate::Error::invalid(
                    format!("scorer on prompt {prompt}"),
                    format!("returned {} scores for {} responses", scores.len(), texts.len()),
                ));
            }
            if let Some(s) = scores.iter().find(|s| !s.is_finite()) {
                return Err(crate::Error::invalid(format!("scorer on prompt {prompt}"), format!("returned a non-finite score {s}")));
            }
            Ok(ScoredGroup { prompt, responses, texts, scores })
        })
        .collect()
}

/// Pairs from every group by `rule` (groups with identical responses or flat scores give none).
pub fn build_pairs<R: Rng>(groups: &[ScoredGroup], rule: &PairRule, rng: &mut R) -> Vec<ScoredPair> {
    let mut out = vec![];
    for g in groups {
        for p in pairs_for_group(&g.texts, &g.scores, rule, rng) {
            out.push(ScoredPair {
                prompt: g.prompt,
                chosen: g.responses[p.chosen].clone(),
                rejected: g.responses[p.rejected].clone(),
                chosen_score: g.scores[p.chosen],
                rejected_score: g.scores[p.rejected],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LlamaConfig;
    use rand::SeedableRng;

    fn tiny() -> (tch::nn::VarStore, Llama) {
        let cfg: LlamaConfig = serde_json::from_str(
            r#"{"model_type":"llama","vocab_size":16,"hidden_size":16,"intermediate_size":32,
                "num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,
                "rms_norm_eps":1e-5,"max_position_embeddings":64,"tie_word_embeddings":true}"#,
        )
        .unwrap();
        tch::manual_seed(0);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let m = Llama::new(&vs.root(), &cfg).unwrap();
        (vs, m)
    }

    #[test]
    fn sampling_is_seeded_and_grouped_per_prompt() {
        let (_vs, m) = tiny();
        let prompts = vec![vec![1, 2, 3], vec![4, 5], vec![6]];
        let gen = GenerateConfig { max_new_tokens: 5, temperature: 1.0, top_p: 1.0, stop_tokens: vec![0], seed: 3 };
        let a = sample_groups(&m, &prompts, 15, 4, 2, &gen).unwrap();
        let b = sample_groups(&m, &prompts, 15, 4, 2, &gen).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|g| g.len() == 4));
        assert!(a.iter().flatten().all(|r| !r.contains(&0)), "stop token stripped");
    }

    #[test]
    fn scores_become_best_vs_worst_pairs() {
        let samples = vec![vec![vec![1], vec![2], vec![3]], vec![vec![4], vec![4], vec![4]]];
        let groups = score_groups(samples, |ids| format!("{ids:?}"), |_, t| Ok(t.iter().map(|s| s.len() as f64 + if s.contains('2') { 1.0 } else { 0.0 }).collect())).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let pairs = build_pairs(&groups, &PairRule::BestVsWorst, &mut rng);
        assert_eq!(pairs.len(), 1, "the all-identical group gives no pair");
        assert_eq!((pairs[0].chosen.clone(), pairs[0].rejected.clone()), (vec![2], vec![1]));
    }

    #[test]
    fn a_scorer_returning_nan_is_an_error() {
        let err = score_groups(vec![vec![vec![1], vec![2]]], |_| String::new(), |_, _| Ok(vec![0.0, f64::NAN])).unwrap_err();
        assert!(err.to_string().contains("non-finite"), "{err}");
    }
}
