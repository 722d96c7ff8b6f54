//! The arithmetic of [`super::math`] against TRL's own functions (`fixtures/trl_rl.json`, written
//! by `fixtures/make_rl_fixtures.py` from TRL 0.11.4's `PPOTrainer` and TRL 1.16.0's
//! `GRPOTrainer`) and against the specs' test vectors (PAR vector 9, AutoRule vectors 3–6).

use super::math::{self, Aggregation, KlEstimator, Returns};
use serde_json::Value;
use tch::{Kind, Tensor};

fn fixtures() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/trl_rl.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; regenerate it with `.venv/bin/python shared/fixtures/make_rl_fixtures.py`", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn t(v: &Value, key: &str, shape: &[i64]) -> Tensor {
    let xs: Vec<f64> = v[key].as_array().unwrap_or_else(|| panic!("fixture has no `{key}`")).iter().map(|x| x.as_f64().unwrap()).collect();
    Tensor::from_slice(&xs).view(shape)
}

fn mask(v: &Value, b: i64, tt: i64) -> Tensor {
    let lens: Vec<i64> = v["lens"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    let m = Tensor::zeros([b, tt], (Kind::Double, tch::Device::Cpu));
    for (i, n) in lens.iter().enumerate() {
        let _ = m.get(i as i64).narrow(0, 0, *n).fill_(1.0);
    }
    m
}

fn close(a: &Tensor, b: &Tensor, tol: f64, what: &str) {
    let d = (a - b).abs().max().double_value(&[]);
    assert!(d <= tol, "{what}: max |diff| {d} > {tol}\nours {a}\nTRL {b}");
}

fn close_f(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{what}: ours {a}, TRL {b}");
}

#[test]
fn ppo_matches_trl_compute_rewards_advantages_and_loss() {
    let f = fixtures();
    assert_eq!(f["ppo_trl_version"], "0.11.4");
    let mut n = 0;
    for c in f["ppo"].as_array().unwrap().iter().filter(|c| c.get("kl_estimator").is_some()) {
        let (b, tt, v) = (c["b"].as_i64().unwrap(), c["t"].as_i64().unwrap(), c["v"].as_i64().unwrap());
        let src = c["source"].as_str().unwrap();
        let m = mask(c, b, tt);
        let est = match c["kl_estimator"].as_str().unwrap() {
            "k1" => KlEstimator::K1,
            "abs" => KlEstimator::Abs,
            "mse" => KlEstimator::Mse,
            other => panic!("{other}"),
        };
        let (logp, rf, values) = (t(c, "logp", &[b, tt]), t(c, "ref", &[b, tt]), t(c, "values", &[b, tt]));
        let (rho, kls) = math::token_rewards(&t(c, "scores", &[b]), &logp, &rf, &m, c["kl_coef"].as_f64().unwrap(), est).unwrap();
        close(&rho, &t(c, "rewards", &[b, tt]), 1e-12, &format!("{src}: per-token rewards"));
        close(&kls, &t(c, "kls", &[b, tt]), 1e-12, &format!("{src}: per-token KL"));
        let (gamma, lam) = (c["gamma"].as_f64().unwrap(), c["lam"].as_f64().unwrap());
        let adv = math::gae(&rho, &values, &m, gamma, lam);
        let ret = math::returns(Returns::Gae, &rho, &values, &adv, &m, gamma);
        close(&ret, &t(c, "returns", &[b, tt]), 1e-12, &format!("{src}: returns A + V"));
        // TRL whitens advantages over the batch's valid tokens with Bessel's correction.
        let adv = math::masked_whiten(&adv, &m, true, true) * &m;
        close(&adv, &t(c, "advantages", &[b, tt]), 1e-10, &format!("{src}: whitened GAE advantages"));
        // The update: clipped surrogate and clipped value loss, token means over the batch.
        let new_logp = t(c, "new_logp", &[b, tt]);
        let (pg, pg_clipped) = math::policy_loss(&new_logp, &logp, &adv, c["clip"].as_f64().unwrap());
        close_f(math::aggregate(&pg, &m, Aggregation::TokenMean).double_value(&[]), c["pg_loss"].as_f64().unwrap(), 1e-10, &format!("{src}: pg_loss"));
        close_f(math::aggregate(&pg_clipped, &m, Aggregation::TokenMean).double_value(&[]), c["pg_clipfrac"].as_f64().unwrap(), 1e-12, &format!("{src}: clipfrac"));
        let (vl, v_clipped) = math::value_loss(&t(c, "vpreds", &[b, tt]), &(&values * &m), &ret, c["value_clip"].as_f64());
        // TRL's vf_loss = vf_coef · ½ · masked_mean(max(...)): our `value_coef` is that ½·vf_coef.
        let ours = 0.5 * c["vf_coef"].as_f64().unwrap() * math::aggregate(&vl, &m, Aggregation::TokenMean).double_value(&[]);
        close_f(ours, c["vf_loss"].as_f64().unwrap(), 1e-10, &format!("{src}: vf_loss"));
        close_f(math::aggregate(&v_clipped, &m, Aggregation::TokenMean).double_value(&[]), c["vf_clipfrac"].as_f64().unwrap(), 1e-12, &format!("{src}: vf_clipfrac"));
        let d = (&new_logp - &logp) * &m;
        close_f(math::aggregate(&(d.square() * 0.5), &m, Aggregation::TokenMean).double_value(&[]), c["approxkl"].as_f64().unwrap(), 1e-12, &format!("{src}: approxkl"));
        let ent = math::entropy_from_logits(&t(c, "logits", &[b, tt, v]));
        close_f(math::aggregate(&ent, &m, Aggregation::TokenMean).double_value(&[]), c["entropy"].as_f64().unwrap(), 1e-10, &format!("{src}: entropy"));
        n += 1;
    }
    assert_eq!(n, 3, "three PPO cases (k1, abs, mse)");
}

#[test]
fn masked_statistics_match_trl_core() {
    let f = fixtures();
    let c = f["ppo"].as_array().unwrap().iter().find(|c| c.get("var_unbiased").is_some()).expect("the masked-statistics case");
    let (b, tt) = (c["b"].as_i64().unwrap(), c["t"].as_i64().unwrap());
    let (m, x) = (mask(c, b, tt), t(c, "x", &[b, tt]));
    close_f(math::masked_mean(&x, &m).double_value(&[]), c["mean"].as_f64().unwrap(), 1e-12, "masked_mean");
    close_f(math::masked_var(&x, &m, true).double_value(&[]), c["var_unbiased"].as_f64().unwrap(), 1e-12, "masked_var unbiased");
    close_f(math::masked_var(&x, &m, false).double_value(&[]), c["var_population"].as_f64().unwrap(), 1e-12, "masked_var population");
    close(&(math::masked_whiten(&x, &m, true, true) * &m), &t(c, "whiten", &[b, tt]), 1e-10, "masked_whiten");
    close(&(math::masked_whiten(&x, &m, true, false) * &m), &t(c, "whiten_keep_mean", &[b, tt]), 1e-10, "masked_whiten shift_mean=False");
}

#[test]
fn grpo_matches_trl_compute_loss_and_group_std() {
    let f = fixtures();
    assert_eq!(f["grpo_trl_version"], "1.16.0");
    let (mut losses, mut groups) = (0, 0);
    for c in f["grpo"].as_array().unwrap() {
        let src = c["source"].as_str().unwrap();
        if let Some(lt) = c.get("loss_type") {
            let (b, tt) = (c["b"].as_i64().unwrap(), c["t"].as_i64().unwrap());
            let m = mask(c, b, tt);
            let adv = t(c, "advantages", &[b]).unsqueeze(1).expand([b, tt], false);
            let (new_logp, old) = (t(c, "new_logp", &[b, tt]), t(c, "old_logp", &[b, tt]));
            let (mut per_token, _) = math::policy_loss(&new_logp, &old, &adv, c["clip"].as_f64().unwrap());
            let beta = c["beta"].as_f64().unwrap();
            if beta != 0.0 {
                per_token += math::kl(&new_logp, &t(c, "ref", &[b, tt]), KlEstimator::K3) * beta;
            }
            let agg = if lt == "grpo" { Aggregation::SequenceMean } else { Aggregation::TokenMean };
            close_f(math::aggregate(&per_token, &m, agg).double_value(&[]), c["loss"].as_f64().unwrap(), 1e-10, src);
            losses += 1;
        } else {
            let r: Vec<f64> = c["rewards"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            let want: Vec<f64> = c["advantages"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            let got = math::group_advantages(&r, c["group"].as_u64().unwrap() as usize, c["eps"].as_f64().unwrap(), true).unwrap();
            for (a, w) in got.iter().zip(&want) {
                close_f(*a, *w, 1e-12, src);
            }
            groups += 1;
        }
    }
    assert_eq!((losses, groups), (3, 2));
}

/// The fixture file is what TRL computes now: the script recomputes every case with the pinned
/// TRL releases and compares (`cargo xtask test` installs them; see the script's docstring).
#[test]
fn fixtures_are_what_trl_computes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let py = std::env::var_os("REPRO_PYTHON").map(std::path::PathBuf::from).unwrap_or_else(|| root.join(".venv/bin/python"));
    let trl_ppo = std::env::var_os("REPRO_TRL_PPO").map(std::path::PathBuf::from).unwrap_or_else(|| root.join(".venv/extra/trl-0.11.4"));
    assert!(trl_ppo.join("trl").is_dir(), "TRL 0.11.4 is not installed in {}: run the suite with `cargo xtask test` (it installs it there)", trl_ppo.display());
    let out = std::process::Command::new(&py)
        .arg(root.join("shared/fixtures/make_rl_fixtures.py"))
        .arg("--check")
        .env("REPRO_TRL_PPO", &trl_ppo)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run the suite with `cargo xtask test`", py.display()));
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// PAR spec test vector 9: one response of 3 tokens.
#[test]
fn par_vector_9_token_rewards_gae_returns_whitening() {
    let v = |x: &[f64]| Tensor::from_slice(x).view([1, x.len() as i64]);
    let (logp, rf, values, m) = (v(&[-1.0, -0.5, -2.0]), v(&[-1.2, -0.4, -2.5]), v(&[0.1, 0.2, 0.3]), v(&[1.0, 1.0, 1.0]));
    let (rho, _) = math::token_rewards(&Tensor::from_slice(&[0.8f64]), &logp, &rf, &m, 0.005, KlEstimator::K1).unwrap();
    close(&rho, &v(&[-0.001, 0.0005, 0.7975]), 1e-12, "token rewards");
    let adv = math::gae(&rho, &values, &m, 1.0, 0.95);
    close(&adv, &v(&[0.643469, 0.573125, 0.4975]), 5e-7, "GAE");
    close(&math::returns(Returns::MonteCarlo, &rho, &values, &adv, &m, 1.0), &v(&[0.797, 0.798, 0.7975]), 1e-12, "Monte-Carlo returns");
    close(&math::masked_whiten(&adv, &m, false, true), &v(&[1.20971, 0.0295349, -1.23924]), 5e-5, "whitened (population variance)");
}

/// AutoRule spec test vectors 3–6.
#[test]
fn autorule_vectors_group_norm_k3_and_clip() {
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let totals = [0.3 + 0.5, -0.2 + 1.7];
    let a = math::group_advantages(&totals, 2, 1e-9, true).unwrap();
    assert!((a[0] + s).abs() < 1e-6 && (a[1] - s).abs() < 1e-6, "{a:?}");
    let rm_only = math::group_advantages(&[0.3, -0.2], 2, 1e-9, true).unwrap();
    assert!((rm_only[0] - s).abs() < 1e-6 && (rm_only[1] + s).abs() < 1e-6, "the rules flip the order: {rm_only:?}");
    let a = math::group_advantages(&[1.0, 2.0, 0.5, -1.0], 4, 1e-9, true).unwrap();
    for (x, w) in a.iter().zip([0.3, 1.1, -0.1, -1.3]) {
        assert!((x - w).abs() < 1e-6, "{a:?}");
    }
    let k3 = math::kl(&Tensor::from_slice(&[-1.0f64]), &Tensor::from_slice(&[-1.2f64]), KlEstimator::K3).double_value(&[0]);
    assert!((k3 - 0.0187308).abs() < 5e-8, "{k3}");
    assert_eq!(math::clip_reward(12.0, Some(10.0)), 10.0);
    assert_eq!(math::clip_reward(-12.0, Some(10.0)), -10.0);
    assert_eq!(math::clip_reward(12.0, None), 12.0);
    // Ties get 0; groups must divide the batch.
    assert_eq!(math::group_advantages(&[1.0, 1.0], 2, 1e-9, true).unwrap(), vec![0.0, 0.0]);
    assert!(math::group_advantages(&[1.0, 2.0, 3.0], 2, 1e-9, true).is_err());
}

/// Micro-batching never changes an update: the aggregated loss of a batch equals the sum of its
/// micro-batches' shares (the steps divide by the whole batch's token count or row count).
#[test]
fn aggregation_splits_into_micro_batches() {
    let x = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).view([3, 2]);
    let m = Tensor::from_slice(&[1.0f64, 1.0, 1.0, 0.0, 1.0, 1.0]).view([3, 2]);
    for agg in [Aggregation::TokenMean, Aggregation::SequenceMean] {
        let whole = math::aggregate(&x, &m, agg).double_value(&[]);
        let denom = if agg == Aggregation::TokenMean { 5.0 } else { 3.0 };
        let parts = math::per_row(&x.narrow(0, 0, 2), &m.narrow(0, 0, 2), agg).sum(Kind::Double).double_value(&[]) / denom
            + math::per_row(&x.narrow(0, 2, 1), &m.narrow(0, 2, 1), agg).sum(Kind::Double).double_value(&[]) / denom;
        assert!((whole - parts).abs() < 1e-12, "{agg:?}");
    }
}

mod end_to_end {
    use crate::model::reward::RewardModel;
    use crate::model::tiny;
    use crate::rl::{FnReward, Models, NoMonitor, RlConfig, Sample};
    use tch::nn::VarStore;
    use tch::Device;

    const VOCAB: usize = 24;
    const GOOD: i64 = 7;

    fn cfg(algorithm: &str) -> RlConfig {
        let (k, critic, kl) = if algorithm == "ppo" {
            (1, "critic = { batch_size = 4, micro_batch = 2, schedule = { lr = 1e-2 } }", r#"{ coef = 0.01, estimator = "k1", place = "reward" }"#)
        } else {
            (2, "", r#"{ coef = 0.01, estimator = "k3", place = "loss" }"#)
        };
        let text = format!(
            r#"
algorithm = "{algorithm}"
prompts_per_rollout = 4
samples_per_prompt = {k}
epochs = 3
max_new_tokens = 5
temperature = 1.0
kl = {kl}
replay_buffer = {}
eval_every = 2
seed = 3
policy = {{ batch_size = 4, micro_batch = 2, schedule = {{ lr = 3e-2, warmup_ratio = 0.1 }} }}
{critic}
"#,
            if algorithm == "ppo" { 2 } else { 0 }
        );
        let c: RlConfig = toml::from_str(&text).unwrap();
        c.validate().unwrap();
        c
    }

    /// Reward: the fraction of response tokens that are GOOD (a task tiny models learn fast).
    fn reward() -> FnReward<impl FnMut(&[Sample]) -> crate::Result<Vec<f64>>> {
        FnReward { name: "good".into(), f: |s: &[Sample]| Ok(s.iter().map(|x| x.response.iter().filter(|&&t| t == GOOD).count() as f64 / x.response.len() as f64).collect()) }
    }

    struct Run {
        weights: Vec<(String, tch::Tensor)>,
        log: String,
        summary: crate::rl::RlSummary,
    }

    fn run(c: &RlConfig, dir: &std::path::Path, stops: &[usize]) -> Run {
        let lc = tiny::config("llama", VOCAB, 16, 32, 1, 2);
        let prompts: Vec<Vec<i64>> = (0..8).map(|i| vec![1, 2 + i % 5, 3 + i % 3]).collect();
        let mut last = None;
        for &stop in stops {
            // Fresh models each call, as a new process would have: everything comes from the checkpoints.
            let (mut pvs, policy) = tiny::model(&lc, 11);
            let (_rvs, reference) = tiny::model(&lc, 11);
            let mut cvs = VarStore::new(Device::Cpu);
            let critic = RewardModel::new(&cvs.root(), &lc).unwrap();
            tiny::init_seeded(&cvs, 5, 0.2);
            let mut c = c.clone();
            c.max_rollouts = Some(stop);
            let critic = (c.algorithm == crate::rl::Algorithm::Ppo).then_some((&critic, &mut cvs));
            let models = Models { policy: &policy, policy_vs: &mut pvs, reference: &reference, critic, pad: 0, stop_tokens: vec![1] };
            let s = crate::rl::run::run(models, &prompts, &mut reward(), &mut NoMonitor, &c, dir).unwrap();
            let mut w: Vec<(String, tch::Tensor)> = pvs.variables().into_iter().collect();
            w.sort_by(|a, b| a.0.cmp(&b.0));
            last = Some(Run { weights: w, log: std::fs::read_to_string(dir.join("rollouts.csv")).unwrap(), summary: s });
        }
        last.unwrap()
    }

    fn same(a: &Run, b: &Run) {
        assert_eq!(a.weights.len(), b.weights.len());
        for ((n, x), (_, y)) in a.weights.iter().zip(&b.weights) {
            assert!(x.equal(y), "{n} differs between the resumed and the uninterrupted run");
        }
        // Logged values agree except the throughput-like columns (none in rollouts.csv).
        assert_eq!(a.log, b.log);
    }

    fn check(algorithm: &str) {
        let c = cfg(algorithm);
        let total = c.total_rollouts(8);
        assert_eq!(total, 6);
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let whole = run(&c, d1.path(), &[total]);
        assert_eq!(whole.summary.rollouts, total);
        assert_eq!(whole.log.lines().count(), total + 1, "{}", whole.log);
        // Evaluations before training, every 2 rollouts, and at the end.
        assert_eq!(whole.summary.evaluations.iter().map(|e| e.rollout).collect::<Vec<_>>(), vec![0, 2, 4, 6]);
        let trained = c.trained_rollouts(8);
        assert_eq!(whole.summary.policy.steps, c.optimiser_steps(8, 4), "{trained} trained rollouts");
        if algorithm == "ppo" {
            assert_eq!(whole.summary.critic.as_ref().unwrap().steps, c.optimiser_steps(8, 4));
        }
        // Stopped after 1 and after 4 rollouts, then resumed: the same weights and log.
        let resumed = run(&c, d2.path(), &[1, 4, total]);
        assert_eq!(resumed.summary.resumed_from, Some(4));
        same(&whole, &resumed);
        // A finished run started again takes no step.
        let again = run(&c, d1.path(), &[total]);
        same(&whole, &again);
        // Another config in the same folder is refused with a message naming the folder.
        let mut other = c.clone();
        other.clip = 0.3;
        let lc = tiny::config("llama", VOCAB, 16, 32, 1, 2);
        let (mut pvs, policy) = tiny::model(&lc, 11);
        let prompts: Vec<Vec<i64>> = (0..8).map(|i| vec![1, 2 + i % 5, 3 + i % 3]).collect();
        let mut cvs = VarStore::new(Device::Cpu);
        let critic = RewardModel::new(&cvs.root(), &lc).unwrap();
        let critic = (c.algorithm == crate::rl::Algorithm::Ppo).then_some((&critic, &mut cvs));
        let models = Models { policy: &policy, policy_vs: &mut pvs, reference: &policy, critic, pad: 0, stop_tokens: vec![1] };
        let e = crate::rl::run::run(models, &prompts, &mut reward(), &mut NoMonitor, &other, d1.path()).unwrap_err().to_string();
        assert!(e.contains("another config"), "{e}");
    }

    #[test]
    fn ppo_runs_logs_and_resumes_exactly() {
        check("ppo");
    }

    #[test]
    fn grpo_runs_logs_and_resumes_exactly() {
        check("grpo");
    }

    /// The update moves the policy toward the reward: GRPO on "emit GOOD" raises the reward.
    #[test]
    fn grpo_raises_a_learnable_reward() {
        let mut c = cfg("grpo");
        c.epochs = 12;
        c.samples_per_prompt = 4;
        c.policy.batch_size = 8;
        c.policy.micro_batch = 8;
        let d = tempfile::tempdir().unwrap();
        run(&c, d.path(), &[c.total_rollouts(8)]);
        let csv = std::fs::read_to_string(d.path().join("rollouts.csv")).unwrap();
        let mut rdr = csv::Reader::from_reader(csv.as_bytes());
        let col = rdr.headers().unwrap().iter().position(|h| h == "reward").unwrap();
        let r: Vec<f64> = rdr.records().map(|x| x.unwrap()[col].parse().unwrap()).collect();
        let (first, last) = (r[..3].iter().sum::<f64>() / 3.0, r[r.len() - 3..].iter().sum::<f64>() / 3.0);
        assert!(last > first + 0.2, "reward per rollout {r:?}");
    }
}
