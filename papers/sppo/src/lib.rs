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

/// SPPO as `cargo xtask reproduce sppo` runs it (`shared::nash::family::Nash<Sppo>` is the
/// driver's miniature): the config, one seed and `--scale paper` are the Nash family's; this
/// says what is the paper's.
pub struct Sppo;

impl shared::nash::family::NashPaper for Sppo {
    const SLUG: &'static str = "sppo";
    const NAME: &'static str = "SPPO";
    type Method = config::Method;
    fn save_all(cfg: &config::MiniConfig, outs: &[shared::nash::Outcome], out: &std::path::Path, info: &shared::report::RunInfo) -> anyhow::Result<shared::stats::Claims> {
        Ok(tables::save_all(outs, cfg, out, info)?)
    }
    fn paper_scale_note() -> String {
        "SPPO's paper scale is configs/paper.toml (Mistral-7B-Instruct-v0.2, RMSprop, eta 1000); it needs a GPU, the prompt files and a reward model standing in for PairRM".into()
    }
}
