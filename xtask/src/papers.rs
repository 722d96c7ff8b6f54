//! The papers this project reproduces, by slug, and how each is run.

use std::path::Path;

pub struct Paper {
    pub slug: &'static str,
    pub title: &'static str,
    /// Datasets (manifests in `datasets/`) the paper reads; empty for miniature-only papers.
    pub datasets: &'static [&'static str],
    /// Its tables are recomputed from published data (no training, no sampling): a rerun must
    /// give the committed files byte for byte. Otherwise a rerun is compared within the committed
    /// intervals (`numbers.csv`) and verdicts (`claims.csv`).
    pub published_data: bool,
}

pub const PAPERS: &[Paper] = &[
    Paper { slug: "simpo", title: "SimPO: Simple Preference Optimization with a Reference-Free Reward", datasets: &["alpaca_eval"], published_data: false },
    Paper { slug: "cdr", title: "CDR: Customizable Density Ratios of Strong-over-weak LLMs for Preference Annotation", datasets: &[], published_data: false },
    Paper { slug: "sppo", title: "Self-Play Preference Optimization for Language Model Alignment", datasets: &[], published_data: false },
    Paper { slug: "dno", title: "Direct Nash Optimization: Teaching LMs to Self-Improve with General Preferences", datasets: &[], published_data: false },
    Paper { slug: "inpo", title: "Iterative Nash Policy Optimization: Aligning LLMs with General Preferences", datasets: &[], published_data: false },
    Paper { slug: "drift", title: "DRIFT: Learning from Abundant User Dissatisfaction in Real-World Preference Learning", datasets: &[], published_data: false },
    Paper { slug: "temporal-self-rewarding", title: "Temporal Self-Rewarding Language Models: Decoupling Chosen-Rejected via Past-Future", datasets: &[], published_data: false },
    Paper { slug: "evolve", title: "EVOLVE: Evolving LLMs' Self-Refinement Capability via Iterative Preference Optimization", datasets: &[], published_data: false },
    Paper { slug: "par", title: "Reward Shaping to Mitigate Reward Hacking in RLHF (Preference As Reward)", datasets: &[], published_data: false },
    Paper { slug: "autorule", title: "AutoRule: Reasoning Chain-of-thought Extracted Rule-based Rewards", datasets: &[], published_data: false },
    Paper { slug: "tgdpo", title: "TGDPO: Harnessing Token-Level Reward Guidance for Enhancing DPO", datasets: &[], published_data: false },
    Paper { slug: "lcpo", title: "Latent Collective Preference Optimization (LCPO / RE-PO)", datasets: &[], published_data: false },
    Paper { slug: "instruct-skillmix", title: "Instruct-SkillMix: A Powerful Pipeline for LLM Instruction Tuning", datasets: &[], published_data: false },
    Paper { slug: "adaptive-compute", title: "Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better", datasets: &[], published_data: false },
    Paper { slug: "lc-alpacaeval", title: "Length-Controlled AlpacaEval: A Simple Way to Debias Automatic Evaluators", datasets: &["alpaca_eval", "alpaca_eval_hub"], published_data: true },
    Paper { slug: "null-model", title: "Cheating Automatic LLM Benchmarks: Null Models Achieve High Win Rates", datasets: &["alpaca_eval", "cheating"], published_data: true },
    Paper { slug: "wildbench", title: "WildBench: Benchmarking LLMs with Challenging Tasks from Real Users in the Wild", datasets: &["wildbench"], published_data: true },
];

pub fn find(slug: &str) -> Option<&'static Paper> {
    PAPERS.iter().find(|p| p.slug == slug)
}

/// A paper is runnable when its crate in `papers/<slug>/` has a binary (its pipeline).
pub fn implemented(root: &Path, slug: &str) -> bool {
    root.join("papers").join(slug).join("src/main.rs").exists()
}

/// A crate without a pipeline binary yet: the method exists, the tables do not.
pub fn started(root: &Path, slug: &str) -> bool {
    root.join("papers").join(slug).join("Cargo.toml").exists()
}
