//! DRIFT (Wang et al. 2025, arXiv 2510.02341): real dissatisfaction replies as fixed negatives,
//! fresh on-policy positives, plain DPO (+ RPO) with the previous iterate as reference.
//!
//! Read in this order:
//! - [`loss`]: the DPO + α·NLL objective, σ(−s), Lemma 1's bound (spec test vectors as unit tests);
//! - [`prompt`]: the paper-scale guided-generation prompt (`gen-drift.py`'s plain-text transcript);
//! - [`pipeline`]: the miniature, from the deployment log to the iterates (the shared on-policy loop);
//! - [`metrics`] and [`tables`]: win rate with ties, diversity, the claims;
//! - [`paper`]: the paper-scale path (Hugging Face checkpoint, DSAT JSONL) through the same loop.

pub mod config;
pub mod loss;
pub mod metrics;

pub mod pipeline;
pub mod prompt;
pub mod tables;
pub mod paper;

/// The miniature as `cargo xtask reproduce drift` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Drift;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Drift {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "drift";
        const NAME: &'static str = "DRIFT";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            format!("SFT base + guided form (cached); log of {} prompts; seed DPO; {} methods x {} iterations; evaluation on {} prompts", cfg.log.prompts, cfg.methods.len(), cfg.iterations, cfg.eval.prompts)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run(cfg, scale, seed, device, runs_root)?)
        }
        fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, cfg, out, info)?)
        }
        fn paper_config() -> std::path::PathBuf {
            Self::config_dir().join("paper/qwen2.5-7b.toml")
        }
        fn paper_scale(args: &shared::cli::RunArgs, config: &Path) -> anyhow::Result<()> {
            shared::driver::run_paper_scale(args, config, Self::SLUG, paper::PaperConfig::load, |c, d, o| paper::run(c, d, o))
        }
        fn paper_scale_note() -> String {
            "DRIFT's paper scale (Qwen2.5-7B/14B-Instruct, WildFeedback DSAT, RMSprop): `--scale paper [--config configs/paper/qwen2.5-14b.toml]` runs it (GPU and the WildFeedback DSAT file needed); the same path runs on the tiny fixtures in tests/paper_path.rs".into()
        }
    }
}
