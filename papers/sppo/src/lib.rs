//! SPPO: Self-Play Preference Optimization for Language Model Alignment (Wu et al., ICLR 2025).
//!
//! Read in this order: [`winrate`] (how `Phat(y > pi_t)` is estimated from K samples: the paper's
//! direct average and the released code's score-sigmoid form), [`loss`] (the `sppo` and
//! `sppo_single` square losses, eq. 4.12, as an objective of the shared training engine, next to
//! the DPO/IPO baselines), [`recipe`] (SPPO's data rule on the shared nash harness: K samples →
//! `Phat` → the argmax/argmin pair with its targets), then [`pipeline`] (the miniature: the
//! shared harness `shared::nash` runs every method on the shared on-policy loop, 3 iterations on
//! 3 disjoint prompt splits, over seeds) and [`tables`].

pub mod config;
pub mod loss;
pub mod pipeline;
pub mod recipe;
pub mod tables;
pub mod winrate;

/// The miniature as `cargo xtask reproduce sppo` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Sppo;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Sppo {
        type Config = config::MiniConfig;
        type Outcome = shared::nash::Outcome;
        const SLUG: &'static str = "sppo";
        const NAME: &'static str = "SPPO";

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
            "SPPO's paper scale is configs/paper.toml (Mistral-7B-Instruct-v0.2, RMSprop, eta 1000); it needs a GPU, the prompt files and a reward model standing in for PairRM".into()
        }
    }
}
