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
    Paper { slug: "cdr", title: "Contrastive density-ratio preference data", datasets: &[] },
    Paper { slug: "sppo", title: "Self-Play Preference Optimization", datasets: &[] },
    Paper { slug: "dno", title: "Direct Nash Optimization", datasets: &[] },
    Paper { slug: "inpo", title: "Iterative Nash Policy Optimization", datasets: &[] },
    Paper { slug: "drift", title: "DRIFT: learning from dissatisfaction signals", datasets: &[] },
    Paper { slug: "temporal-self-rewarding", title: "Temporal Self-Rewarding Language Models", datasets: &[] },
    Paper { slug: "evolve", title: "EVOLVE: self-refinement with preference training", datasets: &[] },
    Paper { slug: "par", title: "Preference As Reward (reward-hacking mitigation)", datasets: &[] },
    Paper { slug: "autorule", title: "AutoRule: rule-based rewards from reasoning traces", datasets: &[] },
    Paper { slug: "tgdpo", title: "TGDPO: token-level reward guidance for DPO", datasets: &[] },
    Paper { slug: "lcpo", title: "Learning from noisy preference labels", datasets: &[] },
    Paper { slug: "instruct-skillmix", title: "Instruct-SkillMix", datasets: &[] },
    Paper { slug: "adaptive-compute", title: "Adaptive inference-time compute", datasets: &[] },
    Paper { slug: "lc-alpacaeval", title: "Length-Controlled AlpacaEval", datasets: &["alpaca_eval"] },
    Paper { slug: "null-model", title: "Cheating automatic LLM benchmarks (null models)", datasets: &["alpaca_eval", "cheating"] },
    Paper { slug: "wildbench", title: "WildBench", datasets: &["wildbench"] },
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
