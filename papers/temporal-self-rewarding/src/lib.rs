//! Temporal Self-Rewarding (Wang et al. 2025, arXiv 2508.06026): the pair-selection rules of
//! Self-Rewarding and of its temporal variant, the self-judge's score arithmetic, the miniature's
//! synthetic additive rubric and the diagnostics (gap ratio, cosine of representations).
//!
//! Read in this order: [`judge`] (averaging parsed scores, the rubric), [`select`] (Self-Rewarding's
//! best-vs-worst, Phase 1 anchored rejection, Phase 2 future-guided chosen), [`diagnostics`].
//!
//! **Status.** The miniature pipeline (EFT-trained self-judge, SR / TSR / Past-only runs on the
//! shared on-policy loop), its tables and the paper-scale config are not built yet; the DPO loss
//! is DRIFT's / the shared `Dpo` (spec: "the same function is shared").

pub mod diagnostics;
pub mod judge;
pub mod select;
