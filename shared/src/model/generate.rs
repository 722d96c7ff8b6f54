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
    let out = run(model, prompts, pad_id, cfg, true, None, &mut |_, _| {})?;
    Ok(out.into_iter().map(|g| g.tokens).collect())
}

/// One generated row with, when asked for, the log-prob of each new token and the top-k
/// alternatives, all under the model's raw distribution (log-softmax of the logits, before
/// temperature and top-p), as OpenAI-compatible servers report them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Generated {
    pub tokens: Vec<i64>,
    /// log p(token) per new token (empty unless log-probs were asked for).
    pub logprobs: Vec<f32>,
    /// The `top_k` most likely (token, log-prob) at each step, most likely first.
    pub top: Vec<Vec<(i64, f32)>>,
}

/// [`generate`] with log-probs (`top_k` = Some(k): the chosen token's and the k most likely;
/// Some(0): the chosen token's only) and a callback after every step with the step index and
/// each row's new token (None for rows already finished). The tokens are exactly [`generate`]'s.
pub fn generate_with(
    model: &Llama,
    prompts: &[Vec<i64>],
    pad_id: i64,
    cfg: &GenerateConfig,
    top_k: Option<usize>,
    on_step: &mut dyn FnMut(usize, &[Option<i64>]),
) -> Result<Vec<Generated>> {
    run(model, prompts, pad_id, cfg, true, top_k, on_step)
}

/// Generate by re-running the whole sequence every step (no cache); same tokens, slower.
/// Kept for the benchmark and as a check on the cache.
pub fn generate_uncached(
    model: &Llama,
    prompts: &[Vec<i64>],
    pad_id: i64,
    cfg: &GenerateConfig,
) -> Result<Vec<Vec<i64>>> {
    let out = run(model, prompts, pad_id, cfg, false, None, &mut |_, _| {})?;
    Ok(out.into_iter().map(|g| g.tokens).collect())
}

fn run(
    model: &Llama,
    prompts: &[Vec<i64>],
    pad_id: i64,
    cfg: &GenerateConfig,
    use_cache: bool,
    top_k: Option<usize>,
    on_step: &mut dyn FnMut(usize, &[Option<i64>]),
) -> Result<Vec<Generated>> {
    cfg.validate()?;
    let b = prompts.len();
    if b == 0 || cfg.max_new_tokens == 0 {
        return Ok(vec![Generated::default(); b]);
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
    let mut out: Vec<Generated> = vec![Generated::default(); b];
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
            let scored = match top_k {
                Some(k) => Some(logprobs_of(&logits, &next, k)?),
                None => None,
            };
            let mut emitted = vec![None; b];
            for r in 0..b {
                if !done[r] {
                    out[r].tokens.push(next[r]);
                    if let Some((lp, top)) = &scored {
                        out[r].logprobs.push(lp[r]);
                        out[r].top.push(top[r].clone());
                    }
                    emitted[r] = Some(next[r]);
                    done[r] = cfg.stop_tokens.contains(&next[r]);
                }
            }
            on_step(step, &emitted);
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

/// Log-prob of each row's chosen token and the `k` most likely tokens, from logits `[B,V]`.
#[allow(clippy::type_complexity)]
fn logprobs_of(logits: &Tensor, chosen: &[i64], k: usize) -> Result<(Vec<f32>, Vec<Vec<(i64, f32)>>)> {
    let lp = logits.to_kind(Kind::Float).log_softmax(-1, Kind::Float).to_device(tch::Device::Cpu);
    let idx = Tensor::from_slice(chosen).view([chosen.len() as i64, 1]);
    let got = Vec::<f32>::try_from(lp.gather(1, &idx, false).flatten(0, -1))?;
    if k == 0 {
        return Ok((got, vec![vec![]; chosen.len()]));
    }
    let k = k.min(lp.size()[1] as usize) as i64;
    let (vals, ids) = lp.topk(k, -1, true, true);
    let vals = Vec::<f32>::try_from(vals.flatten(0, -1))?;
    let ids = Vec::<i64>::try_from(ids.flatten(0, -1))?;
    let k = k as usize;
    let top = (0..chosen.len()).map(|r| (0..k).map(|j| (ids[r * k + j], vals[r * k + j])).collect()).collect();
    Ok((got, top))
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
    fn logprobs_and_steps_come_with_the_same_tokens() {
        let (_vs, m) = tiny();
        let cfg = GenerateConfig { max_new_tokens: 4, temperature: 0.7, top_p: 0.9, stop_tokens: vec![], seed: 3 };
        let p = vec![vec![1i64, 2], vec![3i64]];
        let plain = generate(&m, &p, 0, &cfg).unwrap();
        let mut steps = 0;
        let rich = generate_with(&m, &p, 0, &cfg, Some(3), &mut |_, toks| {
            assert_eq!(toks.len(), 2);
            steps += 1;
        })
        .unwrap();
        assert_eq!(steps, 4);
        assert_eq!(rich.iter().map(|g| g.tokens.clone()).collect::<Vec<_>>(), plain);
        for g in &rich {
            assert_eq!((g.logprobs.len(), g.top.len()), (4, 4));
            for (lp, top) in g.logprobs.iter().zip(&g.top) {
                assert!(*lp <= 0.0 && top.len() == 3 && top[0].1 >= top[1].1 && top[1].1 >= top[2].1);
                assert!(*lp <= top[0].1 + 1e-6);
            }
        }
        // The first greedy step's log-prob is the log-softmax of a plain forward.
        let g = generate_with(&m, &p[..1], 0, &GenerateConfig { temperature: 0.0, ..cfg }, Some(0), &mut |_, _| {}).unwrap();
        let ids = Tensor::from_slice(&p[0]).view([1, 2]);
        let want = m.forward(&ids, &ids.ones_like()).unwrap().get(0).get(1).log_softmax(-1, Kind::Float).double_value(&[g[0].tokens[0]]);
        assert!((g[0].logprobs[0] as f64 - want).abs() < 1e-5);
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
