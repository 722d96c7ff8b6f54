//! Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better, Even Mid-Generation
//! (Manvi, Singh, Ermon; arXiv 2410.02725).
//!
//! Read in this order: [`targets`] (what the self-evaluation predicts: leave-one-out
//! P(another own sample is strictly better)), [`selfeval`] (the appended question, the one-token
//! answer, `p̂ = P(yes) / (P(yes) + P(no))`, and the objective `L_eval + λ L_keep` for the shared
//! engine), [`select`] (best-of-N, adaptive sampling with annealing, pruning, AUROC), then
//! [`pipeline`] (the miniature, one seed), [`tables`] (claims over seeds, curves) and [`paper`]
//! (the paper-scale recipe: the question as a chat turn of a Hugging Face model).

pub mod config;
pub mod paper;
pub mod pipeline;
pub mod select;
pub mod selfeval;
pub mod tables;
pub mod targets;

/// The miniature as `cargo xtask reproduce adaptive-compute` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct AdaptiveCompute;

mod driver {
    use super::*;
    use shared::cli::{RunArgs, Scale};
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for AdaptiveCompute {
        type Config = config::MiniConfig;
        type Outcome = pipeline::SeedRun;
        const SLUG: &'static str = "adaptive-compute";
        const NAME: &'static str = "adaptive-compute";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            format!("per seed: SFT base (cached); {} prompts x {} samples -> self-eval examples; training; pools of {} samples on {} prompts; replay of every method", cfg.data.prompts, cfg.data.samples, cfg.eval.n_max(), cfg.eval.prompts)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run_seed(cfg, scale, seed, device, runs_root)?)
        }
        fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(cfg, outs, out, info)?)
        }
        fn paper_scale_note() -> String {
            "the paper-scale run needs a GPU, the gated prompts dataset and the reward model; the same code path runs on the tiny fixtures in papers/adaptive-compute/tests/paper_path.rs".into()
        }
        fn paper_scale(args: &RunArgs, config: &Path) -> anyhow::Result<()> {
            let r = paper::Recipe::load(config)?;
            println!("== adaptive-compute, paper scale; recipe {}\n{}", config.display(), r.plan());
            if args.dry_run {
                return Ok(());
            }
            anyhow::bail!("the paper-scale run needs {} (GPU, bf16), the gated {} and the reward model {}, none of which this machine has; the same code path runs on the tiny fixtures in papers/adaptive-compute/tests/paper_path.rs", r.model, r.prompts_dataset, r.reward_model)
        }
    }
}
