//! The papers this project reproduces, by slug, and how each is run.

use std::path::Path;

pub struct Paper {
    pub slug: &'static str,
    pub title: &'static str,
    /// Datasets (manifests in `datasets/`) the paper reads; empty for miniature-only papers.
    pub datasets: &'static [&'static str],
}

pub const PAPERS: &[Paper] = &[
    Paper { slug: "simpo", title: "SimPO: Simple Preference Optimization with a Reference-Free Reward", datasets: &["alpaca_eval"] },
    Paper { slug: "cdr", title: "CDR: Customizable Density Ratios of Strong-over-weak LLMs for Preference Annotation", datasets: &[] },
    Paper { slug: "sppo", title: "Self-Play Preference Optimization for Language Model Alignment", datasets: &[] },
    Paper { slug: "dno", title: "Direct Nash Optimization: Teaching LMs to Self-Improve with General Preferences", datasets: &[] },
    Paper { slug: "inpo", title: "Iterative Nash Policy Optimization: Aligning LLMs with General Preferences", datasets: &[] },
    Paper { slug: "drift", title: "DRIFT: Learning from Abundant User Dissatisfaction in Real-World Preference Learning", datasets: &[] },
    Paper { slug: "temporal-self-rewarding", title: "Temporal Self-Rewarding Language Models: Decoupling Chosen-Rejected via Past-Future", datasets: &[] },
    Paper { slug: "evolve", title: "EVOLVE: Evolving LLMs' Self-Refinement Capability via Iterative Preference Optimization", datasets: &[] },
    Paper { slug: "par", title: "Reward Shaping to Mitigate Reward Hacking in RLHF (Preference As Reward)", datasets: &[] },
    Paper { slug: "autorule", title: "AutoRule: Reasoning Chain-of-thought Extracted Rule-based Rewards", datasets: &[] },
    Paper { slug: "tgdpo", title: "TGDPO: Harnessing Token-Level Reward Guidance for Enhancing DPO", datasets: &[] },
    Paper { slug: "lcpo", title: "Latent Collective Preference Optimization (LCPO / RE-PO)", datasets: &[] },
    Paper { slug: "instruct-skillmix", title: "Instruct-SkillMix: A Powerful Pipeline for LLM Instruction Tuning", datasets: &[] },
    Paper { slug: "adaptive-compute", title: "Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better", datasets: &[] },
    Paper { slug: "lc-alpacaeval", title: "Length-Controlled AlpacaEval: A Simple Way to Debias Automatic Evaluators", datasets: &["alpaca_eval", "alpaca_eval_hub"] },
    Paper { slug: "null-model", title: "Cheating Automatic LLM Benchmarks: Null Models Achieve High Win Rates", datasets: &["alpaca_eval", "cheating"] },
    Paper { slug: "wildbench", title: "WildBench: Benchmarking LLMs with Challenging Tasks from Real Users in the Wild", datasets: &["wildbench"] },
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
