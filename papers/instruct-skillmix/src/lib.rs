//! Instruct-SkillMix: A Powerful Pipeline for LLM Instruction Tuning (Kaur, Park, Goyal, Arora;
//! arXiv 2408.14774), reproduced in miniature.
//!
//! Read in this order: [`catalogue`] (the twelve skills and four query types the teacher lists,
//! an instruction and its reference composition), [`oracle`] (the score `s(x, y)` and the
//! pairwise preference), [`teacher`] (the released code's draws: shuffle-and-take-k skill pairs,
//! cycled query types, held-out pairs, shirkers, the partial-oracle baseline), then [`pipeline`]
//! (one seed: every condition fine-tuned through the shared SFT step with held-out epoch
//! selection), [`tables`] (claims over seeds, the data-size plot), [`published`] (what the
//! mirrored AlpacaEval artifacts let us recompute), [`paper`] (the paper-scale recipe: Alpaca
//! template, Llama-3 token layout, 15 epochs with per-epoch held-out selection by AlpacaEval's
//! annotator) and [`paper_cli`] (`--scale paper`: the options, the checks before training, the run).
//!
//! ```
//! use instruct_skillmix::catalogue::{Instruction, Query, Skill};
//! let x = Instruction { query: Query::Plan, skills: vec![Skill::Reverse, Skill::Number], payload: vec!["fig".into(), "owl".into()] };
//! assert_eq!(x.text(), "plan reverse number: fig owl");
//! assert_eq!(x.reference(), "plan: reverse, number; 1. owl; 2. fig");
//! assert_eq!(instruct_skillmix::oracle::score(&x, &x.reference()), 1.0);
//! ```

pub mod catalogue;
pub mod config;
pub mod oracle;
pub mod paper;
pub mod paper_cli;
pub mod pipeline;
pub mod published;
pub mod tables;
pub mod teacher;

#[cfg(test)]
mod spec_vectors;

/// The miniature as `cargo xtask reproduce instruct-skillmix` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct InstructSkillMix;

mod driver {
    use super::*;
    use shared::cli::{RunArgs, Scale};
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for InstructSkillMix {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "instruct-skillmix";
        const NAME: &'static str = "Instruct-SkillMix";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            config::MiniConfig::load(path)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            let d = &cfg.data;
            format!(
                "per seed: the world's cached base; teacher data of {} examples for mix-k2, single-k1, narrow-k2, {:.0}% junk / brevity shirkers, and mix-k2 at {:?}; {} epochs of SFT each, epoch chosen on {} held-out instructions; {} evaluation prompts at T = {} (and greedy)",
                d.n, 100.0 * d.shirker_rate, d.sizes, cfg.train.epochs, d.validation, cfg.eval.k2 + cfg.eval.k1 + cfg.eval.k3, cfg.eval.temperature
            )
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            pipeline::run_seed(cfg, scale, seed, device, runs_root)
        }
        fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            tables::save_all(cfg, outs, out, info)
        }
        fn paper_scale_note() -> String {
            "the paper-scale run needs the base model (meta-llama/Meta-Llama-3-8B is gated; --model takes a folder or hub id), the released SkillMix records (--train-data, --heldout-data) and an OpenAI-compatible AlpacaEval judge (--judge-url); `--dry-run` prints the plan; the same code path runs on the tiny fixtures in papers/instruct-skillmix/tests/paper_path.rs".into()
        }
        /// `--scale paper` with the recipe's defaults (the binary's own `main` passes the
        /// paper-scale options: [`paper_cli::PaperArgs`]).
        fn paper_scale(args: &RunArgs, _config: &Path) -> anyhow::Result<()> {
            paper_cli::main(args, &paper_cli::PaperArgs::default())
        }
    }
}
