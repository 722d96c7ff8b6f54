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

/// INPO as `cargo xtask reproduce inpo` runs it (`shared::nash::family::Nash<Inpo>` is the
/// driver's miniature): the config, one seed and `--scale paper` are the Nash family's; this
/// says what is the paper's.
pub struct Inpo;

impl shared::nash::family::NashPaper for Inpo {
    const SLUG: &'static str = "inpo";
    const NAME: &'static str = "INPO";
    type Method = config::Method;
    fn save_all(cfg: &config::MiniConfig, outs: &[shared::nash::Outcome], out: &std::path::Path, info: &shared::report::RunInfo) -> anyhow::Result<shared::stats::Claims> {
        Ok(tables::save_all(outs, cfg, out, info)?)
    }
    fn paper_scale_note() -> String {
        "INPO's paper scale is configs/paper.toml (RLHFlow/LLaMA3-SFT, INPO (RM) with sfairXC/FsfairX-LLaMA3-RM-v0.1); it needs a GPU and the prompt files".into()
    }
}
