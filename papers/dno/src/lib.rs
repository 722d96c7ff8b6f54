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

/// DNO as `cargo xtask reproduce dno` runs it (`shared::nash::family::Nash<Dno>` is the
/// driver's miniature): the config, one seed and `--scale paper` are the Nash family's; this
/// says what is the paper's.
pub struct Dno;

impl shared::nash::family::NashPaper for Dno {
    const SLUG: &'static str = "dno";
    const NAME: &'static str = "DNO";
    type Method = config::Method;
    fn samples_note(k: usize) -> String {
        format!("K = {k} + gold")
    }
    fn save_all(cfg: &config::MiniConfig, outs: &[shared::nash::Outcome], out: &std::path::Path, info: &shared::report::RunInfo) -> anyhow::Result<shared::stats::Claims> {
        Ok(tables::save_all(outs, cfg, out, info)?)
    }
    fn paper_scale_note() -> String {
        "DNO's paper scale is configs/paper.toml (a public Mistral-7B SFT model for the unreleased Orca-2.5, a reward model with rubric thresholds for GPT-4-Turbo); it needs a GPU and the prompt files".into()
    }
}
