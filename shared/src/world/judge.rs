//! Judges that behave like real ones, built on the oracle.
//!
//! Pairwise: z = (q1 - q2) / temperature + cyclic * R(st1, st2) + length_bias * tanh((|y1| - |y2|) / length_scale)
//!              + position_bias,                P(y1 ≻ y2) = (1 - noise) * σ(z) + noise * (1 - σ(z)),
//! with y1 shown first, R(u, v) = +1 if (u - v) mod 3 = 1, -1 if = 2, else 0 (rock-paper-scissors over
//! style classes: an intransitive knob), and `noise` the label flip rate.
//! Pointwise: a 1–10 checklist score (WildBench-style), with an optional length bias and noise.

use super::oracle::{Grade, Oracle};
use super::task::Prompt;
use crate::error::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PairwiseConfig {
    /// Oracle differences are divided by this (smaller = sharper judge).
    pub temperature: f64,
    /// Weight of the tanh length term (> 0 prefers longer answers).
    pub length_bias: f64,
    /// Characters over which the length term saturates (L0).
    pub length_scale: f64,
    /// Added to z in favour of the first-shown response.
    pub position_bias: f64,
    /// Probability that a verdict is flipped.
    pub label_noise: f64,
    /// Weight b of the intransitive style term R(st1, st2).
    pub cyclic: f64,
}

impl Default for PairwiseConfig {
    fn default() -> Self {
        PairwiseConfig { temperature: 1.0 / 6.0, length_bias: 0.5, length_scale: 8.0, position_bias: 0.1, label_noise: 0.05, cyclic: 0.0 }
    }
}

impl PairwiseConfig {
    /// The nash-mini general preference oracle (sppo/dno/inpo specs): a = 6, b = 1.5, c = 0.5, L0 = 8, no position bias, no noise.
    pub fn nash_mini() -> Self {
        PairwiseConfig { temperature: 1.0 / 6.0, length_bias: 0.5, length_scale: 8.0, position_bias: 0.0, label_noise: 0.0, cyclic: 1.5 }
    }
    /// A judge without any bias (oracle differences only).
    pub fn unbiased() -> Self {
        PairwiseConfig { length_bias: 0.0, position_bias: 0.0, label_noise: 0.0, cyclic: 0.0, ..Default::default() }
    }
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature > 0.0) {
            return Err(Error::invalid("judge.temperature", format!("{} must be > 0", self.temperature)));
        }
        if !(self.length_scale > 0.0) {
            return Err(Error::invalid("judge.length_scale", format!("{} must be > 0", self.length_scale)));
        }
        if !(0.0..=0.5).contains(&self.label_noise) {
            return Err(Error::invalid("judge.label_noise", format!("{} must lie in [0, 0.5]", self.label_noise)));
        }
        for (n, v) in [("length_bias", self.length_bias), ("position_bias", self.position_bias), ("cyclic", self.cyclic)] {
            if !v.is_finite() {
                return Err(Error::invalid(format!("judge.{n}"), "must be finite"));
            }
        }
        Ok(())
    }
}

/// R(u, v) of the cyclic term.
pub fn cyclic_r(u: usize, v: usize) -> f64 {
    match (u + 3 - v % 3) % 3 {
        1 => 1.0,
        2 => -1.0,
        _ => 0.0,
    }
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[derive(Clone, Debug)]
pub struct PairwiseJudge {
    pub cfg: PairwiseConfig,
    pub oracle: Oracle,
}

impl PairwiseJudge {
    pub fn new(cfg: PairwiseConfig, oracle: Oracle) -> Self {
        PairwiseJudge { cfg, oracle }
    }

    /// z without the position term: antisymmetric in (y1, y2).
    pub fn z_graded(&self, g1: &Grade, g2: &Grade) -> f64 {
        let c = &self.cfg;
        (g1.score - g2.score) / c.temperature
            + c.cyclic * cyclic_r(g1.style, g2.style)
            + c.length_bias * ((g1.length as f64 - g2.length as f64) / c.length_scale).tanh()
    }

    /// P(y1 ≻ y2 | x) with y1 shown first: position bias and label noise included.
    pub fn prob(&self, x: &Prompt, y1: &str, y2: &str) -> f64 {
        let (g1, g2) = (self.oracle.grade(x, y1), self.oracle.grade(x, y2));
        self.prob_graded(&g1, &g2)
    }

    pub fn prob_graded(&self, g1: &Grade, g2: &Grade) -> f64 {
        let p = sigmoid(self.z_graded(g1, g2) + self.cfg.position_bias);
        (1.0 - self.cfg.label_noise) * p + self.cfg.label_noise * (1.0 - p)
    }

    /// P(y1 ≻ y2) averaged over both presentation orders (position bias cancels to first order).
    pub fn prob_both_orders(&self, x: &Prompt, y1: &str, y2: &str) -> f64 {
        let (g1, g2) = (self.oracle.grade(x, y1), self.oracle.grade(x, y2));
        0.5 * (self.prob_graded(&g1, &g2) + 1.0 - self.prob_graded(&g2, &g1))
    }

    /// One sampled verdict: true when the first-shown y1 wins.
    pub fn sample<R: Rng>(&self, x: &Prompt, y1: &str, y2: &str, rng: &mut R) -> bool {
        rng.gen::<f64>() < self.prob(x, y1, y2)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecklistConfig {
    /// Points added as length_bias * tanh(|y| / length_scale).
    pub length_bias: f64,
    pub length_scale: f64,
    /// Standard deviation of Gaussian noise on sampled scores.
    pub noise_sd: f64,
}

impl Default for ChecklistConfig {
    fn default() -> Self {
        ChecklistConfig { length_bias: 1.0, length_scale: 30.0, noise_sd: 0.5 }
    }
}

impl ChecklistConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.length_scale > 0.0) || !(self.noise_sd >= 0.0) || !self.length_bias.is_finite() {
            return Err(Error::invalid("checklist", "length_scale must be > 0, noise_sd >= 0, length_bias finite"));
        }
        Ok(())
    }
}

/// The checklist items, each worth points (9 in all): the score is 1 + points (+ bias), in [1, 10].
#[derive(Clone, Debug)]
pub struct ChecklistJudge {
    pub cfg: ChecklistConfig,
    pub oracle: Oracle,
}

impl ChecklistJudge {
    pub fn new(cfg: ChecklistConfig, oracle: Oracle) -> Self {
        ChecklistJudge { cfg, oracle }
    }

    /// (item, points earned, points possible) for each checklist question.
    pub fn checklist(&self, x: &Prompt, y: &str) -> Vec<(&'static str, f64, f64)> {
        let g = self.oracle.grade(x, y);
        let skills = if g.skills_asked == 0 { 1.0 } else { g.skills_met as f64 / g.skills_asked as f64 };
        vec![
            ("gives an answer", (!g.parsed.items.is_empty()) as u8 as f64, 1.0),
            ("answer at least half right", (g.content >= 0.5) as u8 as f64, 1.0),
            ("answer mostly right", (g.content >= 0.75) as u8 as f64, 1.0),
            ("answer fully right", 2.0 * (g.content >= 1.0) as u8 as f64, 2.0),
            ("follows the format", 2.0 * skills, 2.0),
            ("no filler", (g.fillers == 0) as u8 as f64, 1.0),
            ("preferred tone", (g.style == self.oracle.cfg.preferred_style) as u8 as f64, 1.0),
        ]
    }

    /// The expected score (no noise), in [1, 10].
    pub fn score(&self, x: &Prompt, y: &str) -> f64 {
        let pts: f64 = self.checklist(x, y).iter().map(|(_, e, _)| e).sum();
        let len = y.chars().count() as f64;
        (1.0 + pts + self.cfg.length_bias * (len / self.cfg.length_scale).tanh()).clamp(1.0, 10.0)
    }

    /// A sampled score with Gaussian noise, in [1, 10].
    pub fn sample<R: Rng>(&self, x: &Prompt, y: &str, rng: &mut R) -> f64 {
        let n: f64 = rand_distr_normal(rng) * self.cfg.noise_sd;
        (self.score(x, y) + n).clamp(1.0, 10.0)
    }
}

/// A standard normal draw (Box–Muller), so no extra dependency is needed.
pub fn rand_distr_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(1e-300);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut r = crate::world::rng(1, "t");
        let v: Vec<f64> = (0..20000).map(|_| rand_distr_normal(&mut r)).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{m} {var}");
    }
}
