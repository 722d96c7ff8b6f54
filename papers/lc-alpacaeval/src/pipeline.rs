//! From an AlpacaEval folder to per-model raw and length-controlled win rates.
//!
//! 1. Discover every model with an annotation file; load each (a bad file becomes that model's
//!    error, the others go on); check its instructions against the baseline's.
//! 2. Instruction difficulty d: a **frozen** vector read from a file (upstream's
//!    `instruction_difficulty.csv` when a copy is at hand, else the project's committed estimate
//!    `results/lc-alpacaeval/instruction_difficulty.csv`: [`frozen_difficulty_file`]), so adding a
//!    model never changes another model's LC; or, when asked for explicitly (`difficulty_file:
//!    None`, `--refit-difficulty`), re-estimated by the joint GLM over the loaded models (§5).
//! 3. Gamed-baseline rows: the real annotations of `gpt4_1106_preview_{verbose,concise}` when
//!    present, else proxy rows from their model outputs and stored weights (§7).
//! 4. Per model: raw metrics (§3) and `length_controlled_v1` (§4).

use shared::eval::alpaca_eval::{self as ae, LeaderboardRow, ModelAnnotations, BASELINE};
use shared::eval::difficulty::{estimate_difficulty, JointModel, JointRow};
use shared::eval::lc_glm::{length_controlled, proxy_gamed_rows, GamedRows, GlmWeights, LcOptions, LcResult};
use shared::eval::logistic::SolverOptions;
use shared::eval::winrate::WinRate;
use shared::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const GAMED: [&str; 2] = ["gpt4_1106_preview_verbose", "gpt4_1106_preview_concise"];

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The frozen difficulty vector (upstream's file or the committed estimate); None = refit the
    /// joint GLM over the loaded models (the explicit option).
    pub difficulty_file: Option<PathBuf>,
}

/// The project's committed estimate of d (the joint GLM over the 24 shipped models).
pub fn committed_difficulty_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/lc-alpacaeval/instruction_difficulty.csv")
}

/// The frozen d that LC is computed against: upstream's `instruction_difficulty.csv` when a copy
/// is at hand (`REPRO_INSTRUCTION_DIFFICULTY`, or `<data>/alpaca_eval_hub/` as `cargo xtask
/// fetch` leaves it when the hub is reachable), else the project's committed estimate.
pub fn frozen_difficulty_file(data: &Path) -> PathBuf {
    let hub_copy = data.join("alpaca_eval_hub/instruction_difficulty.csv");
    std::env::var_os("REPRO_INSTRUCTION_DIFFICULTY").map(PathBuf::from).or_else(|| hub_copy.exists().then_some(hub_copy)).unwrap_or_else(committed_difficulty_file)
}

/// Where d came from.
#[derive(Debug, Clone)]
pub enum Difficulty {
    /// A frozen vector read from this file.
    Upstream(PathBuf),
    JointGlm { c: f64, n_rows: usize, n_cols: usize, models: usize },
}

impl Difficulty {
    /// One line for the tables' notes (no machine-dependent paths).
    pub fn describe(&self) -> String {
        match self {
            Difficulty::Upstream(p) if p.canonicalize().ok() == committed_difficulty_file().canonicalize().ok() => {
                "frozen: the committed estimate results/lc-alpacaeval/instruction_difficulty.csv (joint GLM over the 24 shipped models; `--refit-difficulty` refits)".into()
            }
            Difficulty::Upstream(p) => format!("frozen: {}", p.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default()),
            Difficulty::JointGlm { c, n_rows, n_cols, models } => format!("refit: joint GLM over {models} models, C = {c:.4}, {n_rows} rows x {n_cols} columns"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelResult {
    pub model: String,
    pub raw: WinRate,
    /// From the annotations' `output_2` (upstream uses the outputs file).
    pub avg_length: usize,
    pub lc: LcResult,
    pub published: Option<LeaderboardRow>,
}

#[derive(Debug)]
pub struct Report {
    pub rows: Vec<ModelResult>,
    /// Models whose files could not be used, with the reason (file and record named).
    pub errors: Vec<(String, String)>,
    pub difficulty: Vec<f64>,
    pub difficulty_source: Difficulty,
    /// "annotations" or "proxy (stored weights)" per gamed baseline, or why none were used.
    pub gamed_source: String,
    pub leaderboard: Vec<LeaderboardRow>,
    pub stored_weights: Vec<(String, GlmWeights)>,
}

/// Leaderboard order first, then models the leaderboard lacks, by name.
fn leaderboard_order(models: &[String], leaderboard: &[LeaderboardRow]) -> Vec<String> {
    let pos: HashMap<&str, usize> = leaderboard.iter().enumerate().map(|(i, r)| (r.model.as_str(), i)).collect();
    let mut m = models.to_vec();
    m.sort_by_key(|x| (pos.get(x.as_str()).copied().unwrap_or(usize::MAX), x.clone()));
    m
}

pub fn joint_model(a: &ModelAnnotations) -> JointModel {
    let y = a.win_probs();
    let delta = a.delta_len();
    let rows = (0..a.rows.len())
        .filter(|&i| y[i].is_some() && !a.rows[i].output_2.is_empty())
        .map(|i| JointRow { index: i, y: y[i].unwrap(), delta_len: delta[i] })
        .collect();
    JointModel { name: a.model.clone(), rows }
}

/// Run the whole recomputation on the AlpacaEval folder `root`.
pub fn run(root: &Path, opt: &Options) -> Result<Report> {
    let leaderboard = ae::load_leaderboard(&ae::leaderboard_path(root))?;
    let stored_weights = ae::load_glm_weights(&ae::weights_path(root))?;
    let models = leaderboard_order(&ae::discover_models(root)?, &leaderboard);
    let baseline = ae::load_annotations(root, BASELINE)
        .map_err(|e| Error::invalid("baseline annotations", format!("{e} (the baseline's own annotations define the instruction set)")))?;
    let base_instr: Vec<String> = baseline.rows.iter().map(|r| r.instruction.clone()).collect();

    let mut loaded = vec![];
    let mut errors = vec![];
    for m in &models {
        let got = if m == BASELINE { Ok(baseline.clone()) } else { ae::load_annotations(root, m) };
        match got.and_then(|a| ae::check_instructions(&a, &base_instr).map(|_| a)) {
            Ok(a) => loaded.push(a),
            Err(e) => errors.push((m.clone(), e.to_string())),
        }
    }
    let n_instr = base_instr.len();

    let (difficulty, difficulty_source) = match &opt.difficulty_file {
        Some(p) => {
            let d = ae::load_instruction_difficulty(p)?;
            if d.len() != n_instr {
                return Err(Error::invalid(p.display().to_string(), format!("{} difficulties for {n_instr} instructions", d.len())));
            }
            (d, Difficulty::Upstream(p.clone()))
        }
        None => {
            let joint: Vec<JointModel> = loaded.iter().map(joint_model).collect();
            let fit = estimate_difficulty(&joint, n_instr, BASELINE, SolverOptions { tol: 1e-8, ..Default::default() })?;
            (fit.difficulty, Difficulty::JointGlm { c: fit.c, n_rows: fit.n_rows, n_cols: fit.n_cols, models: joint.len() })
        }
    };

    let (gamed, gamed_source) = gamed_rows(root, &baseline, &stored_weights, &difficulty);
    let lc_opt = LcOptions::default();
    let published: HashMap<&str, &LeaderboardRow> = leaderboard.iter().map(|r| (r.model.as_str(), r)).collect();
    let mut rows = vec![];
    for a in &loaded {
        let res = (|| -> Result<ModelResult> {
            let raw = a.win_rate()?;
            let lc = if a.is_baseline_vs_itself() {
                LcResult::baseline()
            } else {
                length_controlled(&a.win_probs(), &a.delta_len(), &difficulty, &gamed, &lc_opt)
                    .map_err(|e| Error::invalid(a.path.display().to_string(), e.to_string()))?
            };
            Ok(ModelResult { model: a.model.clone(), raw, avg_length: a.avg_length(), lc, published: published.get(a.model.as_str()).map(|r| (*r).clone()) })
        })();
        match res {
            Ok(r) => rows.push(r),
            Err(e) => errors.push((a.model.clone(), e.to_string())),
        }
    }
    Ok(Report { rows, errors, difficulty, difficulty_source, gamed_source, leaderboard, stored_weights })
}

/// Regularisation rows of the two gamed baselines: real judge annotations if present, else the
/// proxy of lc-alpacaeval.md §7. Returns no rows (and says why) if neither is possible.
pub fn gamed_rows(root: &Path, baseline: &ModelAnnotations, weights: &[(String, GlmWeights)], d: &[f64]) -> (Vec<GamedRows>, String) {
    let mut out = vec![];
    let mut how = vec![];
    let len_base: Vec<usize> = baseline.rows.iter().map(|r| r.output_1.chars().count()).collect();
    for g in GAMED {
        if let Ok(a) = ae::load_annotations(root, g) {
            let y: Vec<f64> = a.win_probs().into_iter().flatten().collect();
            if y.len() == a.rows.len() {
                out.push(GamedRows { delta_len: a.delta_len(), y });
                how.push(format!("{g}: judge annotations"));
                continue;
            }
        }
        let w = weights.iter().find(|(m, _)| m == g).map(|(_, w)| *w);
        let outputs = ae::load_model_outputs(&ae::model_outputs_path(root, g));
        match (w, outputs) {
            (Some(w), Ok(o)) => {
                let len_g: Vec<usize> = o.iter().map(|s| s.chars().count()).collect();
                match proxy_gamed_rows(&len_base, &len_g, &w, d) {
                    Ok(rows) => {
                        out.push(rows);
                        how.push(format!("{g}: proxy from its outputs and stored weights"));
                    }
                    Err(e) => how.push(format!("{g}: unusable ({e})")),
                }
            }
            (None, _) => how.push(format!("{g}: no stored weights row, no gamed rows")),
            (_, Err(e)) => how.push(format!("{g}: {e}")),
        }
    }
    (out, how.join("; "))
}

impl Report {
    /// Mean and max |LC - published LC| over the given rows (non-baseline, with a published LC).
    pub fn lc_deviation<'a>(rows: impl Iterator<Item = &'a ModelResult>) -> Option<(f64, f64, usize)> {
        let diffs: Vec<f64> = rows
            .filter(|r| r.model != BASELINE)
            .filter_map(|r| r.published.as_ref()?.length_controlled_winrate.map(|p| (r.lc.lc_win_rate - p).abs()))
            .collect();
        if diffs.is_empty() {
            return None;
        }
        Some((diffs.iter().sum::<f64>() / diffs.len() as f64, diffs.iter().cloned().fold(0.0, f64::max), diffs.len()))
    }
    pub fn get(&self, model: &str) -> Option<&ModelResult> {
        self.rows.iter().find(|r| r.model == model)
    }
}
