//! A new model on AlpacaEval 2, end to end (`cargo xtask evaluate alpaca-eval`): its outputs
//! against the baseline's, judged by `weighted_alpaca_eval_gpt4_turbo` through any
//! OpenAI-compatible endpoint (`shared::api::alpaca_judge`), annotations in upstream's format,
//! raw metrics, and LC against the **frozen** instruction difficulty (upstream's file when at
//! hand, else the project's committed estimate), so evaluating a model never moves another
//! model's LC. `--refit-difficulty` re-estimates d with the new model included (explicit).

use crate::pipeline::{gamed_rows, joint_model};
use serde_json::Value;
use shared::api::alpaca_judge::Comparison;
use shared::eval::alpaca_eval::{self as ae, LeaderboardRow, ModelAnnotations, BASELINE};
use shared::eval::difficulty::{estimate_difficulty, JointModel};
use shared::eval::lc_glm::{length_controlled, GamedRows, LcOptions, LcResult};
use shared::eval::logistic::SolverOptions;
use shared::{Error, Result};
use std::path::Path;

/// One record of a `model_outputs.json` (upstream's format: instruction, output, generator, dataset).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    pub instruction: String,
    pub output: String,
    pub generator: Option<String>,
}

/// Read a model outputs file (`.json` or `.json.gz`); every record needs `instruction` and `output`.
pub fn load_outputs(path: &Path) -> Result<Vec<ModelOutput>> {
    let v: Value = shared::io::read_json(path)?;
    let Value::Array(recs) = v else { return Err(Error::Json { path: path.into(), msg: "expected a JSON array of {instruction, output}".into() }) };
    recs.iter()
        .enumerate()
        .map(|(i, r)| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(String::from);
            match (s("instruction"), s("output")) {
                (Some(instruction), Some(output)) => Ok(ModelOutput { instruction, output, generator: s("generator") }),
                _ => Err(Error::invalid(format!("{}: record {i}", path.display()), "needs string fields `instruction` and `output`")),
            }
        })
        .collect()
}

/// The evaluation set and the baseline's outputs, from the baseline's own annotation file
/// (its `output_1`, in evaluation-set order): instructions, outputs, datasets.
pub fn baseline_reference(root: &Path) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let path = shared::io::resolve_maybe_gz(&ae::annotations_path(root, BASELINE)).unwrap_or_else(|| ae::annotations_path(root, BASELINE));
    let v: Value = shared::io::read_json(&path)?;
    let recs = v.as_array().ok_or_else(|| Error::Json { path: path.clone(), msg: "expected a JSON array".into() })?;
    let get = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok((recs.iter().map(|r| get(r, "instruction")).collect(), recs.iter().map(|r| get(r, "output_1")).collect(), recs.iter().map(|r| get(r, "dataset")).collect()))
}

/// Pair each output with the baseline's on the same instruction, in evaluation-set order, and
/// the instruction's position in the set. An output whose instruction is not in the set is an
/// error naming it; missing instructions are allowed (a subset is judged) but reported.
pub fn comparisons(root: &Path, outputs: &[ModelOutput], model: &str) -> Result<(Vec<Comparison>, Vec<usize>)> {
    let (instr, base, datasets) = baseline_reference(root)?;
    let mut by_instr: std::collections::HashMap<&str, &ModelOutput> = std::collections::HashMap::new();
    for (i, o) in outputs.iter().enumerate() {
        if !instr.iter().any(|x| x == &o.instruction) {
            let short: String = o.instruction.chars().take(60).collect();
            return Err(Error::invalid(format!("model output {i}"), format!("instruction {short:?} is not in the AlpacaEval evaluation set")));
        }
        by_instr.insert(o.instruction.as_str(), o);
    }
    let mut comps = vec![];
    let mut index = vec![];
    for (k, x) in instr.iter().enumerate() {
        if let Some(o) = by_instr.get(x.as_str()) {
            comps.push(Comparison {
                instruction: x.clone(),
                output_1: base[k].clone(),
                generator_1: BASELINE.into(),
                output_2: o.output.clone(),
                generator_2: model.into(),
                dataset: datasets[k].clone(),
            });
            index.push(k);
        }
    }
    if comps.len() < instr.len() {
        eprintln!("note: {} of the {} instructions have outputs; judging those", comps.len(), instr.len());
    }
    Ok((comps, index))
}

/// d re-estimated by the joint GLM over every shipped model plus `new` (explicit option).
pub fn refit_difficulty(root: &Path, new: &ModelAnnotations) -> Result<Vec<f64>> {
    let (instr, _, _) = baseline_reference(root)?;
    if new.rows.len() != instr.len() {
        return Err(Error::invalid("--refit-difficulty", format!("needs outputs for all {} instructions, got {}", instr.len(), new.rows.len())));
    }
    let mut joint: Vec<JointModel> = vec![];
    for m in ae::discover_models(root)? {
        if let Ok(a) = ae::load_annotations(root, &m) {
            joint.push(joint_model(&a));
        }
    }
    joint.push(joint_model(new));
    Ok(estimate_difficulty(&joint, instr.len(), BASELINE, SolverOptions { tol: 1e-8, ..Default::default() })?.difficulty)
}

/// Raw metrics and LC (`length_controlled_v1`, gamed-baseline rows as in the pipeline) of a
/// model's annotations against the difficulty `d` of its instructions (`index` = positions in
/// the evaluation set), as one leaderboard row.
pub fn score(root: &Path, annotations: &ModelAnnotations, index: &[usize], d: &[f64]) -> Result<(LeaderboardRow, LcResult, String)> {
    if index.len() != annotations.rows.len() || index.iter().any(|&k| k >= d.len()) {
        return Err(Error::invalid("LC", format!("{} rows, {} positions, {} difficulties", annotations.rows.len(), index.len(), d.len())));
    }
    let raw = annotations.win_rate()?;
    let baseline = ae::load_annotations(root, BASELINE)?;
    let weights = ae::load_glm_weights(&ae::weights_path(root))?;
    let (gamed, how) = gamed_rows(root, &baseline, &weights, d);
    // The GLM looks d up by row position for the model's rows and the gamed rows alike: a subset
    // of the instructions takes the gamed rows of the same instructions.
    let d_rows: Vec<f64> = index.iter().map(|&k| d[k]).collect();
    let gamed: Vec<GamedRows> = if index.iter().enumerate().all(|(i, &k)| i == k) {
        gamed
    } else {
        gamed.iter().map(|g| GamedRows { delta_len: index.iter().map(|&k| g.delta_len[k]).collect(), y: index.iter().map(|&k| g.y[k]).collect() }).collect()
    };
    let d_used: &[f64] = if gamed.iter().all(|g| g.y.len() == d_rows.len()) { &d_rows } else { d };
    let lc = length_controlled(&annotations.win_probs(), &annotations.delta_len(), d_used, &gamed, &LcOptions::default())?;
    let row = LeaderboardRow {
        model: annotations.model.clone(),
        win_rate: raw.win_rate,
        standard_error: raw.standard_error,
        n_wins: raw.n_wins,
        n_wins_base: raw.n_wins_base,
        n_draws: raw.n_draws,
        n_total: raw.n_total,
        discrete_win_rate: raw.discrete_win_rate,
        mode: "community".into(),
        avg_length: annotations.avg_length(),
        length_controlled_winrate: Some(lc.lc_win_rate),
        lc_standard_error: Some(lc.lc_standard_error),
    };
    Ok((row, lc, how))
}
