//! PAR: Preference As Reward (Fu et al. 2025, arXiv 2502.18770), in the miniature world.
//!
//! PPO against a learned proxy reward is hacked: the proxy keeps rising while true quality falls.
//! PAR shapes the RL reward as the sigmoid of the proxy score minus the scores of reference
//! responses sampled once from the SFT model, `(1/M) Σ_m σ(r̃ − r̃_ref^m)`: bounded, fast at
//! first, then saturating, and centred.
//!
//! Read in this order:
//! 1. [`shaping`]: PAR and every baseline shaping as pure functions (spec test vectors 1–8).
//! 2. [`reward`]: a method's RL reward: proxy RM → length penalty → shaping (running stats).
//! 3. [`pipeline`]: base, hackable proxy, references, evaluation, one PPO run per method
//!    (`shared::rl`, the project's PPO: spec test vector 9 is tested there).
//! 4. [`tables`]: the win-rate table, the robustness curves, the claims.

pub mod config;
pub mod paper;
pub mod pipeline;
pub mod reward;
pub mod shaping;
pub mod tables;

/// The miniature as `cargo xtask reproduce par` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Par;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Par {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "par";
        const NAME: &'static str = "PAR";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            format!("SFT base (cached); proxy RM; {} references per prompt; PPO for {} methods over {} prompts x {} passes; {} evaluation prompts", cfg.references, cfg.methods.len(), cfg.prompts, cfg.rl.epochs, cfg.eval_prompts)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run(cfg, scale, seed, device, runs_root)?)
        }
        fn save_all(_cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, out, info)?)
        }
        fn paper_scale_note() -> String {
            "PAR's paper scale (Gemma2-2B / Llama3-8B, DeepSpeed, a DeepSeek-V3 judge) is not run from here; configs/paper/*.toml hold its recipe and run on the tiny fixtures in papers/par/tests".into()
        }
    }
}
