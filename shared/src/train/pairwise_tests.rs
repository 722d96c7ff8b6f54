//! Tests of the pairwise trainer on a tiny Llama.

use super::*;
use crate::model::{sequence_logps, TokenBatch};
use crate::objectives::{dpo::Dpo, kto::Kto, ObjectiveConfig, PairLogps};
use crate::train::optim::AdamWConfig;
use crate::train::schedule::Schedule;
use tch::{Kind, Tensor};

fn tiny(seed: i64) -> (VarStore, Llama) {
    crate::model::tiny::model(&crate::model::tiny::config("llama", 40, 16, 32, 1, 2), seed as u64)
}

fn pairs() -> Vec<Pair> {
    (0..6i64)
        .map(|i| Pair {
            prompt: vec![1, 2 + i, 3 + i],
            chosen: (0..(2 + i % 3)).map(|k| 10 + (i + k) % 7).collect(),
            rejected: (0..(3 + i % 2)).map(|k| 20 + (i * k) % 9).collect(),
        })
        .collect()
}

fn cfg(batch: usize, micro: usize) -> PairwiseConfig {
    let mut c = TrainConfig::new(batch, micro, Schedule::cosine(1e-2, 0.1)).truncating(32, 16);
    (c.epochs, c.seed) = (2, 3);
    c
}

fn reference(ps: &[Pair], kl: bool, dir: &Path) -> RefLogps {
    let (rvs, r) = tiny(0);
    let obj: &dyn PairObjective = if kl { &Kto::new(0.2) } else { &Dpo::new(0.1) };
    reference_for(obj, &r, &rvs, ps, &cfg(4, 4), "test-tokenizer", dir).unwrap().unwrap()
}

/// Summed response log-probs of rows [chosen.., rejected.., mismatched..] of `idx`.
fn forward_rows(m: &Llama, ps: &[Pair], idx: &[usize], kl: bool) -> Tensor {
    let mut seqs: Vec<(Vec<i64>, Vec<i64>)> = idx.iter().map(|&i| (ps[i].prompt.clone(), ps[i].chosen.clone())).collect();
    seqs.extend(idx.iter().map(|&i| (ps[i].prompt.clone(), ps[i].rejected.clone())));
    if kl {
        seqs.extend(idx.iter().map(|&i| (ps[i].prompt.clone(), ps[(i + 1) % ps.len()].chosen.clone())));
    }
    sequence_logps(m, &TokenBatch::from_pairs(&seqs, 0, m.device())).unwrap().sum
}

fn lens(ps: &[Pair], idx: &[usize], chosen: bool) -> Tensor {
    Tensor::from_slice(&idx.iter().map(|&i| (if chosen { &ps[i].chosen } else { &ps[i].rejected }).len() as f32).collect::<Vec<f32>>())
}

fn params(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn max_diff(a: &VarStore, b: &VarStore) -> f64 {
    params(a).iter().zip(params(b)).map(|((_, x), (_, y))| (x - y).abs().max().double_value(&[])).fold(0.0, f64::max)
}

#[test]
fn truncation_is_trl_style_and_empty_is_an_error() {
    let p = Pair { prompt: (0..10).collect(), chosen: (100..108).collect(), rejected: vec![7, 8] };
    // 10 + 8 > 12: keep the last 4 prompt tokens; 4 + 8 = 12 fits.
    let t = truncate(&p, 0, 12, 4).unwrap();
    assert_eq!(t.prompt, vec![6, 7, 8, 9]);
    assert_eq!(t.chosen.len(), 8);
    // max 10: still too long after the prompt cut → responses cut to 10 − 4 = 6.
    let t = truncate(&p, 0, 10, 4).unwrap();
    assert_eq!((t.prompt.len(), t.chosen, t.rejected), (4, (100..106).collect(), vec![7, 8]));
    // Short pairs are untouched.
    assert_eq!(truncate(&p, 0, 100, 50).unwrap(), p);
    let e = Pair { rejected: vec![], ..p.clone() };
    let err = truncate(&e, 5, 12, 4).unwrap_err().to_string();
    assert!(err.contains("pair 5") && err.contains("empty rejected"), "{err}");
    let e = Pair { prompt: vec![], ..p };
    assert!(truncate(&e, 0, 12, 4).unwrap_err().to_string().contains("empty prompt"));
}

#[test]
fn first_dpo_step_has_loss_ln2_and_cache_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let ps = pairs();
    let r = reference(&ps, false, dir.path());
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
    let again = reference(&ps, false, dir.path()); // read back from disk, same key
    assert_eq!(again, r);
    let mut other = ps.clone();
    other[0].chosen.push(5);
    assert_ne!(reference(&other, false, dir.path()).key, r.key);

    let (mut vs, m) = tiny(0); // policy = reference at the start
    let c = PairwiseConfig { max_steps: Some(2), ..cfg(3, 3) };
    let s = train(&m, &mut vs, &Dpo::new(0.1), &ps, Some(&r), &c, &dir.path().join("run")).unwrap();
    assert_eq!(s.steps, 2);
    let csv = std::fs::read_to_string(dir.path().join("run/metrics.csv")).unwrap();
    let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let loss: f64 = first[header.iter().position(|c| *c == "loss").unwrap()].parse().unwrap();
    assert!((loss - std::f64::consts::LN_2).abs() < 1e-5, "{csv}");
}

#[test]
fn accumulation_equals_the_large_batch() {
    let dir = tempfile::tempdir().unwrap();
    let ps = pairs();
    let r = reference(&ps, false, dir.path());
    let obj = Dpo::new(0.5);
    let run = |micro: usize, name: &str| {
        let (mut vs, m) = tiny(0);
        let c = PairwiseConfig { max_steps: Some(2), optim: AdamWConfig { max_grad_norm: Some(0.5), ..Default::default() }, ..cfg(6, micro) };
        train(&m, &mut vs, &obj, &ps, Some(&r), &c, &dir.path().join(name)).unwrap();
        vs
    };
    let big = run(6, "big");
    let (vs0, _) = tiny(0);
    assert!(max_diff(&big, &vs0) > 1e-4, "training must move the weights");
    for micro in [1, 2, 4] {
        let d = max_diff(&big, &run(micro, &format!("m{micro}")));
        assert!(d < 1e-5, "micro {micro}: max |Δθ| = {d}");
    }
}

#[test]
fn gradient_checkpointing_trains_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let ps = pairs();
    let r = reference(&ps, false, dir.path());
    let obj = Dpo::new(0.5);
    let run = |gc: bool, name: &str| {
        let (mut vs, m) = tiny(0);
        let c = PairwiseConfig { max_steps: Some(3), gradient_checkpointing: gc, ..cfg(4, 2) };
        train(&m, &mut vs, &obj, &ps, Some(&r), &c, &dir.path().join(name)).unwrap();
        vs
    };
    let plain = run(false, "plain");
    let (vs0, _) = tiny(0);
    assert!(max_diff(&plain, &vs0) > 1e-4, "training must move the weights");
    let d = max_diff(&plain, &run(true, "gc"));
    assert!(d < 1e-5, "max |Δθ| = {d}");
    // A step that cannot recompute refuses the setting instead of ignoring it.
    let (mut vs, m) = tiny(0);
    let c = PairwiseConfig { gradient_checkpointing: true, ..cfg(4, 2) };
    let e = crate::train::engine::run(&mut vs, &mut crate::train::sft::SftStep::new(&m, &[crate::train::sft::SftExample { prompt: vec![1, 2], response: vec![3, 4] }], 0, crate::train::sft::LossNorm::TokenMean).unwrap(), &c, &dir.path().join("sft")).unwrap_err();
    assert!(e.to_string().contains("gradient checkpointing"), "{e}");
}

#[test]
fn resume_replays_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let ps = pairs();
    let r = reference(&ps, true, dir.path());
    let obj = Kto::new(0.2); // exercises the mismatched KL sample too
    let (mut straight, m) = tiny(0);
    let c4 = PairwiseConfig { max_steps: Some(4), ..cfg(2, 1) };
    train(&m, &mut straight, &obj, &ps, Some(&r), &c4, &dir.path().join("a")).unwrap();

    let (mut vs, m) = tiny(0);
    let c2 = PairwiseConfig { max_steps: Some(2), ..c4.clone() };
    train(&m, &mut vs, &obj, &ps, Some(&r), &c2, &dir.path().join("b")).unwrap();
    let (mut fresh, m2) = tiny(5); // different init: everything must come from the checkpoint
    let s = train(&m2, &mut fresh, &obj, &ps, Some(&r), &c4, &dir.path().join("b")).unwrap();
    assert_eq!((s.resumed_from, s.steps), (Some(2), 4));
    assert!(max_diff(&straight, &fresh) < 1e-6, "{}", max_diff(&straight, &fresh));
    // The metric logs agree but for the timing column.
    let untimed = |p: &str| -> String {
        let text = std::fs::read_to_string(dir.path().join(p)).unwrap();
        let col = text.lines().next().unwrap().split(',').position(|c| c == "tokens_per_s").unwrap();
        text.lines().map(|l| l.split(',').enumerate().filter(|(i, _)| *i != col).map(|(_, v)| v).collect::<Vec<_>>().join(",") + "\n").collect()
    };
    let (a, b) = (untimed("a/metrics.csv"), untimed("b/metrics.csv"));
    assert_eq!(a.lines().count(), 5);
    assert_eq!(a, b, "resumed metric log must equal the straight one");
    // Resuming a finished run trains nothing and reports the last step's loss, not zero.
    let (mut again, m3) = tiny(5);
    let done = train(&m3, &mut again, &obj, &ps, Some(&r), &c4, &dir.path().join("b")).unwrap();
    assert_eq!((done.resumed_from, done.steps), (Some(4), 4));
    assert!((done.final_loss - s.final_loss).abs() < 1e-12 && done.final_loss > 0.0, "{} vs {}", done.final_loss, s.final_loss);
}

#[test]
fn bad_setups_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vs, m) = tiny(0);
    let err = train(&m, &mut vs, &Dpo::new(0.1), &pairs(), None, &cfg(2, 1), dir.path()).unwrap_err().to_string();
    assert!(err.contains("reference"), "{err}");
    let err = train(&m, &mut vs, &Dpo::new(0.1), &pairs(), None, &cfg(2, 3), dir.path()).unwrap_err().to_string();
    assert!(err.contains("micro_batch"), "{err}");
    let mut ps = pairs();
    ps[4].chosen.clear();
    let obj = ObjectiveConfig::from_toml("type = \"cpo\"\n", "t.toml").unwrap().build().unwrap();
    let err = train(&m, &mut vs, obj.as_ref(), &ps, None, &cfg(2, 1), dir.path()).unwrap_err().to_string();
    assert!(err.contains("pair 4") && err.contains("empty chosen"), "{err}");
}

/// Every objective, through the tiny model: the autograd gradient `g` against a central difference
/// along `u = g/|g|` over all weights, `(L(θ+hu) − L(θ−hu))/2h ≈ |g|` (the model scores in f32, so a
/// directional difference with h = 1e-2 is the precise check; per-weight differences drown in rounding).
#[test]
fn objective_gradients_through_the_model() {
    let (vs, m) = tiny(0);
    let ps: Vec<Pair> = pairs().into_iter().take(3).collect();
    let idx = [0usize, 1, 2];
    let refs = [-9.0f32, -12.0, -8.5, -14.0, -11.0, -13.5, -10.0, -9.5, -12.5];
    let vars: Vec<Tensor> = params(&vs).into_iter().map(|(_, t)| t).collect();
    for name in ["dpo", "ipo", "slic", "cpo", "orpo", "kto", "rdpo", "rrhf"] {
        let obj = ObjectiveConfig::from_toml(&format!("type = \"{name}\"\n"), "t.toml").unwrap().build().unwrap();
        let loss = |m: &Llama| {
            let lp = forward_rows(m, &ps, &idx, true);
            let t = |v: &[f32]| Tensor::from_slice(v);
            let x = PairLogps::new(lp.narrow(0, 0, 3), lp.narrow(0, 3, 3), lens(&ps, &idx, true), lens(&ps, &idx, false))
                .with_reference(t(&refs[..3]), t(&refs[3..6]))
                .with_kl_sample(lp.narrow(0, 6, 3).detach(), t(&refs[6..]));
            obj.loss(&x).unwrap().mean()
        };
        for v in &vars {
            if v.grad().defined() {
                let _ = v.grad().zero_();
            }
        }
        loss(&m).backward();
        let grads: Vec<Tensor> = vars.iter().map(|v| v.grad().copy()).collect();
        let norm = grads.iter().map(|g| g.to_kind(Kind::Double).square().sum(Kind::Double).double_value(&[])).sum::<f64>().sqrt();
        assert!(norm > 1e-4, "{name}: gradient norm {norm}");
        let h = 1e-2;
        let shift = |d: f64| {
            tch::no_grad(|| {
                for (v, g) in vars.iter().zip(&grads) {
                    let _ = v.shallow_clone().g_add_(&(g * (d / norm)));
                }
            })
        };
        shift(h);
        let up = tch::no_grad(|| loss(&m).double_value(&[]));
        shift(-2.0 * h);
        let down = tch::no_grad(|| loss(&m).double_value(&[]));
        shift(h);
        let fd = (up - down) / (2.0 * h);
        assert!((fd - norm).abs() <= 2e-2 * norm, "{name}: |g| {norm} vs directional difference {fd}");
    }
}
