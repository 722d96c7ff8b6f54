//! Tests of the objectives: the SimPO spec's test vectors, TRL golden fixtures, finite-difference
//! gradients, bad input and config parsing.

use super::*;
use serde::Deserialize;
use tch::{Kind, Tensor};

fn t(v: &[f64]) -> Tensor {
    Tensor::from_slice(v)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-9)
}

/// The spec's baseline pair: π_θ y_w −50, y_l −60; π_ref y_w −52, y_l −58; |y_w| 10, |y_l| 8.
fn spec_pair() -> PairLogps {
    PairLogps::new(t(&[-50.0]), t(&[-60.0]), t(&[10.0]), t(&[8.0])).with_reference(t(&[-52.0]), t(&[-58.0]))
}

fn loss_of(obj: &dyn PairObjective, x: &PairLogps) -> f64 {
    obj.loss(x).unwrap().loss.double_value(&[0])
}

#[test]
fn spec_vectors_dpo_ipo_rdpo_kto() {
    let x = spec_pair();
    for (beta, want) in [(0.01, 0.673347), (0.1, 0.513015)] {
        let got = loss_of(&dpo::Dpo::new(beta), &x);
        assert!(close(got, want, 1e-5), "DPO β={beta}: {got} vs {want}");
    }
    for (tau, want) in [(0.1, 1.0), (0.5, 9.0), (1.0, 12.25)] {
        let ipo = ipo::Ipo { tau, length_normalize: false };
        let got = loss_of(&ipo, &x);
        assert!(close(got, want, 1e-9), "IPO τ={tau}: {got} vs {want}");
    }
    let got = loss_of(&rdpo::Rdpo::new(0.1, 0.05), &x);
    assert!(close(got, 0.474077, 1e-5), "R-DPO {got}");
    // KTO β 0.1, z_ref = β·KL = 0.5: a mismatched sample whose mean log-ratio is 5.
    let kto = kto::Kto::new(0.1);
    let xk = spec_pair().with_kl_sample(t(&[-45.0, -40.0]), t(&[-50.0, -45.0]));
    let got = loss_of(&kto, &xk);
    assert!(close(got, 0.906255, 1e-5), "KTO {got}");
}

#[test]
fn spec_vectors_reference_free() {
    let x = spec_pair();
    let cpo = cpo::Cpo { nll: NllNorm::Sum, ..cpo::Cpo::new(0.1, 1.0) };
    assert!(close(loss_of(&cpo, &x), 50.3133, 1e-5));
    let pref = cpo::Cpo { lambda: 0.0, ..cpo.clone() };
    assert!(close(loss_of(&pref, &x), 0.313262, 1e-5));
    assert!(close(loss_of(&slic::Slic::new(1.0, 0.1), &x), 5.0, 1e-12));
    assert!(close(loss_of(&slic::Slic::new(2.0, 0.5), &x), 25.0, 1e-12));
    let x2 = PairLogps::new(t(&[-55.0]), t(&[-54.5]), t(&[10.0]), t(&[8.0]));
    assert!(close(loss_of(&slic::Slic::new(1.0, 0.1), &x2), 7.0, 1e-12));
    let r1 = PairLogps::new(t(&[-12.0]), t(&[-20.0]), t(&[10.0]), t(&[8.0]));
    assert!(close(loss_of(&rrhf::Rrhf::new(0.1), &r1), 1.2, 1e-12));
    assert!(close(loss_of(&rrhf::Rrhf::new(0.0), &r1), 0.0, 1e-12));
    let r2 = PairLogps::new(t(&[-30.0]), t(&[-10.0]), t(&[10.0]), t(&[8.0]));
    assert!(close(loss_of(&rrhf::Rrhf::new(0.0), &r2), 1.75, 1e-12));
    assert!(close(loss_of(&rrhf::Rrhf::new(0.1), &r2), 4.75, 1e-12));
    // ORPO: p̄_w −1.2, p̄_l −2.5 (sum −12 over 10, −20 over 8), SFT term −p̄_w.
    for (lam, want) in [(0.1, 1.21885), (0.5, 1.29427), (1.0, 1.38853), (2.0, 1.57707)] {
        let orpo = orpo::Orpo { lambda: lam, nll: NllNorm::SequenceMean };
        let got = loss_of(&orpo, &r1);
        assert!(close(got, want, 1e-5), "ORPO λ={lam}: {got} vs {want}");
    }
    let lo = orpo::log1mexp(&t(&[-1.2])) - orpo::log1mexp(&t(&[-2.5]));
    assert!(close(1.3 - lo.double_value(&[0]), 1.57273, 1e-5));
}

#[test]
fn metrics_are_means_margins_and_accuracy() {
    let x = PairLogps::new(t(&[-5.0, -9.0]), t(&[-6.0, -8.0]), t(&[1.0, 1.0]), t(&[1.0, 1.0]))
        .with_reference(t(&[-5.0, -5.0]), t(&[-5.0, -5.0]));
    let m = dpo::Dpo::new(1.0).loss(&x).unwrap().metrics();
    assert!(close(m.chosen_reward, -2.0, 1e-12));
    assert!(close(m.rejected_reward, -2.0, 1e-12));
    assert!(close(m.margin, 0.0, 1e-12) || m.margin.abs() < 1e-12);
    assert!(close(m.accuracy, 0.5, 1e-12));
}

#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    source: String,
    objective: ObjectiveConfig,
    inputs: Inputs,
    scale: f64,
    batch_loss: f64,
    chosen_reward: f64,
    rejected_reward: f64,
    #[serde(default)]
    per_pair_preference: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct Inputs {
    chosen: Vec<f64>,
    rejected: Vec<f64>,
    chosen_len: Vec<f64>,
    rejected_len: Vec<f64>,
    ref_chosen: Option<Vec<f64>>,
    ref_rejected: Option<Vec<f64>>,
    kl_policy: Option<Vec<f64>>,
    kl_ref: Option<Vec<f64>>,
}

impl Inputs {
    fn logps(&self) -> PairLogps {
        let mut x = PairLogps::new(t(&self.chosen), t(&self.rejected), t(&self.chosen_len), t(&self.rejected_len));
        if let (Some(a), Some(b)) = (&self.ref_chosen, &self.ref_rejected) {
            x = x.with_reference(t(a), t(b));
        }
        if let (Some(a), Some(b)) = (&self.kl_policy, &self.kl_ref) {
            x = x.with_kl_sample(t(a), t(b));
        }
        x
    }
}

/// Values produced by TRL's own loss code (`shared/fixtures/make_trl_fixtures.py`), within 1e-6 relative.
#[test]
fn agrees_with_trl_fixtures() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/trl_objectives.json");
    let fx: Fixtures = crate::io::read_json(&path).unwrap();
    assert!(fx.cases.len() >= 13);
    for case in &fx.cases {
        let obj = case.objective.build().unwrap();
        let out = obj.loss(&case.inputs.logps()).unwrap();
        let got = out.mean().double_value(&[]) * case.scale;
        assert!(close(got, case.batch_loss, 1e-6), "{}: {:?}: ours {got} vs TRL {}", case.source, case.objective, case.batch_loss);
        let m = out.metrics();
        assert!(close(m.chosen_reward, case.chosen_reward, 1e-6), "{}: chosen reward {} vs {}", case.source, m.chosen_reward, case.chosen_reward);
        assert!(close(m.rejected_reward, case.rejected_reward, 1e-6), "{}: rejected reward", case.source);
        if let Some(pref) = &case.per_pair_preference {
            // CPO's preference part alone: our loss with λ = 0.
            let ObjectiveConfig::Cpo(c) = &case.objective else { panic!("per-pair values are CPO's") };
            let p = cpo::Cpo { lambda: 0.0, ..c.clone() }.loss(&case.inputs.logps()).unwrap().loss;
            for (i, want) in pref.iter().enumerate() {
                assert!(close(p.double_value(&[i as i64]), *want, 1e-6), "{}: pair {i}", case.source);
            }
        }
    }
}

fn all_objectives() -> Vec<Box<dyn PairObjective>> {
    use dpo::{Dpo, DpoLoss};
    vec![
        Box::new(Dpo::new(0.5)),
        Box::new(Dpo { label_smoothing: 0.1, ..Dpo::new(0.5) }),
        Box::new(Dpo { loss_type: DpoLoss::Robust, label_smoothing: 0.2, ..Dpo::new(0.5) }),
        Box::new(Dpo { loss_type: DpoLoss::Hinge, ..Dpo::new(0.1) }),
        Box::new(ipo::Ipo::new(0.5)),
        Box::new(ipo::Ipo { tau: 0.5, length_normalize: false }),
        Box::new(slic::Slic::new(3.0, 0.1)),
        Box::new(cpo::Cpo::new(0.5, 1.0)),
        Box::new(cpo::Cpo { nll: NllNorm::Sum, ..cpo::Cpo::new(0.5, 1.0) }),
        Box::new(orpo::Orpo::new(0.5)),
        Box::new(kto::Kto::new(0.5)),
        Box::new(rdpo::Rdpo::new(0.5, 0.1)),
        Box::new(rrhf::Rrhf::new(0.1)),
    ]
}

/// Leaf-tensor log-probs chosen away from every hinge's kink.
fn grad_inputs() -> (Vec<f64>, Vec<f64>) {
    (vec![-4.0, -9.5, -3.0], vec![-6.5, -5.0, -8.0])
}

fn batch_loss(obj: &dyn PairObjective, w: &Tensor, l: &Tensor) -> Tensor {
    let x = PairLogps::new(w.shallow_clone(), l.shallow_clone(), t(&[4.0, 7.0, 3.0]), t(&[5.0, 6.0, 2.0]))
        .with_reference(t(&[-4.5, -9.0, -3.5]), t(&[-6.0, -5.5, -7.0]))
        .with_kl_sample(t(&[-5.0, -3.0]), t(&[-5.5, -3.2]));
    obj.loss(&x).unwrap().mean()
}

/// Autograd gradient of the batch loss w.r.t. the policy log-probs = central finite differences.
#[test]
fn finite_difference_gradients() {
    let (w0, l0) = grad_inputs();
    for obj in all_objectives() {
        let w = t(&w0).set_requires_grad(true);
        let l = t(&l0).set_requires_grad(true);
        batch_loss(obj.as_ref(), &w, &l).backward();
        let (gw, gl) = (w.grad(), l.grad());
        let h = 1e-6;
        for which in 0..2 {
            for i in 0..3usize {
                let bump = |d: f64| {
                    let (mut a, mut b) = (w0.clone(), l0.clone());
                    if which == 0 { a[i] += d } else { b[i] += d }
                    batch_loss(obj.as_ref(), &t(&a), &t(&b)).double_value(&[])
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * h);
                let ad = if which == 0 { gw.double_value(&[i as i64]) } else { gl.double_value(&[i as i64]) };
                assert!((fd - ad).abs() <= 1e-6 + 1e-5 * ad.abs(), "{} d/d{}[{i}]: autograd {ad} vs fd {fd}", obj.name(), ["w", "l"][which]);
            }
        }
    }
}

/// KTO's in-batch KL is a stop-gradient function of the batch: autograd must equal the mismatched-KL
/// form whose sample has the same mean log-ratio (finite differences would see through the detach).
#[test]
fn kto_in_batch_kl_is_not_back_propagated() {
    let w = t(&[-4.0, -9.5]).set_requires_grad(true);
    let x = PairLogps::new(w.shallow_clone(), t(&[-6.5, -5.0]), t(&[4.0, 7.0]), t(&[5.0, 6.0]))
        .with_reference(t(&[-4.5, -9.0]), t(&[-6.0, -5.5]));
    let kto = kto::Kto { kl: kto::KlEstimate::InBatch, ..kto::Kto::new(0.5) };
    kto.loss(&x).unwrap().mean().backward();
    // Mean h_l = (−0.5 + 0.5)/2 = 0 and mean h_w = (0.5 − 0.5)/2 = 0: both KL terms are 0.
    let w2 = t(&[-4.0, -9.5]).set_requires_grad(true);
    let x2 = PairLogps::new(w2.shallow_clone(), t(&[-6.5, -5.0]), t(&[4.0, 7.0]), t(&[5.0, 6.0]))
        .with_reference(t(&[-4.5, -9.0]), t(&[-6.0, -5.5]));
    kto::Kto { kl: kto::KlEstimate::Zero, ..kto::Kto::new(0.5) }.loss(&x2).unwrap().mean().backward();
    assert!(w.grad().allclose(&w2.grad(), 1e-12, 1e-12, false));
}

#[test]
fn empty_response_is_a_clear_error() {
    let x = PairLogps::new(t(&[-3.0, -2.0]), t(&[-4.0, 0.0]), t(&[3.0, 2.0]), t(&[4.0, 0.0]));
    for obj in [Box::new(slic::Slic::new(1.0, 0.1)) as Box<dyn PairObjective>, Box::new(orpo::Orpo::new(0.1))] {
        let err = obj.loss(&x).unwrap_err().to_string();
        assert!(err.contains("rejected_len") && err.contains("pair 1") && err.contains("empty response"), "{err}");
    }
}

#[test]
fn non_finite_log_probs_are_an_error_not_nan() {
    for bad in [f64::NAN, f64::NEG_INFINITY] {
        let x = PairLogps::new(t(&[-3.0, bad]), t(&[-4.0, -1.0]), t(&[3.0, 2.0]), t(&[4.0, 1.0]))
            .with_reference(t(&[-3.0, -2.0]), t(&[-4.0, -1.0]));
        for obj in all_objectives() {
            let err = obj.loss(&x).unwrap_err().to_string();
            assert!(err.contains("`chosen`") && err.contains("pair 1") && err.contains("non-finite"), "{}: {err}", obj.name());
        }
    }
    let x = spec_pair().with_reference(t(&[-52.0]), t(&[f64::INFINITY]));
    let err = dpo::Dpo::new(0.1).loss(&x).unwrap_err().to_string();
    assert!(err.contains("ref_rejected"), "{err}");
}

#[test]
fn missing_reference_or_kl_sample_and_bad_shapes() {
    let x = PairLogps::new(t(&[-3.0]), t(&[-4.0]), t(&[3.0]), t(&[4.0]));
    let err = dpo::Dpo::new(0.1).loss(&x).unwrap_err().to_string();
    assert!(err.contains("ref_chosen") && err.contains("reference"), "{err}");
    let err = kto::Kto::new(0.1).loss(&spec_pair()).unwrap_err().to_string();
    assert!(err.contains("kl_policy"), "{err}");
    let y = PairLogps::new(t(&[-3.0, -1.0]), t(&[-4.0]), t(&[3.0, 1.0]), t(&[4.0, 1.0]));
    let err = cpo::Cpo::new(0.1, 1.0).loss(&y).unwrap_err().to_string();
    assert!(err.contains("`rejected`") && err.contains("shape"), "{err}");
}

#[test]
fn orpo_stays_finite_at_probability_one() {
    let w = t(&[0.0, -2.0]).set_requires_grad(true);
    let x = PairLogps::new(w.shallow_clone(), t(&[-3.0, -4.0]), t(&[2.0, 2.0]), t(&[2.0, 2.0]));
    let out = orpo::Orpo::new(1.0).loss(&x).unwrap();
    out.mean().backward();
    assert!(out.loss.isfinite().all().int64_value(&[]) == 1);
    assert!(w.grad().isfinite().all().int64_value(&[]) == 1);
}

#[test]
fn float32_inputs_work() {
    let x = PairLogps::new(t(&[-50.0]), t(&[-60.0]), t(&[10.0]), t(&[8.0]))
        .with_reference(t(&[-52.0]), t(&[-58.0]));
    let f = |v: &Tensor| v.to_kind(Kind::Float);
    let x32 = PairLogps::new(f(&x.chosen), f(&x.rejected), f(&x.chosen_len), f(&x.rejected_len))
        .with_reference(f(x.ref_chosen.as_ref().unwrap()), f(x.ref_rejected.as_ref().unwrap()));
    let out = dpo::Dpo::new(0.1).loss(&x32).unwrap();
    assert_eq!(out.loss.kind(), Kind::Float);
    assert!(close(out.mean().double_value(&[]), 0.513015, 1e-5));
}

#[test]
fn toml_configs_select_objectives_with_defaults() {
    let c = ObjectiveConfig::from_toml("type = \"dpo\"\nbeta = 0.01\n", "cfg.toml").unwrap();
    assert_eq!(c, ObjectiveConfig::Dpo(dpo::Dpo::new(0.01)));
    let c = ObjectiveConfig::from_toml("type = \"ipo\"\n", "cfg.toml").unwrap();
    assert_eq!(c, ObjectiveConfig::Ipo(ipo::Ipo::new(0.1)));
    let c = ObjectiveConfig::from_toml("type = \"cpo\"\nbeta = 0.1\nlambda = 1.0\nnll = \"sum\"\n", "cfg.toml").unwrap();
    assert_eq!(c.build().unwrap().name(), "cpo");
    let c = ObjectiveConfig::from_toml("type = \"kto\"\nkl = \"in_batch\"\n", "cfg.toml").unwrap();
    assert!(!c.build().unwrap().needs_kl_sample());
    for ty in ["dpo", "ipo", "slic", "cpo", "orpo", "kto", "rdpo", "rrhf"] {
        let c = ObjectiveConfig::from_toml(&format!("type = \"{ty}\"\n"), "cfg.toml").unwrap();
        assert_eq!(c.build().unwrap().name(), ty);
    }
}

#[test]
fn toml_config_errors_name_the_key() {
    let err = ObjectiveConfig::from_toml("type = \"dpo\"\nbeat = 0.1\n", "runs/a.toml").unwrap_err().to_string();
    assert!(err.contains("runs/a.toml") && err.contains("beat"), "{err}");
    let err = ObjectiveConfig::from_toml("type = \"dpoo\"\n", "runs/a.toml").unwrap_err().to_string();
    assert!(err.contains("dpoo"), "{err}");
    let err = ObjectiveConfig::from_toml("type = \"dpo\"\nbeta = -1.0\n", "runs/a.toml").unwrap_err().to_string();
    assert!(err.contains("beta") && err.contains("positive"), "{err}");
    let err = ObjectiveConfig::from_toml("type = \"dpo\"\nlabel_smoothing = 0.5\n", "runs/a.toml").unwrap_err().to_string();
    assert!(err.contains("label_smoothing"), "{err}");
}
