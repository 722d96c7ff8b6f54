//! Evaluators every paper uses: correlations between rankings, win rates and
//! their standard errors, the length-controlled GLM, and the AlpacaEval loaders.

pub mod correlation;
