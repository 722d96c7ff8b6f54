//! EVOLVE (Zeng et al. 2025, arXiv 2502.05605 v3, "Evolving LLMs' Self-Refinement Capability via
//! Iterative Preference Optimization"): one model trained to answer directly and to refine its own
//! previous answer after a fixed template `z` (here the world's reserved `<refine>` token), by an
//! SFT stage on both formats and iterative preference optimisation on chains of self-refinement.
//!
//! Read in this order:
//! - [`loss`]: `L_SFT` (Eq. 4) and `L_EVOLVE` (the spec's reconstructed two-term DPO surrogate) as
//!   pure functions, and [`loss::EvolveObjective`], the objective the shared engine trains with;
//! - [`chain`]: picking the pair from a refinement chain (reward model or rule), the refinement gain;
//! - [`pipeline`]: the miniature on [`shared::train::iterate`]: SFT-both (the world form `refine`),
//!   iterative DPO and EVOLVE from the same base, refine@k evaluation;
//! - [`tables`]: the refinement curves, the claims, the plots;
//! - [`paper`]: the paper-scale config (models, data, hyperparameters, the refinement template).

pub mod chain;
pub mod config;
pub mod loss;
pub mod paper;
pub mod pipeline;
pub mod tables;

/// The miniature as `cargo xtask reproduce evolve` runs it.
pub struct Evolve;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Evolve {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "evolve";
        const NAME: &'static str = "EVOLVE";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            config::MiniConfig::load(path)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            let m: Vec<String> = cfg.methods.iter().map(|m| format!("{} x {}", m.name, cfg.iterations)).collect();
            format!("SFT base + refine form (L_SFT, cached); {} chunks of {} prompts, N = {} generations per prompt; {}; evaluation on {} prompts, refine@1..{}", cfg.iterations, cfg.prompts_per_chunk, cfg.samples, m.join(", "), cfg.eval.prompts, cfg.eval.refine_steps)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            pipeline::run(cfg, scale, seed, device, runs_root)
        }
        fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, cfg, out, info)?)
        }
        fn paper_config() -> std::path::PathBuf {
            Self::config_dir().join("paper/llama-3.1-8b.toml")
        }
        fn paper_scale(args: &shared::cli::RunArgs, config: &Path) -> anyhow::Result<()> {
            shared::driver::run_paper_scale(args, config, Self::SLUG, paper::PaperConfig::load, |c, d, o| paper::run(c, d, o))
        }
        fn paper_scale_note() -> String {
            "EVOLVE's paper scale (Llama-3.1-8B base, L_SFT on UltraFeedback pairs, 3 rounds of chains of 4 over 5-10k prompts, a reward model the paper does not name): `--scale paper [--config configs/paper/<setting>.toml]` runs the SFT stage and the rounds (GPU, the data and a [preference] reward model needed); the same path runs on the tiny fixtures in tests/paper_path.rs".into()
        }
    }
}
