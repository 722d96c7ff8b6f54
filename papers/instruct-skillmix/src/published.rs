//! What can be recomputed from the paper's published artifacts in the reference data
//! (`shared/data/alpaca_eval/`, a mirror of `tatsu-lab/alpaca_eval`), through the shared
//! AlpacaEval loaders and metrics (`shared::eval`):
//!
//! - `avg_length` of the SkillMix row from its 805 `model_outputs.json` (= ⌊mean characters⌋);
//! - the leaderboard identity `discrete_win_rate = 100 (n_wins + n_draws / 2) / n_total`;
//! - the LC of the SkillMix row from its stored GLM weights needs the 805 instruction
//!   difficulties `d_i` (HF `df_gamed.csv`, not in the mirror): only the algebra is tested
//!   (`spec_vectors`), and the stored weights are read back;
//! - win rate and standard error need the SkillMix `annotations.json` (≥ 4 MiB, not mirrored).

use anyhow::{Context, Result};
use shared::eval::alpaca_eval::{leaderboard_path, load_glm_weights, load_leaderboard, load_model_outputs, model_outputs_path, weights_path, LeaderboardRow};
use shared::eval::lc_glm::GlmWeights;
use shared::eval::winrate::avg_length;
use std::path::{Path, PathBuf};

/// The SkillMix model's folder name on the leaderboard.
pub const MODEL: &str = "Llama-3-8B-Instruct-SkillMix";
/// The rows of the spec's AlpacaEval table, in its order.
pub const ROWS: [&str; 6] = [MODEL, "claude-3-opus-20240229", "Meta-Llama-3.1-405B-Instruct-Turbo", "gpt4_0613", "Meta-Llama-3-8B-Instruct", "Llama-3-Instruct-8B-SimPO"];

/// The published numbers and what was recomputed from them.
#[derive(Clone, Debug)]
pub struct Published {
    pub rows: Vec<LeaderboardRow>,
    /// ⌊mean characters⌋ of the SkillMix model outputs.
    pub avg_length_recomputed: usize,
    pub outputs: usize,
    /// 100 (n_wins + n_draws / 2) / n_total of the SkillMix row.
    pub discrete_recomputed: f64,
    pub weights: Option<GlmWeights>,
}

/// The AlpacaEval mirror's root (`REPRO_DATA`, else `../shared/data`), or an error saying how to
/// get it.
pub fn root() -> Result<PathBuf> {
    Ok(shared::io::fetched("alpaca_eval")?)
}

/// Discrete win rate from the leaderboard's counts.
pub fn discrete(n_wins: usize, n_draws: usize, n_total: usize) -> f64 {
    100.0 * (n_wins as f64 + 0.5 * n_draws as f64) / n_total.max(1) as f64
}

/// Load and recompute from the mirror at `root`.
pub fn load(root: &Path) -> Result<Published> {
    let board = load_leaderboard(&leaderboard_path(root))?;
    let mut rows = vec![];
    for m in ROWS {
        let r = board.iter().find(|r| r.model == m).with_context(|| format!("the leaderboard {} has no row {m}", leaderboard_path(root).display()))?;
        rows.push(r.clone());
    }
    let outs = load_model_outputs(&model_outputs_path(root, MODEL))?;
    let sm = &rows[0];
    let weights = load_glm_weights(&weights_path(root))?.into_iter().find(|(m, _)| m == MODEL).map(|(_, w)| w);
    Ok(Published { avg_length_recomputed: avg_length(&outs), outputs: outs.len(), discrete_recomputed: discrete(sm.n_wins, sm.n_draws, sm.n_total), rows, weights })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skillmix_row_is_recomputed_from_the_mirror() {
        let p = load(&shared::io::require_fetched("alpaca_eval")).unwrap();
        let sm = &p.rows[0];
        assert_eq!(p.outputs, 805);
        assert_eq!(p.avg_length_recomputed, sm.avg_length);
        assert_eq!(sm.avg_length, 3141);
        assert_eq!((sm.n_wins, sm.n_wins_base, sm.n_draws, sm.n_total), (361, 444, 0, 805));
        assert!((p.discrete_recomputed - sm.discrete_win_rate).abs() < 1e-9, "{} vs {}", p.discrete_recomputed, sm.discrete_win_rate);
        assert!((sm.length_controlled_winrate.unwrap() - 42.76194893575222).abs() < 1e-9);
        let w = p.weights.expect("stored GLM weights of the SkillMix row");
        assert!((w.w_len + 0.3007600604906024).abs() < 1e-12 && (w.w_diff - 0.4853486472189554).abs() < 1e-12 && (w.w_bias + 0.2808727525336005).abs() < 1e-12, "{w:?}");
    }
}
