//! Temporal Self-Rewarding (Wang et al. 2025, arXiv 2508.06026): Self-Rewarding's best-vs-worst
//! self-judged pairs against anchored rejection (the rejected response from the past model `M_0`)
//! and future-guided chosen (the chosen response possibly from a model trained one DPO step ahead).
//!
//! Read in this order:
//! - [`judge`]: the self-judge's arithmetic (averaging parsed scores, the additive rubric, reading
//!   the score tokens), [`select`]: the pair rules of Self-Rewarding, Phase 1 and Phase 2 (the
//!   spec's test vectors as unit tests), [`diagnostics`]: gap ratio and cosine;
//! - [`pipeline`]: the miniature, from the base that learns to judge (EFT) to the iterates, on the
//!   shared on-policy loop ([`shared::train::iterate`]) with the shared DPO;
//! - [`tables`]: the mini AlpacaEval per iteration, the gap and judge tables, the claims, the plots;
//! - [`paper`]: the paper-scale config (models, data, hyperparameters, the judge prompt interface).

pub mod config;
pub mod diagnostics;
pub mod judge;
pub mod paper;
pub mod pipeline;
pub mod select;
pub mod tables;

/// The miniature as `cargo xtask reproduce temporal-self-rewarding` runs it.
pub struct Tsr;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Tsr {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "temporal-self-rewarding";
        const NAME: &'static str = "Temporal Self-Rewarding";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            config::MiniConfig::load(path)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            let m: Vec<String> = cfg.methods.iter().map(|m| format!("{} x {}", m.name, m.iterations)).collect();
            format!("SFT base + judge form (EFT, cached); {} chunks of {} prompts, K = {}; {}; evaluation on {} prompts", cfg.chunks, cfg.prompts_per_chunk, cfg.samples, m.join(", "), cfg.eval.prompts)
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
            "Temporal Self-Rewarding's paper scale (Llama-3.1-8B base, M_0 = SFT on IFT + EFT files, K = 7, 2 iterations vs Self-Rewarding's 4): `--scale paper [--config configs/paper/<setting>.toml]` runs the SFT stage and the three methods (GPU and the prepared IFT/EFT/prompt files needed); the same path runs on the tiny fixtures in tests/paper_path.rs".into()
        }
    }
}
