//! AutoRule (Wang & Xiong 2025, arXiv 2506.15651), in the miniature world.
//!
//! Rules for a rule-based reward are mined from preference data (justify → extract → merge); a
//! verifier checks each policy output against every rule, and `10·(frac − 0.75)` is added to the
//! learned RM's reward during GRPO. Against the hackable proxy RM it should hack less.
//!
//! Read in this order:
//! 1. [`rules`]: the candidate predicates, the three mining stages, `r_rule`, the length penalty
//!    (spec test vectors 1–3; vectors 3–6's group norm, k3 KL and reward clip are `shared::rl`'s).
//! 2. [`pipeline`]: base, proxy RM and its stored statistics, mining, agreement, one GRPO run per
//!    method over two episodes (`shared::rl`).
//! 3. [`tables`]: the methods table, the mined rules beside the oracle's weights, the hacking
//!    curves, the claims.

pub mod config;
pub mod paper;
pub mod pipeline;
pub mod rules;
pub mod tables;

/// The miniature as `cargo xtask reproduce autorule` runs it: the shared driver
/// ([`shared::driver`]) owns the command line, the seeds and the report; this says what differs.
pub struct AutoRule;

mod driver {
    use super::*;
    use shared::cli::Scale;
    use shared::driver::Miniature;
    use shared::report::RunInfo;
    use std::path::Path;

    impl Miniature for AutoRule {
        type Config = config::MiniConfig;
        type Outcome = pipeline::Outcome;
        const SLUG: &'static str = "autorule";
        const NAME: &'static str = "AutoRule";

        fn load(path: &Path) -> anyhow::Result<Self::Config> {
            Ok(config::MiniConfig::load(path)?)
        }
        fn threads(cfg: &Self::Config) -> i32 {
            cfg.threads
        }
        fn plan(cfg: &Self::Config) -> String {
            format!("SFT base (cached); proxy RM; rules mined from {} pairs; GRPO for {} methods over {} prompts x {} episodes; {} evaluation prompts", cfg.mine_pairs, cfg.methods.len(), cfg.prompts, cfg.rl.epochs, cfg.eval_prompts)
        }
        fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
            Ok(pipeline::run(cfg, scale, seed, device, runs_root)?)
        }
        fn save_all(_cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<shared::stats::Claims> {
            Ok(tables::save_all(outs, &shared::world::WorldConfig::default().oracle, out, info)?)
        }
        fn paper_scale_note() -> String {
            "AutoRule's paper scale is configs/paper/llama3-8b-uf.toml, run by `autorule::paper::run` (tests/paper_path.rs runs it on the tiny fixtures); it needs a GPU, the SFT model, the released rules and the verifier prompt as local files. Run --scale mini or smoke here".into()
        }
    }
}
