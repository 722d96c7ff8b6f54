//! CDR: Customizable Density Ratios of strong-over-weak LLMs for preference annotation (Xu, Xu,
//! Sudalairaj, Wang, Srivastava; arXiv 2411.02481, later "Dr. SoW").
//!
//! Read in this order: [`ratio`] (the reward `log π_s(y|x) − log π_w(y|x)`, its mean-normalised
//! variant, the Bradley–Terry probability, the best-vs-worst pair rule), [`rewardbench`]
//! (RewardBench's subsets, section weights and overall score), [`paper`] (scoring a
//! RewardBench-format preference set with two Hugging Face checkpoints: the same text for both,
//! rendered with the strong model's template, summed over each model's own response tokens),
//! then the miniature: [`config`], [`bench`] (the mini RewardBench and the domain router),
//! [`pipeline`] (the zoo of seven world models, the bench scored by each, annotation and the
//! downstream SimPO runs) and [`tables`] (the strong-over-weak study and the claims over seeds).
//!
//! ```
//! use cdr::ratio::{reward, Normalise};
//! // Spec vector 1, response A: Σ strong −2.0, Σ weak −3.2 over 4 tokens.
//! assert!((reward(-2.0, -3.2, 4, Normalise::None) - 1.2).abs() < 1e-12);
//! assert!((reward(-2.0, -3.2, 4, Normalise::Mean) - 0.3).abs() < 1e-12);
//! ```

pub mod bench;
pub mod config;
pub mod paper;
pub mod pipeline;
pub mod ratio;
pub mod rewardbench;
pub mod tables;

/// The miniature as `cargo xtask reproduce cdr` runs it: the shared driver ([`shared::driver`])
/// owns the command line, the seeds and the report; this says what differs.
pub struct Cdr;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for Cdr {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "cdr";
        const NAME: &'static str = "CDR";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            config::MiniConfig::load(path)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            let b = &cfg.bench;
            format!(
                "per seed: SFT base (cached); zoo of 7 (two early stops of the SFT recipe, the base, DPO / SimPO / flipped DPO on {} prompts x {} samples, a wrong-heavy fine-tune) with strengths on the mini AlpacaEval; mini RewardBench ({} + {} + {} items) scored by all 42 ordered pairs; {} prompts x {} samples of M2 labelled by {} sources, SimPO on each, evaluated on the mini AlpacaEval",
                cfg.zoo.pair_prompts, cfg.zoo.sampling.samples, b.chat, b.chat_hard, b.reasoning, cfg.annotate.prompts, cfg.annotate.sampling.samples, cfg.annotate.labels.len()
            )
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            pipeline::run(cfg, scale, seed, device, &runs_root.join(scale.name()))
        }
        fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            tables::save_all(cfg, outs, out, info)
        }
        fn paper_scale_note() -> String {
            "CDR's paper scale is configs/paper/nous-hermes-over-openhermes.toml, run by `cdr::paper::run` (tests/paper_path.rs runs it on the tiny fixtures); it needs a GPU and the RewardBench files. Run --scale mini or smoke here".into()
        }
    }
}
