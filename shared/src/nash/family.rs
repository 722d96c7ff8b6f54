//! What a Nash paper crate writes, and what it gets for it. A paper describes one method of its
//! config ([`MethodSpec`]: name, learning rate, its own checks, and how it becomes a harness
//! [`Method`] with the paper's recipe and objective) and its tables ([`NashPaper`]); the config
//! ([`MiniConfig`]: K, the harness, the methods), one seed of the miniature, the driver's
//! [`Miniature`] and the paper-scale path ([`super::paper`]) are the same for every paper.

use super::harness::{Config, Harness};
use super::run::{self, Method, Outcome};
use crate::cli::{RunArgs, Scale};
use crate::driver::Miniature;
use crate::report::RunInfo;
use crate::train::TrainConfig;
use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// One `[[methods]]` table of a Nash paper's config (also the paper-scale config's `[method]`).
pub trait MethodSpec: Clone + Serialize + DeserializeOwned {
    fn name(&self) -> &str;
    fn lr(&self) -> f64;
    /// The paper's own checks of the method (objective, recipe settings).
    fn check(&self) -> anyhow::Result<()>;
    /// The method on the harness: K samples per prompt, trained by `train`.
    fn build(&self, samples: usize, train: TrainConfig) -> Method<'static>;
    /// The paper's rule for K (at least 2 unless it says more).
    fn check_samples(k: usize) -> anyhow::Result<()> {
        if k < 2 {
            bail!("samples must be ≥ 2 (K samples per prompt), got {k}");
        }
        Ok(())
    }
}

/// A method's learning rate and the paper's own checks.
pub fn validate_method<M: MethodSpec>(m: &M) -> anyhow::Result<()> {
    if !(m.lr() > 0.0 && m.lr().is_finite()) {
        bail!("method {:?}: lr must be > 0, got {}", m.name(), m.lr());
    }
    m.check().with_context(|| format!("method {:?}", m.name()))
}

/// A Nash paper's miniature config (`configs/{smoke,mini}.toml`): K, the shared harness, the
/// methods; a wrong key is an error naming it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig<M> {
    /// K: samples per prompt from the current policy.
    pub samples: usize,
    pub harness: Config,
    pub methods: Vec<M>,
}

impl<M: MethodSpec> MiniConfig<M> {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let cfg: Self = crate::io::read_toml(path)?;
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        M::check_samples(self.samples)?;
        self.harness.validate()?;
        if self.methods.is_empty() {
            bail!("no [[methods]]");
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.methods {
            if !names.insert(run::slug(m.name())) {
                bail!("method {:?}: two methods with the same name", m.name());
            }
            validate_method(m)?;
        }
        Ok(())
    }

    /// Every method of the config on the harness, each at its learning rate.
    pub fn methods(&self) -> Vec<Method<'static>> {
        self.methods.iter().map(|m| m.build(self.samples, self.harness.train_at(m.lr()))).collect()
    }

    /// Where one seed's iterates live: `runs_root/<scale>-<hash of the config and seed>`, so a
    /// changed config never reuses a stale iterate.
    pub fn run_dir(&self, runs_root: &Path, scale: Scale, seed: u64) -> PathBuf {
        run::run_dir(runs_root, &toml::to_string(self).unwrap_or_default(), scale, seed)
    }

    /// One seed of the whole miniature: every method from `π_0` through the shared harness.
    pub fn run(&self, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> crate::Result<Outcome> {
        let h = Harness::new(&self.harness, scale, seed, device)?;
        run::run(&h, self.methods(), &self.run_dir(runs_root, scale, seed))
    }
}

/// A Nash paper: its names, its method table, its tables and claims.
pub trait NashPaper {
    const SLUG: &'static str;
    const NAME: &'static str;
    type Method: MethodSpec;
    /// How the plan line describes the samples per prompt (DNO adds the teacher's answer).
    fn samples_note(k: usize) -> String {
        format!("K = {k}")
    }
    fn save_all(cfg: &MiniConfig<Self::Method>, outs: &[Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<stats::Claims>;
    /// What `--scale paper` needs (printed when it cannot run).
    fn paper_scale_note() -> String;
}

/// The driver's view of a Nash paper (`driver::main::<Nash<Sppo>>()`).
pub struct Nash<P>(PhantomData<P>);

impl<P: NashPaper> Miniature for Nash<P> {
    type Config = MiniConfig<P::Method>;
    type Outcome = Outcome;
    const SLUG: &'static str = P::SLUG;
    const NAME: &'static str = P::NAME;

    fn config_dir() -> PathBuf {
        crate::driver::repo_root().join("papers").join(P::SLUG).join("configs")
    }
    fn load(path: &Path) -> anyhow::Result<Self::Config> {
        MiniConfig::load(path)
    }
    fn threads(cfg: &Self::Config) -> i32 {
        cfg.harness.threads
    }
    fn plan(cfg: &Self::Config) -> String {
        let h = &cfg.harness;
        format!(
            "per seed, SFT base (cached); {} methods x {} iterations on {} prompts per split, {}; evaluation on {} prompts x {} samples after each iteration",
            cfg.methods.len(),
            h.iterations,
            h.prompts_per_split,
            P::samples_note(cfg.samples),
            h.eval.prompts,
            h.eval.samples
        )
    }
    fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> anyhow::Result<Self::Outcome> {
        Ok(cfg.run(scale, seed, device, runs_root)?)
    }
    fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> anyhow::Result<stats::Claims> {
        P::save_all(cfg, outs, out, info)
    }
    fn paper_scale(args: &RunArgs, config: &Path) -> anyhow::Result<()> {
        super::paper::reproduce::<P::Method>(args, config, P::SLUG, |c| {
            validate_method(&c.method)?;
            Ok(c.method.build(c.samples, c.train.at(c.method.lr(), c.seed)))
        })
    }
    fn paper_scale_note() -> String {
        P::paper_scale_note()
    }
}
