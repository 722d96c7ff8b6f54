//! Token rewards from a trained DPO model, carried as the examples' token weights.
//!
//! The practical TGDPO takes `r̂_t = β (log π_dpo(y_t|s_t) − log π_ref(y_t|s_t))` from an already
//! trained DPO model π_dpo (the "token-level reward model") and its reference. Both are frozen:
//! their per-token log-probs of the training examples are computed once, without gradients,
//! through the engine's reference cache ([`shared::train::reference::logps`]), and every
//! example carries `Δ_t = log π_dpo − log π_ref` per response token as its token weights. The
//! objective scales them with its own β and α ([`crate::loss`]), as the authors' code does.

use shared::train::example::{truncate_all, Example};
use shared::train::reference::{logps, Frozen};
use shared::train::TrainConfig;
use shared::{Error, Result};
use std::path::Path;

/// The examples truncated as training will see them (`cfg`'s rule), each with the token
/// rewards `Δ_t` of both responses as token weights.
#[allow(clippy::too_many_arguments)]
pub fn attach(examples: &[Example], dpo: Frozen, reference: Frozen, cfg: &TrainConfig, pad: i64, tokenizer_id: &str, cache_dir: &Path) -> Result<Vec<Example>> {
    let prepared = truncate_all(examples, cfg.max_length, cfg.max_prompt_length)?;
    let micro = cfg.micro_batch;
    let d = logps(dpo, &prepared, 2, micro, true, pad, tokenizer_id, cache_dir, "token reward model (π_dpo)")?;
    let r = logps(reference, &prepared, 2, micro, true, pad, tokenizer_id, cache_dir, "reference")?;
    let (Some(dt), Some(rt)) = (d.tokens, r.tokens) else {
        return Err(Error::invalid("tgdpo token rewards", "the reference cache returned no per-token log-probs"));
    };
    Ok(prepared
        .into_iter()
        .zip(dt.iter().zip(&rt))
        .map(|(mut e, (d, r))| {
            e.token_weights = Some(d.iter().zip(r).map(|(d, r)| d.iter().zip(r).map(|(a, b)| a - b).collect()).collect());
            e
        })
        .collect())
}

/// Share of response tokens whose weight `f = 1 ± αβΔ` is ≤ 0 (chosen `+`, rejected `−`).
pub fn nonpositive_share(examples: &[Example], alpha: f64, beta: f64) -> f64 {
    let (mut bad, mut all) = (0usize, 0usize);
    for e in examples {
        for (k, w) in e.token_weights.iter().flatten().enumerate() {
            let sign = if k == 0 { 1.0 } else { -1.0 };
            bad += w.iter().filter(|d| 1.0 + sign * alpha * beta * **d as f64 <= 0.0).count();
            all += w.len();
        }
    }
    bad as f64 / all.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::tiny;
    use shared::train::schedule::Schedule;

    #[test]
    fn token_rewards_are_the_per_token_log_ratio_of_the_two_frozen_models() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_m = tiny::config("llama", 30, 16, 32, 1, 2);
        let (vd, md) = tiny::model(&cfg_m, 1);
        let (vr, mr) = tiny::model(&cfg_m, 2);
        let ex = vec![Example::pair(vec![1, 2], vec![3, 4, 5], vec![6]), Example::pair(vec![7], vec![8], vec![9, 10])];
        let cfg = TrainConfig::new(2, 2, Schedule::cosine(1e-3, 0.0));
        let out = attach(&ex, Frozen { model: &md, vs: &vd }, Frozen { model: &mr, vs: &vr }, &cfg, 0, "t", dir.path()).unwrap();
        let w = out[0].token_weights.as_ref().unwrap();
        assert_eq!((w.len(), w[0].len(), w[1].len()), (2, 3, 1));
        let sum_d = shared::train::scoring::score(&md, &ex, &[0], 2, false, 0).unwrap().seq.double_value(&[0, 0]);
        let sum_r = shared::train::scoring::score(&mr, &ex, &[0], 2, false, 0).unwrap().seq.double_value(&[0, 0]);
        assert!((w[0].iter().map(|&x| x as f64).sum::<f64>() - (sum_d - sum_r)).abs() < 1e-4);
        // The same model as reward model and reference: every token reward is 0, TGDPO is DPO.
        let same = attach(&ex, Frozen { model: &mr, vs: &vr }, Frozen { model: &mr, vs: &vr }, &cfg, 0, "t", dir.path()).unwrap();
        assert!(same.iter().flat_map(|e| e.token_weights.iter().flatten().flatten()).all(|&x| x == 0.0));
        assert_eq!(nonpositive_share(&same, 2.0, 0.1), 0.0);
    }
}
