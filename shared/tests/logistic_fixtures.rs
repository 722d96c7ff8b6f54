//! The L1 logistic solver against scikit-learn's liblinear (fixtures made by
//! `shared/fixtures/make_logistic_fixtures.py`, committed as JSON).

use shared::eval::logistic::{fit_l1, Design, SolverOptions};

#[derive(serde::Deserialize)]
struct Case {
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    s: Vec<f64>,
    c: f64,
    w: Vec<f64>,
    objective: f64,
}

#[derive(serde::Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[test]
fn matches_liblinear_coefficients_and_objective() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/logistic_fixtures.json");
    let f: Fixtures = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(f.cases.len(), 16);
    for (k, case) in f.cases.iter().enumerate() {
        let x = Design::from_rows(&case.x);
        let fit = fit_l1(&x, &case.y, &case.s, case.c, None, SolverOptions::default()).unwrap();
        assert!(fit.kkt < 1e-8, "case {k}: KKT {}", fit.kkt);
        for (a, b) in fit.w.iter().zip(&case.w) {
            assert!((a - b).abs() < 1e-5, "case {k} (C {}): ours {:?} vs liblinear {:?}", case.c, fit.w, case.w);
            // Exact zeros are reproduced exactly.
            assert_eq!(*a == 0.0, *b == 0.0, "case {k}: sparsity pattern {:?} vs {:?}", fit.w, case.w);
        }
        let z = x.mul(&fit.w);
        let obj: f64 = fit.w.iter().map(|v| v.abs()).sum::<f64>()
            + case.c * z.iter().zip(&case.y).zip(&case.s).map(|((&zi, &yi), &si)| si * (yi * (-zi).exp().ln_1p() + (1.0 - yi) * zi.exp().ln_1p())).sum::<f64>();
        // Our optimum is never worse than liblinear's (up to rounding).
        assert!(obj <= case.objective * (1.0 + 1e-10), "case {k}: objective {obj} > liblinear {}", case.objective);
    }
}
