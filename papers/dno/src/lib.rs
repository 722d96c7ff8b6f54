//! DNO: Direct Nash Optimization (Rosset et al., 2024), in miniature on the shared nash harness.
//!
//! Read in this order: [`pairs`] (DNO-Prct's data rules as pure functions: the large-margin pairs
//! with student-beats-teacher pairs, the Restrictive/SPIN/iterative-DPO variants, Algorithm 2's
//! win-rate annotation), [`loss`] (the contrastive update against the previous iterate, eq. 13,
//! and Algorithm 1's two-sided BCE, as objectives of the shared engine), [`recipe`] (the rules on
//! the harness's groups: rubric scores of 5 students + the teacher's gold answer, replay of
//! earlier pairs), then [`pipeline`] (every method from `π_0` on the shared on-policy loop,
//! over seeds) and [`tables`] (Tables 1, 2 and the Table 4 trend in miniature, the claims).

pub mod config;
pub mod loss;
pub mod pairs;
pub mod pipeline;
pub mod recipe;
pub mod tables;

/// The miniature as `cargo xtask reproduce dno` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct Dno;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Dno {
        type Config = config::MiniConfig;
        type Outcome = shared::nash::Outcome;
        const SLUG: &'static str = "dno";
        const NAME: &'static str = "DNO";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.harness.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            let h = &cfg.harness;
            format!("per seed, SFT base (cached); {} methods x {} iterations on {} prompts per split, K = {} + gold; evaluation on {} prompts x {} samples after each iteration", cfg.methods.len(), h.iterations, h.prompts_per_split, cfg.samples, h.eval.prompts, h.eval.samples)
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
            "DNO's paper scale is configs/paper.toml (a public Mistral-7B SFT model for the unreleased Orca-2.5, a reward model with rubric thresholds for GPT-4-Turbo); it needs a GPU and the prompt files".into()
        }
    }
}
