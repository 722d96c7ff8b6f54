//! Evaluators every paper uses: correlations between rankings, win rates and
//! their standard errors, the length-controlled GLM, and the AlpacaEval loaders.
//!
//! - [`winrate`]: raw win rate (draws = 0.5), standard error, discrete win rate, average length.
//! - [`logistic`]: weighted L1 soft-label logistic regression and grouped CV over C.
//! - [`lc_glm`]: the length-controlled GLM, prediction at zero length difference, `predict_winrate`.
//! - [`difficulty`]: instruction difficulty from the joint GLM over many models.
//! - [`alpaca_eval`]: loaders for AlpacaEval annotations, leaderboard, weights, Arena Elo.
//! - [`pyrandom`]: CPython's `random` (the coin flips upstream evaluators draw).

pub mod alpaca_eval;
pub mod correlation;
pub mod difficulty;
pub mod lc_glm;
pub mod logistic;
pub mod pyrandom;
pub mod winrate;
