//! The 95% interval of any statistic of per-prompt data, by a bootstrap over prompts and seeds
//! stratified by seed (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
//! NeurIPS 2021). Why it resamples what it resamples is in the crate doc ([`crate`]).
//!
//! One replicate:
//! 1. draw S seeds with replacement from the S seeds of the run;
//! 2. draw prompts with replacement: **crossed** (every seed evaluated the same prompt ids): one
//!    draw of n prompt ids per replicate, used by every drawn seed; **nested** (the seeds'
//!    prompt sets differ): a draw of each drawn seed's own prompts;
//! 3. a drawn prompt brings all its samples (responses to one prompt are not independent);
//! 4. the statistic is evaluated on the drawn data ([`Draw`], one list of items per drawn seed).
//!
//! With one seed both schemes reduce to the ordinary bootstrap over prompts. The interval is the
//! percentile interval of `replicates` replicates (default 2,000) from a ChaCha8 RNG with a fixed
//! seed, so it is a deterministic function of the data.

use crate::error::{Error, Result};
use crate::paired::{Pair, Paired};
use crate::records::{Record, Records};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the bootstrap needs to know of an item: which seed's run produced it and which prompt it
/// answers.
pub trait Unit {
    fn seed(&self) -> u64;
    fn prompt(&self) -> &str;
}

impl Unit for Record {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn prompt(&self) -> &str {
        &self.prompt
    }
}

impl Unit for Pair {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn prompt(&self) -> &str {
        &self.prompt
    }
}

impl<T: Unit> Unit for &T {
    fn seed(&self) -> u64 {
        (**self).seed()
    }
    fn prompt(&self) -> &str {
        (**self).prompt()
    }
}

/// How prompts are drawn within the drawn seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Every seed has the same prompt ids: one prompt draw per replicate, shared by all seeds.
    Crossed,
    /// Each drawn seed's prompts are drawn from its own prompts.
    Nested,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Crossed => "crossed",
            Scheme::Nested => "nested",
        }
    }
}

/// Bootstrap settings. `Default`: 2,000 replicates, RNG seed 0, 95% level, scheme chosen from the
/// data (crossed when every seed has the same prompt ids, else nested).
#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub replicates: usize,
    pub rng_seed: u64,
    pub level: f64,
    /// Force a scheme (tests compare them); `None` = from the data.
    pub scheme: Option<Scheme>,
    /// Records of the same table from an earlier run over several seeds (the committed
    /// snapshot): a one-seed interval is widened by the spread between those seeds
    /// ([`crate::spread`]). `None`: intervals of this run's data only.
    pub reference: Option<std::sync::Arc<Records>>,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap { replicates: 2000, rng_seed: 0, level: 0.95, scheme: None, reference: None }
    }
}

/// One seed's prompt ids in order of first appearance, and each prompt's items.
type PromptGroups<'a, T> = (Vec<String>, HashMap<String, Vec<&'a T>>);

/// The data arranged for resampling: per seed (ascending), per prompt, the items of that prompt.
pub struct Design<'a, T> {
    seeds: Vec<u64>,
    /// `groups[s][j]`: the items of prompt j in seed s. In a crossed design prompt j is the same
    /// prompt id in every seed.
    groups: Vec<Vec<Vec<&'a T>>>,
    prompt_ids: usize,
    units: usize,
    crossed: bool,
}

impl<'a, T: Unit> Design<'a, T> {
    /// Group items by seed and prompt. Prompts keep the order of their first appearance.
    pub fn new(items: &'a [T]) -> Result<Self> {
        if items.is_empty() {
            return Err(Error::invalid("bootstrap", "no data to resample"));
        }
        // Per seed: prompt ids in order of first appearance, and each prompt's items.
        let mut by_seed: BTreeMap<u64, PromptGroups<'a, T>> = BTreeMap::new();
        for it in items {
            let (order, map) = by_seed.entry(it.seed()).or_default();
            let p = it.prompt();
            if !map.contains_key(p) {
                order.push(p.to_string());
            }
            map.entry(p.to_string()).or_default().push(it);
        }
        let seeds: Vec<u64> = by_seed.keys().copied().collect();
        let reference: Vec<String> = by_seed.values().next().map(|(o, _)| o.clone()).unwrap_or_default();
        let first: HashSet<&String> = reference.iter().collect();
        let crossed = by_seed.values().all(|(o, _)| o.len() == first.len() && o.iter().all(|p| first.contains(p)));
        let mut groups = vec![];
        let mut all_ids = HashSet::new();
        for (order, mut map) in by_seed.into_values() {
            // Crossed: align every seed on the first seed's prompt order, so index j is one prompt.
            let order = if crossed { reference.clone() } else { order };
            all_ids.extend(order.iter().cloned());
            groups.push(order.iter().map(|p| map.remove(p).expect("grouped above")).collect());
        }
        Ok(Design { seeds, groups, prompt_ids: all_ids.len(), units: items.len(), crossed })
    }

    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }
    /// Distinct prompt ids over all seeds.
    pub fn prompts(&self) -> usize {
        self.prompt_ids
    }
    /// The scheme the data allow: crossed when every seed has the same prompt ids.
    pub fn natural_scheme(&self) -> Scheme {
        if self.crossed {
            Scheme::Crossed
        } else {
            Scheme::Nested
        }
    }

    /// Seed `i`'s data alone (the i-th of [`Design::seeds`]), with no resampling.
    pub fn seed_draw(&self, i: usize) -> Draw<'a, T> {
        Draw { seeds: vec![self.groups[i].iter().flatten().copied().collect()] }
    }

    /// The data as drawn with no resampling (every seed once, every prompt once).
    pub fn full(&self) -> Draw<'a, T> {
        Draw { seeds: self.groups.iter().map(|g| g.iter().flatten().copied().collect()).collect() }
    }

    /// One replicate's indices: the drawn seeds and, per drawn seed, its drawn prompts. Only
    /// this touches the RNG, in one fixed order, so the replicates can then be evaluated on any
    /// number of threads with the same result.
    fn plan(&self, scheme: Scheme, rng: &mut ChaCha8Rng) -> Vec<(usize, Vec<u32>)> {
        let s = self.groups.len();
        let seeds: Vec<usize> = (0..s).map(|_| rng.gen_range(0..s)).collect();
        let shared: Option<Vec<u32>> = match scheme {
            Scheme::Crossed => {
                let n = self.groups[0].len();
                Some((0..n).map(|_| rng.gen_range(0..n) as u32).collect())
            }
            Scheme::Nested => None,
        };
        seeds
            .into_iter()
            .map(|k| {
                let n = self.groups[k].len();
                let prompts = match &shared {
                    Some(p) => p.clone(),
                    None => (0..n).map(|_| rng.gen_range(0..n) as u32).collect(),
                };
                (k, prompts)
            })
            .collect()
    }

    /// The items a [`Design::plan`] draws.
    fn realise(&self, plan: &[(usize, Vec<u32>)]) -> Draw<'a, T> {
        Draw { seeds: plan.iter().map(|(k, prompts)| prompts.iter().flat_map(|&j| self.groups[*k][j as usize].iter().copied()).collect()).collect() }
    }
}

/// One bootstrap replicate (or the original data): for each drawn seed, the items of its drawn
/// prompts. A statistic is any function of it.
pub struct Draw<'a, T> {
    pub seeds: Vec<Vec<&'a T>>,
}

impl<T> Draw<'_, T> {
    /// The mean over drawn seeds of each seed's mean of `f` (equal to the grand mean when every
    /// seed has as many items).
    pub fn mean(&self, f: impl Fn(&T) -> f64) -> f64 {
        self.per_seed(|items| items.iter().map(|t| f(t)).sum::<f64>() / items.len() as f64)
    }
    /// The mean over drawn seeds of a statistic of each seed's items (e.g. a length-controlled
    /// win rate refitted per seed).
    pub fn per_seed(&self, f: impl Fn(&[&T]) -> f64) -> f64 {
        self.seeds.iter().map(|s| f(s)).sum::<f64>() / self.seeds.len() as f64
    }
    /// Every drawn item, seed after seed.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.seeds.iter().flatten().copied()
    }
}

/// A bootstrap interval and what it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// The statistic on the data as observed.
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
    /// Standard deviation of the replicates: the bootstrap standard error.
    pub se: f64,
    pub level: f64,
    pub replicates: usize,
    pub seeds: Vec<u64>,
    /// Distinct prompt ids.
    pub prompts: usize,
    /// Items (responses, or pairs of responses).
    pub units: usize,
    pub scheme: Scheme,
}

impl Interval {
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }
    /// The smallest true effect this design detects with 80% power ([`crate::verdict::minimal_detectable_effect`]).
    pub fn mde(&self) -> f64 {
        crate::verdict::minimal_detectable_effect(self.se, self.level, 0.8)
    }
}

/// Linear-interpolation quantile of sorted values (type 7 of Hyndman and Fan).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = p * (sorted.len() - 1) as f64;
    let (i, frac) = (h.floor() as usize, h - h.floor());
    if i + 1 >= sorted.len() {
        sorted[sorted.len() - 1]
    } else {
        sorted[i] + frac * (sorted[i + 1] - sorted[i])
    }
}

impl Bootstrap {
    /// The percentile interval of `stat` over the design's replicates.
    pub fn interval<'a, T: Unit + Sync>(&self, design: &Design<'a, T>, stat: impl Fn(&Draw<'a, T>) -> f64 + Sync) -> Result<Interval> {
        if self.replicates < 100 {
            return Err(Error::invalid("bootstrap", format!("{} replicates are too few for a percentile interval (use at least 100)", self.replicates)));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::invalid("bootstrap", format!("level {} must lie in (0, 1)", self.level)));
        }
        let scheme = self.scheme.unwrap_or(design.natural_scheme());
        if scheme == Scheme::Crossed && !design.crossed {
            return Err(Error::invalid("bootstrap", "a crossed bootstrap needs every seed to have the same prompt ids"));
        }
        let estimate = stat(&design.full());
        if !estimate.is_finite() {
            return Err(Error::invalid("bootstrap", format!("the statistic is {estimate} on the observed data")));
        }
        // The draws come from one RNG in replicate order; the statistic (the costly part: an LC
        // fit, a ratio over thousands of items) is evaluated on all cores, a chunk at a time, and
        // collected in replicate order, so the interval does not depend on the core count.
        let mut rng = ChaCha8Rng::seed_from_u64(self.rng_seed);
        let mut reps = Vec::with_capacity(self.replicates);
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        while reps.len() < self.replicates {
            let chunk = (self.replicates - reps.len()).min(16 * workers);
            let plans: Vec<_> = (0..chunk).map(|_| design.plan(scheme, &mut rng)).collect();
            if workers == 1 {
                reps.extend(plans.iter().map(|p| stat(&design.realise(p))));
                continue;
            }
            let per = plans.len().div_ceil(workers);
            let stat = &stat;
            let parts: Vec<Vec<f64>> = std::thread::scope(|sc| {
                let handles: Vec<_> = plans.chunks(per).map(|ps| sc.spawn(move || ps.iter().map(|p| stat(&design.realise(p))).collect::<Vec<f64>>())).collect();
                handles.into_iter().map(|h| h.join().expect("a bootstrap worker panicked")).collect()
            });
            reps.extend(parts.into_iter().flatten());
        }
        let bad = reps.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(Error::invalid("bootstrap", format!("the statistic is undefined on {bad} of {} replicates (too few prompts for it?)", self.replicates)));
        }
        let mean = reps.iter().sum::<f64>() / reps.len() as f64;
        let se = (reps.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps.len() - 1) as f64).sqrt();
        reps.sort_by(f64::total_cmp);
        let alpha = 1.0 - self.level;
        Ok(Interval {
            estimate,
            lo: quantile_sorted(&reps, alpha / 2.0),
            hi: quantile_sorted(&reps, 1.0 - alpha / 2.0),
            se,
            level: self.level,
            replicates: self.replicates,
            seeds: design.seeds.clone(),
            prompts: design.prompts(),
            units: design.units,
            scheme,
        })
    }

    /// Interval of the mean paired difference `mean(a - b)` of a metric (a one-seed interval
    /// widened by the seed spread of [`Bootstrap::reference`], when set).
    pub fn mean_diff(&self, p: &Paired, metric: &str) -> Result<Interval> {
        let m = p.metric(metric)?;
        let iv = self.interval(&Design::new(&p.pairs)?, |d| d.mean(|x| x.diff(m)))?;
        match &self.reference {
            Some(r) => {
                let rp = crate::paired::paired(r, &p.a, &p.b)?;
                let rm = rp.metric(metric)?;
                self.widen(iv, &Design::new(&rp.pairs)?, |d| d.mean(|x| x.diff(rm)))
            }
            None => Ok(iv),
        }
    }

    /// Interval of one method's mean of a metric (widened as [`Bootstrap::mean_diff`]).
    pub fn mean_of(&self, records: &Records, method: &str, metric: &str) -> Result<Interval> {
        let m = records.metric(metric)?;
        let rows = records.of(method)?;
        let iv = self.interval(&Design::new(&rows)?, |d| d.mean(|r| r.values[m]))?;
        match &self.reference {
            Some(r) => {
                let (rm, rows) = (r.metric(metric)?, r.of(method)?);
                self.widen(iv, &Design::new(&rows)?, |d| d.mean(|x| x.values[rm]))
            }
            None => Ok(iv),
        }
    }
}

#[cfg(test)]
mod tests;
