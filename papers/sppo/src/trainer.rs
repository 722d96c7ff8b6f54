//! One iteration's training: a copy of `pi_t` (the `model` passed in, updated in place) trained
//! for one epoch on `{(x, y_w, y_l, Phat_w, Phat_l, P_wl)}` against the frozen `pi_t`.
//!
//! The shared pairwise trainer's objectives see only log-probs, not per-pair targets, so this is
//! a small loop of its own built from the shared pieces: TRL-style truncation
//! ([`pairwise::truncate`]), summed response log-probs ([`sequence_logps`]), AdamW with gradient
//! clipping and micro-batch accumulation ([`AdamW`], [`micro_batch_loss`]), linear warm-up then
//! constant ([`Schedule`]). The reference log-probs are those of the model before the first step
//! (it *is* `pi_t`), so no second copy is kept.

use crate::config::Train;
use crate::loss::Objective;
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use shared::model::{sequence_logps, Llama, TokenBatch};
use shared::train::optim::{micro_batch_loss, AdamW};
use shared::train::pairwise::{self, Pair};
use shared::train::schedule::{Decay, Schedule};
use tch::{nn::VarStore, Kind, Tensor};

/// One training example: the pair (stop token included) and its win-rate estimates.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainPair {
    pub pair: Pair,
    pub phat_w: f64,
    pub phat_l: f64,
    pub p_wl: f64,
}

/// What an iteration's training reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainStats {
    pub steps: u64,
    /// Mean per-pair loss over the epoch.
    pub mean_loss: f64,
    /// After training, on its own training pairs: mean `D_w` and `D_l` (log pi_{t+1} - log pi_t).
    pub mean_d_w: f64,
    pub mean_d_l: f64,
    /// Fraction of pairs with `D_w > 0` and with `D_l < 0`.
    pub frac_w_up: f64,
    pub frac_l_down: f64,
}

/// Summed response log-probs `[2n]`: chosen rows then rejected rows of `idx`.
fn logps(model: &Llama, pairs: &[TrainPair], idx: &[usize], pad: i64) -> Result<Tensor> {
    let mut seqs: Vec<(Vec<i64>, Vec<i64>)> = idx.iter().map(|&i| (pairs[i].pair.prompt.clone(), pairs[i].pair.chosen.clone())).collect();
    seqs.extend(idx.iter().map(|&i| (pairs[i].pair.prompt.clone(), pairs[i].pair.rejected.clone())));
    Ok(sequence_logps(model, &TokenBatch::from_pairs(&seqs, pad, model.device()))?.sum)
}

fn all_logps(model: &Llama, pairs: &[TrainPair], micro: usize, pad: i64) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut w, mut l) = (vec![], vec![]);
    tch::no_grad(|| -> Result<()> {
        for start in (0..pairs.len()).step_by(micro.max(1)) {
            let idx: Vec<usize> = (start..(start + micro).min(pairs.len())).collect();
            let v = Vec::<f64>::try_from(logps(model, pairs, &idx, pad)?.to_kind(Kind::Double))?;
            w.extend_from_slice(&v[..idx.len()]);
            l.extend_from_slice(&v[idx.len()..]);
        }
        Ok(())
    })?;
    Ok((w, l))
}

fn pick(v: &[f64], idx: &[usize]) -> Tensor {
    Tensor::from_slice(&idx.iter().map(|&i| v[i] as f32).collect::<Vec<f32>>())
}

/// Train `model` (weights in `vs`) for one epoch with `objective`; `seed` orders the batches.
#[allow(clippy::too_many_arguments)]
pub fn train_iteration(model: &Llama, vs: &VarStore, objective: &Objective, lr: f64, data: &[TrainPair], cfg: &Train, pad: i64, seed: u64) -> Result<TrainStats> {
    anyhow::ensure!(!data.is_empty(), "no training pairs (every group's samples tied)");
    let data: Vec<TrainPair> = data
        .iter()
        .enumerate()
        .map(|(i, d)| Ok(TrainPair { pair: pairwise::truncate(&d.pair, i, cfg.max_length, cfg.max_prompt_length)?, ..d.clone() }))
        .collect::<Result<_>>()?;
    let (ref_w, ref_l) = all_logps(model, &data, cfg.micro_batch, pad)?;
    let sppo = match objective {
        Objective::Sppo(s) => Some(s),
        _ => None,
    };
    let targets: Vec<(f64, f64)> = data.iter().map(|d| sppo.map_or((0.0, 0.0), |s| s.targets(d.phat_w, d.phat_l, d.p_wl))).collect();
    let (tw, tl): (Vec<f64>, Vec<f64>) = targets.into_iter().unzip();
    let lens = |idx: &[usize], chosen: bool| Tensor::from_slice(&idx.iter().map(|&i| (if chosen { &data[i].pair.chosen } else { &data[i].pair.rejected }).len() as f32).collect::<Vec<f32>>());

    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let total = data.len().div_ceil(cfg.batch_size) as u64;
    let stop = cfg.max_steps.map_or(total, |m| m.min(total));
    let schedule = Schedule { lr, warmup_ratio: cfg.warmup_ratio, decay: Decay::Constant };
    let mut opt = AdamW::new(vs, cfg.optim.clone());
    let (mut loss_sum, mut seen) = (0.0, 0usize);
    for step in 0..stop {
        let batch = &order[step as usize * cfg.batch_size..((step as usize + 1) * cfg.batch_size).min(order.len())];
        opt.zero_grad();
        for micro in batch.chunks(cfg.micro_batch) {
            let n = micro.len() as i64;
            let lp = logps(model, &data, micro, pad)?;
            let per = objective.per_pair(&lp.narrow(0, 0, n), &lp.narrow(0, n, n), &pick(&ref_w, micro), &pick(&ref_l, micro), &lens(micro, true), &lens(micro, false), &pick(&tw, micro), &pick(&tl, micro))?;
            loss_sum += per.to_kind(Kind::Double).sum(Kind::Double).double_value(&[]);
            seen += micro.len();
            micro_batch_loss(&per, batch.len()).backward();
        }
        opt.step(schedule.lr_at(step, total))?;
    }
    let (new_w, new_l) = all_logps(model, &data, cfg.micro_batch, pad)?;
    let n = data.len() as f64;
    let d_w: Vec<f64> = new_w.iter().zip(&ref_w).map(|(a, b)| a - b).collect();
    let d_l: Vec<f64> = new_l.iter().zip(&ref_l).map(|(a, b)| a - b).collect();
    Ok(TrainStats {
        steps: stop,
        mean_loss: loss_sum / seen.max(1) as f64,
        mean_d_w: d_w.iter().sum::<f64>() / n,
        mean_d_l: d_l.iter().sum::<f64>() / n,
        frac_w_up: d_w.iter().filter(|d| **d > 0.0).count() as f64 / n,
        frac_l_down: d_l.iter().filter(|d| **d < 0.0).count() as f64 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{Sppo, SppoVariant};
    use shared::model::tiny;

    fn data() -> Vec<TrainPair> {
        (0..8)
            .map(|i| TrainPair { pair: Pair { prompt: vec![1, 2 + i % 3], chosen: vec![5, 6, 7], rejected: vec![8, 9] }, phat_w: 0.8, phat_l: 0.2, p_wl: 0.9 })
            .collect()
    }

    fn cfg() -> Train {
        Train { batch_size: 4, micro_batch: 2, warmup_ratio: 0.0, max_length: 16, max_prompt_length: 8, optim: Default::default(), max_steps: None }
    }

    /// SPPO moves each log-ratio toward its target: the winner up, the loser down.
    #[test]
    fn sppo_raises_the_winner_and_lowers_the_loser() {
        let (vs, m) = tiny::model(&tiny::config("llama", 12, 16, 32, 1, 2), 3);
        let obj = Objective::Sppo(Sppo::new(10.0, SppoVariant::Soft));
        let mut s = TrainStats::default();
        for epoch in 0..5 {
            s = train_iteration(&m, &vs, &obj, 1e-2, &data(), &cfg(), 0, epoch).unwrap();
        }
        assert_eq!(s.steps, 2);
        assert!(s.mean_d_w > 0.0 && s.mean_d_l < 0.0, "{s:?}");
    }

    #[test]
    fn training_is_deterministic_and_empty_data_is_an_error() {
        let run = || {
            let (vs, m) = tiny::model(&tiny::config("llama", 12, 16, 32, 1, 2), 3);
            train_iteration(&m, &vs, &Objective::Dpo { beta: 0.1 }, 1e-2, &data(), &cfg(), 0, 1).unwrap()
        };
        assert_eq!(run(), run());
        let (vs, m) = tiny::model(&tiny::config("llama", 12, 16, 32, 1, 2), 3);
        assert!(train_iteration(&m, &vs, &Objective::Dpo { beta: 0.1 }, 1e-2, &[], &cfg(), 0, 1).is_err());
    }
}
