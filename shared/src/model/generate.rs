//! Batched generation: left-padded prompts, a KV cache, greedy (temperature 0) or temperature +
//! nucleus (top-p) sampling driven by one seeded RNG, per-row stop tokens.
//!
//! Returned sequences hold the new tokens only. A row that stops on a stop token *includes* that
//! token as its last element, so "finished" vs "cut at max_new_tokens" stays visible; strip it
//! (or decode with special tokens skipped) where the text is wanted.

use super::llama::{KvCache, Llama};
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// How to decode.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenerateConfig {
    pub max_new_tokens: usize,
    /// 0 = greedy (argmax); otherwise logits are divided by it before sampling.
    pub temperature: f64,
    /// Nucleus sampling: sample from the smallest set of tokens whose probability reaches `top_p` (1 = off).
    pub top_p: f64,
    /// A row stops after emitting any of these (e.g. the tokenizer's EOS / end-of-turn ids).
    pub stop_tokens: Vec<i64>,
    /// Seeds the sampling RNG; the same seed and inputs give the same tokens.
    pub seed: u64,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self { max_new_tokens: 64, temperature: 0.0, top_p: 1.0, stop_tokens: vec![], seed: 0 }
    }
}

impl GenerateConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::invalid("generate.temperature", format!("{} must be a finite number >= 0", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid("generate.top_p", format!("{} must be in (0, 1]", self.top_p)));
        }
        Ok(())
    }
}

/// Generate with a KV cache (each step feeds only the newest token).
pub fn generate(model: &Llama, prompts: &[Vec<i64>], pad_id: i64, cfg: &GenerateConfig) -> Result<Vec<Vec<i64>>> {
    run(model, prompts, pad_id, cfg, true)
}

/// Generate by re-running the whole sequence every step (no cache); same tokens, slower.
/// Kept for the benchmark and as a check on the cache.
pub fn generate_uncached(
    model: &Llama,
    prompts: &[Vec<i64>],
    pad_id: i64,
    cfg: &GenerateConfig,
) -> Result<Vec<Vec<i64>>> {
    run(model, prompts, pad_id, cfg, false)
}

fn run(model: &Llama, prompts: &[Vec<i64>], pad_id: i64, cfg: &GenerateConfig, use_cache: bool) -> Result<Vec<Vec<i64>>> {
    cfg.validate()?;
    let b = prompts.len();
    if b == 0 || cfg.max_new_tokens == 0 {
        return Ok(vec![vec![]; b]);
    }
    if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
        return Err(Error::invalid(format!("prompt {i}"), "is empty; generation needs at least one prompt token (e.g. BOS)"));
    }
    let dev = model.device();
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = vec![pad_id; b * width];
    let mut mask = vec![0i64; b * width];
    for (r, p) in prompts.iter().enumerate() {
        let off = r * width + width - p.len();
        ids[off..off + p.len()].copy_from_slice(p);
        mask[off..off + p.len()].fill(1);
    }
    let shape = [b as i64, width as i64];
    let mut all_ids = Tensor::from_slice(&ids).view(shape).to_device(dev);
    let mut all_mask = Tensor::from_slice(&mask).view(shape).to_device(dev);

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out: Vec<Vec<i64>> = vec![vec![]; b];
    let mut done = vec![false; b];
    tch::no_grad(|| -> Result<()> {
        let mut cache = KvCache::new(model.config().num_hidden_layers);
        let mut logits = if use_cache {
            model.forward_cached(&all_ids, &all_mask, &mut cache)
        } else {
            model.forward(&all_ids, &all_mask)
        }?
        .select(1, -1);
        for step in 0..cfg.max_new_tokens {
            let next = pick(&logits, cfg, &mut rng)?;
            for r in 0..b {
                if !done[r] {
                    out[r].push(next[r]);
                    done[r] = cfg.stop_tokens.contains(&next[r]);
                }
            }
            if step + 1 == cfg.max_new_tokens || done.iter().all(|&d| d) {
                break;
            }
            // Finished rows keep stepping on a masked pad token; their outputs are ignored.
            let feed: Vec<i64> = (0..b).map(|r| if done[r] { pad_id } else { next[r] }).collect();
            let live: Vec<i64> = done.iter().map(|&d| i64::from(!d)).collect();
            let feed = Tensor::from_slice(&feed).view([b as i64, 1]).to_device(dev);
            let live = Tensor::from_slice(&live).view([b as i64, 1]).to_device(dev);
            logits = if use_cache {
                model.forward_cached(&feed, &live, &mut cache)
            } else {
                all_ids = Tensor::cat(&[&all_ids, &feed], 1);
                all_mask = Tensor::cat(&[&all_mask, &live], 1);
                model.forward(&all_ids, &all_mask)
            }?
            .select(1, -1);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Choose one token per row from last-position logits `[B,V]`.
fn pick(logits: &Tensor, cfg: &GenerateConfig, rng: &mut ChaCha8Rng) -> Result<Vec<i64>> {
    let logits = logits.to_kind(Kind::Float);
    if cfg.temperature == 0.0 {
        return Ok(Vec::<i64>::try_from(logits.argmax(-1, false).to_device(tch::Device::Cpu))?);
    }
    let probs = (logits / cfg.temperature).softmax(-1, Kind::Float);
    let (sorted, idx) = probs.sort(-1, true);
    // Keep a token while the mass before it is below top_p (the top token is always kept).
    let before = sorted.cumsum(-1, Kind::Float) - &sorted;
    let keep = before.lt(cfg.top_p);
    let k = keep.sum_dim_intlist(-1, false, Kind::Int64).max().int64_value(&[]).max(1);
    let kept = (sorted * keep.to_kind(Kind::Float)).narrow(-1, 0, k).to_device(tch::Device::Cpu);
    let idx = idx.narrow(-1, 0, k).to_device(tch::Device::Cpu);
    let b = kept.size()[0];
    let p = Vec::<f32>::try_from(kept.flatten(0, -1))?;
    let ix = Vec::<i64>::try_from(idx.flatten(0, -1))?;
    let k = k as usize;
    Ok((0..b as usize)
        .map(|r| {
            let row = &p[r * k..(r + 1) * k];
            let total: f64 = row.iter().map(|&x| x as f64).sum();
            let mut u = rng.gen::<f64>() * total;
            let mut choice = 0;
            for (j, &x) in row.iter().enumerate() {
                if x > 0.0 {
                    choice = j;
                    if u < x as f64 {
                        break;
                    }
                    u -= x as f64;
                }
            }
            ix[r * k + choice]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LlamaConfig;
    use tch::{nn, Device};

    fn tiny() -> (nn::VarStore, Llama) {
        let cfg: LlamaConfig = serde_json::from_value(serde_json::json!({
            "model_type": "qwen2", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "rms_norm_eps": 1e-6,
            "max_position_embeddings": 64, "tie_word_embeddings": true
        }))
        .unwrap();
        tch::manual_seed(2);
        let vs = nn::VarStore::new(Device::Cpu);
        // Larger weights so greedy outputs vary with the prompt.
        let m = Llama::new(&vs.root(), &cfg).unwrap();
        tch::no_grad(|| {
            for (_, mut v) in vs.variables() {
                let _ = v.g_mul_scalar_(25.0);
            }
        });
        (vs, m)
    }

    #[test]
    fn greedy_is_batch_independent_and_cache_agrees() {
        let (_vs, m) = tiny();
        let cfg = GenerateConfig { max_new_tokens: 6, ..Default::default() };
        let prompts = vec![vec![1i64, 2, 3, 4, 5], vec![7i64], vec![9i64, 8]];
        let batched = generate(&m, &prompts, 0, &cfg).unwrap();
        for (p, got) in prompts.iter().zip(&batched) {
            let alone = generate(&m, std::slice::from_ref(p), 0, &cfg).unwrap();
            assert_eq!(&alone[0], got);
            assert_eq!(got.len(), 6);
        }
        assert_eq!(generate_uncached(&m, &prompts, 0, &cfg).unwrap(), batched);
        // Greedy equals the argmax of a plain forward at the first step.
        let ids = Tensor::from_slice(&prompts[0]).view([1, 5]);
        let first = m.forward(&ids, &ids.ones_like()).unwrap().get(0).get(4).argmax(-1, false).int64_value(&[]);
        assert_eq!(batched[0][0], first);
    }

    #[test]
    fn stop_token_ends_a_row_and_is_kept() {
        let (_vs, m) = tiny();
        let free = generate(&m, &[vec![1, 2]], 0, &GenerateConfig { max_new_tokens: 5, ..Default::default() }).unwrap();
        let stop = free[0][1];
        let cfg = GenerateConfig { max_new_tokens: 5, stop_tokens: vec![stop], ..Default::default() };
        let got = generate(&m, &[vec![1, 2]], 0, &cfg).unwrap();
        let first_stop = free[0].iter().position(|&t| t == stop).unwrap();
        assert_eq!(got[0], free[0][..=first_stop].to_vec());
    }

    #[test]
    fn sampling_is_seeded() {
        let (_vs, m) = tiny();
        let cfg = GenerateConfig { max_new_tokens: 8, temperature: 1.0, top_p: 0.9, stop_tokens: vec![], seed: 7 };
        let p = vec![vec![1i64, 2], vec![3i64]];
        let a = generate(&m, &p, 0, &cfg).unwrap();
        assert_eq!(a, generate(&m, &p, 0, &cfg).unwrap());
        assert_eq!(a, generate_uncached(&m, &p, 0, &cfg).unwrap());
        // A hot temperature makes the distribution broad: other seeds must give other samples.
        let hot = GenerateConfig { temperature: 1000.0, top_p: 1.0, ..cfg.clone() };
        let h = generate(&m, &p, 0, &hot).unwrap();
        let others: Vec<_> = (8..12).map(|s| generate(&m, &p, 0, &GenerateConfig { seed: s, ..hot.clone() }).unwrap()).collect();
        assert!(others.iter().any(|o| o != &h), "different seeds should give different samples");
        // A vanishing nucleus keeps only the top token: sampling becomes greedy.
        let narrow = GenerateConfig { temperature: 1000.0, top_p: 1e-9, ..cfg.clone() };
        let greedy = GenerateConfig { temperature: 0.0, ..cfg.clone() };
        assert_eq!(generate(&m, &p, 0, &narrow).unwrap(), generate(&m, &p, 0, &greedy).unwrap());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (_vs, m) = tiny();
        let cfg = GenerateConfig::default();
        assert!(generate(&m, &[vec![]], 0, &cfg).unwrap_err().to_string().contains("prompt 0"));
        assert!(generate(&m, &[vec![99]], 0, &cfg).unwrap_err().to_string().contains("vocab_size"));
        let bad = GenerateConfig { top_p: 0.0, ..cfg };
        assert!(generate(&m, &[vec![1]], 0, &bad).unwrap_err().to_string().contains("top_p"));
    }
}
