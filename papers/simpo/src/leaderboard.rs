//! The published SimPO artifacts on the AlpacaEval 2 leaderboard, recomputed offline where the
//! fetched data allows (spec, "Published artifacts"):
//!
//! - `avg_length` = int(mean character length of `output`) of the released checkpoints'
//!   `results/<model>/model_outputs.json` (805 outputs each) — exact;
//! - the leaderboard CSV row (WR, SE, wins, LC) and its discrete win rate
//!   `100·(n_wins + n_draws/2)/n_total` — exact;
//! - LC from the stored GLM weights `σ(w_not_gamed + w_difficulty · d)` over the spec's test vector
//!   d = [−1, 0, 1] (the real per-instruction difficulties are not on GitHub, so the leaderboard LC
//!   itself cannot be recomputed offline);
//! - WR from judge annotations when `annotations.json` is present, and the leaderboard LC from the
//!   stored weights over upstream's difficulties when `alpaca_eval_hub` was fetched (≥ 4 MiB upstream / HF only, absent
//!   from the fetched mirror) — otherwise the table says so.

use anyhow::{bail, Context, Result};
use shared::report::{Cell, Table};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The two SimPO checkpoints on the AlpacaEval 2 leaderboard.
pub const MODELS: [&str; 2] = ["Llama-3-Instruct-8B-SimPO", "gemma-2-9b-it-SimPO"];

const LEADERBOARD: &str = "src/alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv";
const GLM_WEIGHTS: &str = "src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv";

/// The spec's difficulty test vector for the stored-weights LC check.
pub const TEST_DIFFICULTIES: [f64; 3] = [-1.0, 0.0, 1.0];

/// One leaderboard row, as published.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaderboardRow {
    pub win_rate: f64,
    pub standard_error: f64,
    pub n_wins: u64,
    pub n_wins_base: u64,
    pub n_draws: u64,
    pub n_total: u64,
    pub discrete_win_rate: f64,
    pub avg_length: u64,
    pub lc: f64,
}

impl LeaderboardRow {
    /// `100·(n_wins + n_draws/2)/n_total`.
    pub fn discrete_recomputed(&self) -> f64 {
        100.0 * (self.n_wins as f64 + 0.5 * self.n_draws as f64) / self.n_total as f64
    }
}

/// The stored LC GLM coefficients of one model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlmWeights {
    pub length: f64,
    pub difficulty: f64,
    pub not_gamed: f64,
}

impl GlmWeights {
    /// LC = 100 · mean_i σ(w_not_gamed + w_difficulty · d_i) (length term at δ = 0: the counterfactual).
    pub fn lc_over(&self, difficulties: &[f64]) -> f64 {
        let s: f64 = difficulties.iter().map(|d| 1.0 / (1.0 + (-(self.not_gamed + self.difficulty * d)).exp())).sum();
        100.0 * s / difficulties.len() as f64
    }
}

fn alpaca_root(data_root: &Path) -> PathBuf {
    data_root.join("alpaca_eval")
}

/// The model's row of the AlpacaEval 2 leaderboard CSV.
pub fn leaderboard_row(data_root: &Path, model: &str) -> Result<LeaderboardRow> {
    let path = alpaca_root(data_root).join(LEADERBOARD);
    let rows = read_csv(&path)?;
    let r = rows.get(model).with_context(|| format!("{}: no row for model {model:?}", path.display()))?;
    let f = |k: &str| -> Result<f64> {
        r.get(k)
            .with_context(|| format!("{}: column {k:?} missing", path.display()))?
            .parse::<f64>()
            .with_context(|| format!("{}: model {model}, column {k:?} is not a number", path.display()))
    };
    Ok(LeaderboardRow {
        win_rate: f("win_rate")?,
        standard_error: f("standard_error")?,
        n_wins: f("n_wins")? as u64,
        n_wins_base: f("n_wins_base")? as u64,
        n_draws: f("n_draws")? as u64,
        n_total: f("n_total")? as u64,
        discrete_win_rate: f("discrete_win_rate")?,
        avg_length: f("avg_length")? as u64,
        lc: f("length_controlled_winrate")?,
    })
}

/// The model's stored LC GLM coefficients.
pub fn glm_weights(data_root: &Path, model: &str) -> Result<GlmWeights> {
    let path = alpaca_root(data_root).join(GLM_WEIGHTS);
    let rows = read_csv(&path)?;
    let r = rows.get(model).with_context(|| format!("{}: no row for model {model:?}", path.display()))?;
    let f = |k: &str| -> Result<f64> {
        r.get(k).with_context(|| format!("{}: column {k:?} missing", path.display()))?.parse::<f64>().with_context(|| format!("{}: {model} {k}", path.display()))
    };
    Ok(GlmWeights {
        length: f("np.tanh(std_delta_len)")?,
        difficulty: f("instruction_difficulty")?,
        not_gamed: f("not_gamed_baseline.astype(float)")?,
    })
}

/// A CSV whose first (unnamed) column is the model name: model → column → value.
fn read_csv(path: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut rd = csv::Reader::from_path(path).with_context(|| format!("reading {} (run `cargo xtask fetch` or set REPRO_DATA)", path.display()))?;
    let header: Vec<String> = rd.headers().with_context(|| format!("{}: no header", path.display()))?.iter().map(String::from).collect();
    let mut out = BTreeMap::new();
    for (i, rec) in rd.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        let name = rec.get(0).unwrap_or_default().to_string();
        let cols = header.iter().skip(1).zip(rec.iter().skip(1)).map(|(h, v)| (h.clone(), v.to_string())).collect();
        out.insert(name, cols);
    }
    Ok(out)
}

/// `int(mean(len(output)))` over `results/<model>/model_outputs.json`, in characters (Python's `len`).
pub fn avg_length(data_root: &Path, model: &str) -> Result<(u64, usize)> {
    let path = alpaca_root(data_root).join("results").join(model).join("model_outputs.json");
    let found = shared::io::resolve_maybe_gz(&path).with_context(|| format!("{} (or .gz) is missing; run `cargo xtask fetch`", path.display()))?;
    let outputs: Vec<serde_json::Value> = shared::io::read_json(&found)?;
    if outputs.is_empty() {
        bail!("{}: no outputs", found.display());
    }
    let mut total = 0usize;
    for (i, o) in outputs.iter().enumerate() {
        let text = o.get("output").and_then(|v| v.as_str()).with_context(|| format!("{}: record {i} has no string `output`", found.display()))?;
        total += text.chars().count();
    }
    Ok(((total as f64 / outputs.len() as f64).floor() as u64, outputs.len()))
}

/// Upstream's `instruction_difficulty.csv`, when `cargo xtask fetch alpaca_eval_hub` could get it.
pub fn difficulty_path(data_root: &Path) -> Option<PathBuf> {
    Some(data_root.join("alpaca_eval_hub/instruction_difficulty.csv")).filter(|p| p.exists())
}

/// Whether the (optional) judge annotations of `model` are present.
pub fn annotations_path(data_root: &Path, model: &str) -> Option<PathBuf> {
    let p = alpaca_root(data_root).join("results").join(model).join("weighted_alpaca_eval_gpt4_turbo/annotations.json");
    shared::io::resolve_maybe_gz(&p)
}

/// The check table for `results/simpo/leaderboard_check.{csv,md}`: one row per quantity and model,
/// published value beside the value recomputed here.
pub fn leaderboard_table(data_root: &Path) -> Result<Table> {
    let mut t = Table::new("SimPO on the AlpacaEval 2 leaderboard: published vs recomputed offline", &["model", "quantity", "published", "recomputed", "how"]);
    for model in MODELS {
        let row = leaderboard_row(data_root, model)?;
        let (len, n) = avg_length(data_root, model)?;
        t.push(vec![Cell::text(model), Cell::text("avg_length"), Cell::Int(row.avg_length as i64), Cell::Int(len as i64), Cell::text(format!("int(mean chars) of {n} model_outputs"))]);
        t.push(vec![
            Cell::text(model),
            Cell::text("discrete WR"),
            Cell::num(row.discrete_win_rate, 4),
            Cell::num(row.discrete_recomputed(), 4),
            Cell::text(format!("100·({} + {}/2)/{}", row.n_wins, row.n_draws, row.n_total)),
        ]);
        let w = glm_weights(data_root, model)?;
        t.push(vec![Cell::text(model), Cell::text("LC (d = [−1, 0, 1])"), Cell::Missing, Cell::num(w.lc_over(&TEST_DIFFICULTIES), 4), Cell::text("stored GLM weights, spec test vector")]);
        // With the judge annotations (optional upstream files, ≥ 4 MiB), the raw win rate exactly.
        match annotations_path(data_root, model) {
            Some(_) => {
                let ann = shared::eval::alpaca_eval::load_annotations(&alpaca_root(data_root), model)?;
                let wr = ann.win_rate()?;
                t.push(vec![Cell::text(model), Cell::text("WR"), Cell::num(row.win_rate, 4), Cell::num(wr.win_rate, 4), Cell::text(format!("judge annotations ({} records)", wr.n_total))]);
            }
            None => t.push(vec![Cell::text(model), Cell::text("WR"), Cell::num(row.win_rate, 4), Cell::Missing, Cell::text("annotations not available (≥ 4 MiB upstream; fetched when GitHub is reachable)")]),
        }
        // With upstream's instruction difficulties (HF dataset), the leaderboard LC from the stored weights.
        match difficulty_path(data_root) {
            Some(p) => {
                let d = shared::eval::alpaca_eval::load_instruction_difficulty(&p)?;
                t.push(vec![Cell::text(model), Cell::text("LC"), Cell::num(row.lc, 4), Cell::num(w.lc_over(&d), 4), Cell::text(format!("stored GLM weights over upstream's {} difficulties", d.len()))]);
            }
            None => t.push(vec![Cell::text(model), Cell::text("LC"), Cell::num(row.lc, 4), Cell::Missing, Cell::text("needs upstream's 805 instruction difficulties (HF dataset; `cargo xtask fetch alpaca_eval_hub` where huggingface.co is reachable)")]),
        }
    }
    t.note("Published = the leaderboard CSV of tatsu-lab/alpaca_eval at cd543a1; recomputed = from the fetched model_outputs.json and stored GLM weights.");
    t.note("The paper reports LC 44.7 (Llama-3-Instruct-8B-SimPO) and 72.4 (gemma-2-9b-it-SimPO): the leaderboard rows, rounded.");
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data root with the fetched AlpacaEval files these tests read; a missing one fails the
    /// test, naming it and `cargo xtask fetch alpaca_eval`.
    fn data() -> PathBuf {
        for m in MODELS {
            shared::io::require_fetched(Path::new("alpaca_eval/results").join(m).join("model_outputs.json"));
        }
        shared::io::require_fetched(Path::new("alpaca_eval").join(LEADERBOARD));
        shared::io::require_fetched(Path::new("alpaca_eval").join(GLM_WEIGHTS));
        shared::io::require_fetched("alpaca_eval").parent().unwrap().to_path_buf()
    }

    #[test]
    fn avg_length_of_the_released_checkpoints_is_exact() {
        let root = data();
        assert_eq!(avg_length(&root, "Llama-3-Instruct-8B-SimPO").unwrap(), (1825, 805));
        assert_eq!(avg_length(&root, "gemma-2-9b-it-SimPO").unwrap(), (1833, 805));
    }

    #[test]
    fn leaderboard_rows_and_discrete_check() {
        let root = data();
        let l = leaderboard_row(&root, "Llama-3-Instruct-8B-SimPO").unwrap();
        assert_eq!((l.n_wins, l.n_wins_base, l.n_draws, l.n_total), (319, 485, 1, 805));
        assert!((l.lc - 44.65131348921881).abs() < 1e-12 && (l.win_rate - 40.52977498461182).abs() < 1e-12);
        assert!((l.discrete_recomputed() - 39.6894).abs() < 1e-4);
        assert!((l.discrete_recomputed() - l.discrete_win_rate).abs() < 1e-9);
        let g = leaderboard_row(&root, "gemma-2-9b-it-SimPO").unwrap();
        assert!((g.discrete_recomputed() - 67.1429).abs() < 1e-4);
        assert!((g.lc - 72.3508446939842).abs() < 1e-12);
    }

    #[test]
    fn lc_from_stored_weights_matches_the_spec_vector() {
        let root = data();
        let l = glm_weights(&root, "Llama-3-Instruct-8B-SimPO").unwrap();
        assert_eq!(l.difficulty, 0.8865274658510417);
        assert!((l.lc_over(&TEST_DIFFICULTIES) - 46.4203).abs() < 1e-4);
        let g = glm_weights(&root, "gemma-2-9b-it-SimPO").unwrap();
        assert!((g.lc_over(&TEST_DIFFICULTIES) - 75.1837).abs() < 1e-4);
    }

    #[test]
    fn the_table_has_every_check_and_missing_data_is_named() {
        let root = data();
        let t = leaderboard_table(&root).unwrap();
        let md = t.to_markdown();
        assert!(md.contains("1825") && md.contains("1833") && md.contains("46.4203") && md.contains("75.1837"), "{md}");
        let e = format!("{:#}", leaderboard_row(Path::new("/nonexistent"), MODELS[0]).unwrap_err());
        assert!(e.contains("weighted_alpaca_eval_gpt4_turbo_leaderboard.csv") && e.contains("fetch"), "{e}");
        assert!(format!("{:#}", avg_length(&root, "no-such-model").unwrap_err()).contains("model_outputs.json"));
    }

    #[test]
    fn with_upstream_difficulties_the_lc_row_is_recomputed() {
        let root = data();
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(root.join("alpaca_eval"), tmp.path().join("alpaca_eval")).unwrap();
        std::fs::create_dir_all(tmp.path().join("alpaca_eval_hub")).unwrap();
        // A stand-in difficulty file in upstream's layout (index column, then the value).
        let d: Vec<f64> = (0..805).map(|i| (i % 7) as f64 / 3.0 - 1.0).collect();
        let csv: String = std::iter::once("instruction,instruction_difficulty\n".to_string()).chain(d.iter().enumerate().map(|(i, v)| format!("i{i},{v}\n"))).collect();
        std::fs::write(tmp.path().join("alpaca_eval_hub/instruction_difficulty.csv"), csv).unwrap();
        let t = leaderboard_table(tmp.path()).unwrap();
        let want = glm_weights(&root, MODELS[0]).unwrap().lc_over(&d);
        let csv = t.to_csv();
        let line = csv.lines().find(|l| l.starts_with(&format!("{},LC,", MODELS[0]))).unwrap();
        let got: f64 = line.split(',').nth(3).unwrap().parse().unwrap();
        assert!((got - want).abs() < 1e-4, "{line} vs {want}");
    }
}
