//! LCPO / RE-PO (Cao et al. 2025): every preference label may be wrong; a latent "this label is
//! right" variable is estimated by EM, so that labels the model finds implausible count less.
//!
//! Read in this order:
//! 1. [`link`]: the Gibbs link from a pairwise loss to a preference probability (Eq. 2) for DPO,
//!    IPO, SimPO and CPO, the posterior (Eq. 4) and the EMA of the reliability (Eq. 7);
//! 2. [`objective`]: the RE objective (Eq. 5) on the engine, with the annotators' reliabilities η
//!    as its own state, updated once per optimiser batch through `Objective::observe`;
//! 3. [`em`]: the population EM operator of Thm 4.1 (spec test vector 7);
//! 4. [`config`], [`pipeline`] (clean oracle pairs, flipped copies, every method, posterior
//!    checks) and [`tables`] (claims over seeds).

pub mod em;
pub mod link;
pub mod objective;
pub mod paper;
pub mod config;
pub mod pipeline;
pub mod tables;

/// The miniature as `cargo xtask reproduce lcpo` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Lcpo;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Lcpo {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "lcpo";
        const NAME: &'static str = "RE-PO (LCPO)";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            format!("per seed: SFT base (cached); {} prompts x {} samples -> clean oracle pairs; noise levels {:?}; {} methods x {} epochs each; evaluation on the mini AlpacaEval prompts", cfg.train_prompts, cfg.sampling.samples, cfg.noise, cfg.methods.len(), cfg.train.epochs)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run(cfg, scale, seed, device, &runs_root.join(scale.name()))?)
        }
        fn save_all(_cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, out, info)?)
        }
        fn paper_scale_note() -> String {
            "RE-PO's paper scale is configs/paper/*.toml, run by `lcpo::paper::run` (tests/paper_path.rs runs it on the tiny fixtures); it needs a GPU. Run --scale mini or smoke here".into()
        }
    }
}
