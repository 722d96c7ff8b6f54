//! INPO: Iterative Nash Policy Optimization (Zhang et al., ICLR 2025), in miniature on the shared
//! nash harness.
//!
//! Read in this order: [`loss`] (the OMD square loss `(h_t − 1/(2η))²` against the geometric mix
//! of the SFT model and the previous iterate, as an objective of the shared engine reading its
//! `"initial"` and `"previous"` references; Prop. 6 on a tabular game), [`tournament`] (the
//! 11-comparison preference-model pair selection), [`recipe`] (PM and RM pairs on the harness's
//! groups), then [`pipeline`] (INPO, its ablations, iterative DPO and SPPO from the same `π_0`,
//! over seeds) and [`tables`] (Tables 1 and 3 in miniature, the claims).

pub mod config;
pub mod loss;
pub mod pipeline;
pub mod recipe;
pub mod tables;
pub mod tournament;

/// The miniature as `cargo xtask reproduce inpo` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Inpo;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Inpo {
        type Config = config::MiniConfig;
        type Outcome = shared::nash::Outcome;
        const SLUG: &'static str = "inpo";
        const NAME: &'static str = "INPO";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.harness.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            let h = &cfg.harness;
            format!("per seed, SFT base (cached); {} methods x {} iterations on {} prompts per split, K = {}; evaluation on {} prompts x {} samples after each iteration", cfg.methods.len(), h.iterations, h.prompts_per_split, cfg.samples, h.eval.prompts, h.eval.samples)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run(cfg, scale, seed, device, runs_root)?)
        }
        fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, cfg, out, info)?)
        }
        fn paper_scale(args: &shared::cli::RunArgs, config: &Path) -> anyhow::Result<()> {
            shared::nash::paper::reproduce::<config::Method>(args, config, Self::SLUG, |c| {
                c.method.validate()?;
                Ok(pipeline::method(c.samples, &c.method, c.train.at(c.method.lr, c.seed)))
            })
        }
        fn paper_scale_note() -> String {
            "INPO's paper scale is configs/paper.toml (RLHFlow/LLaMA3-SFT, INPO (RM) with sfairXC/FsfairX-LLaMA3-RM-v0.1); it needs a GPU and the prompt files".into()
        }
    }
}
