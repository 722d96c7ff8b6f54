//! TGDPO (Zhu et al., ICML 2025): DPO whose every token has its own weight, taken from the token
//! reward of an already trained DPO model.
//!
//! Read in this order:
//! 1. [`loss`]: the objective (spec "Loss", the authors' `dpo_loss`), with the spec's test vectors;
//! 2. [`rewards`]: the token rewards `Δ_t = log π_dpo − log π_ref`, carried as token weights;
//! 3. [`config`]: the miniature's TOML config;
//! 4. [`pipeline`]: SFT base → on-policy pairs ranked by the oracle → π_dpo → DPO / TGDPO / SimPO
//!    trained with equal budgets, evaluated after every epoch (best and converged);
//! 5. [`tables`]: the paper's numbers beside the miniature's, claims decided over seeds.

pub mod config;
pub mod loss;
pub mod pipeline;
pub mod rewards;
pub mod tables;

/// The miniature as `cargo xtask reproduce tgdpo` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Tgdpo;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Tgdpo {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "tgdpo";
        const NAME: &'static str = "TGDPO";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            format!("per seed: SFT base (cached); {} prompts x {} samples -> oracle pairs; π_dpo ({} epochs); {} methods x {} epochs, validated after each; evaluation on the mini AlpacaEval prompts", cfg.train_prompts, cfg.sampling.samples, cfg.reward_model.epochs, cfg.methods.len(), cfg.train.epochs)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run(cfg, scale, seed, device, &runs_root.join(scale.name()))?)
        }
        fn save_all(_cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, out, info)?)
        }
        fn paper_scale_note() -> String {
            "TGDPO at paper scale (Llama3-8B-Instruct, 3 models of 8B on 8×80GB) is not run from here: configs/paper/*.toml are checked by `cargo test -p tgdpo` on the tiny fixtures; run --scale mini or smoke".into()
        }
    }
}
