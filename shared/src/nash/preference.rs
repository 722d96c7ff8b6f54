//! The nash-mini preference and its label channels, on the miniature world (the same definition in
//! the sppo, dno and inpo specs, "Shared harness `nash-mini`"):
//!
//! - **soft**: `P(y ≻ y' | x) = σ(z)`, `z = a (q − q') + b R(st, st') + c tanh((|y| − |y'|) / L0)`
//!   with `a = 6, b = 1.5, c = 0.5, L0 = 8` (the world's pairwise judge with
//!   [`PairwiseConfig::nash_mini`]: no position bias, no label noise). `R` is rock-paper-scissors
//!   over style classes, so equal-quality responses beat each other in a cycle and no scalar
//!   reward reproduces `P`;
//! - **binary**: `Bernoulli(P)` ([`Oracle::label`]);
//! - **BT reward**: `r(x, y) = a q + c tanh(|y| / L0)` (the "RM" variants: no cyclic term);
//! - **rubric** (DNO's six-point additive rubric, programmatic): +1 well-formed (non-empty, no
//!   token repeated 4 or more times in a row — also DNO's defect detector), +1 `q > 0`,
//!   +1 `q ≥ 0.5`, +1 `q ≥ 0.8`, +1 `q = 1`, +1 `q = 1` and `|y| ≤ |g(x)| + 2`; the scale is
//!   1–6, so a response that earns no point scores 1.
//!
//! [`Teacher`] is the miniature's strong but beatable gold model (DNO's GPT-4-Turbo): the
//! canonical answer `g(x)` with probability 0.8, else a corrupted one, and verbose (a filler
//! phrase appended) with probability 0.5.

use super::group::{Group, Oracle};
use crate::error::{Error, Result};
use crate::world::demos::corrupt_for;
use crate::world::judge::{PairwiseConfig, PairwiseJudge};
use crate::world::response::{ResponseSpec, FILLERS};
use crate::world::{Grade, Prompt, World};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The nash-mini preference over the world's oracle.
#[derive(Clone, Debug)]
pub struct NashPreference {
    pub judge: PairwiseJudge,
}

impl NashPreference {
    pub fn new(world: &World) -> Self {
        NashPreference { judge: PairwiseJudge::new(PairwiseConfig::nash_mini(), world.oracle.clone()) }
    }

    /// `a` of `z`: the judge's `1 / temperature`.
    pub fn a(&self) -> f64 {
        1.0 / self.judge.cfg.temperature
    }

    /// `z(y, y')` of two graded responses (antisymmetric).
    pub fn z(&self, g1: &Grade, g2: &Grade) -> f64 {
        self.judge.z_graded(g1, g2)
    }

    /// `P(y ≻ y')` of two graded responses.
    pub fn prob(&self, g1: &Grade, g2: &Grade) -> f64 {
        super::group::sigmoid(self.z(g1, g2))
    }

    /// The BT reward channel `r = a q + c tanh(|y| / L0)`.
    pub fn reward(&self, g: &Grade) -> f64 {
        let c = &self.judge.cfg;
        self.a() * g.score + c.length_bias * (g.length as f64 / c.length_scale).tanh()
    }
}

/// Whether some token (character) repeats 4 or more times in a row: DNO's defect detector.
pub fn has_long_repeat(text: &str) -> bool {
    let mut run = 0;
    let mut last = None;
    for c in text.chars() {
        run = if Some(c) == last { run + 1 } else { 1 };
        if run >= 4 {
            return true;
        }
        last = Some(c);
    }
    false
}

/// DNO's rubric score in 1..=6 of a response with grade `g` and text `y`, where `gold_len` is
/// the length of the canonical answer `g(x)`.
pub fn rubric(g: &Grade, y: &str, gold_len: usize) -> u8 {
    const EXACT: f64 = 1.0 - 1e-9;
    let q = g.score;
    let points = [
        !y.trim().is_empty() && !has_long_repeat(y),
        q > 0.0,
        q >= 0.5,
        q >= 0.8,
        q >= EXACT,
        q >= EXACT && g.length <= gold_len + 2,
    ];
    points.iter().filter(|p| **p).count().max(1) as u8
}

/// The miniature's oracle for one iteration's prompts: every channel from the world's grades.
pub struct WorldOracle<'a> {
    pub world: &'a World,
    pub preference: &'a NashPreference,
    pub prompts: &'a [Prompt],
}

impl WorldOracle<'_> {
    fn prompt(&self, g: &Group) -> Result<&Prompt> {
        self.prompts.get(g.prompt).ok_or_else(|| Error::invalid("nash oracle", format!("group of prompt {} but only {} prompts", g.prompt, self.prompts.len())))
    }
    fn text<'g>(&self, g: &'g Group, i: usize) -> Result<&'g str> {
        g.texts.get(i).map(|s| s.as_str()).ok_or_else(|| Error::invalid("nash oracle", format!("response {i} of a group of {}", g.texts.len())))
    }
    /// The oracle's grade of response `i`.
    pub fn grade(&self, g: &Group, i: usize) -> Result<Grade> {
        Ok(self.world.oracle.grade(self.prompt(g)?, self.text(g, i)?))
    }
}

impl Oracle for WorldOracle<'_> {
    fn logit(&self, g: &Group, i: usize, j: usize) -> Result<f64> {
        Ok(self.preference.z(&self.grade(g, i)?, &self.grade(g, j)?))
    }
    fn reward(&self, g: &Group, i: usize) -> Result<f64> {
        Ok(self.preference.reward(&self.grade(g, i)?))
    }
    fn rubric(&self, g: &Group, i: usize) -> Result<u8> {
        let gold = self.world.gold(self.prompt(g)?);
        Ok(rubric(&self.grade(g, i)?, self.text(g, i)?, gold.chars().count()))
    }
    fn quality(&self, g: &Group, i: usize) -> Option<f64> {
        self.grade(g, i).ok().map(|x| x.score)
    }
    fn length(&self, g: &Group, i: usize) -> usize {
        self.grade(g, i).map(|x| x.length).unwrap_or_else(|_| g.responses[i].len())
    }
}

/// The miniature's teacher (DNO's gold model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teacher {
    /// Probability of the canonical answer `g(x)` (else a corrupted one).
    pub p_correct: f64,
    /// Probability of a verbose answer (a filler phrase appended).
    pub p_verbose: f64,
}

impl Default for Teacher {
    fn default() -> Self {
        Teacher { p_correct: 0.8, p_verbose: 0.5 }
    }
}

impl Teacher {
    pub fn validate(&self) -> Result<()> {
        for (n, p) in [("p_correct", self.p_correct), ("p_verbose", self.p_verbose)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::invalid(format!("teacher.{n}"), format!("must lie in [0, 1], got {p}")));
            }
        }
        Ok(())
    }

    /// The teacher's answer to `x`: the gold response's form (every skill applied, the preferred
    /// style, no closing), with corrupted content with probability `1 - p_correct` and one
    /// filler phrase with probability `p_verbose`.
    pub fn answer<R: Rng>(&self, world: &World, x: &Prompt, rng: &mut R) -> String {
        let mut spec = ResponseSpec { items: x.answer_items(), apply: x.skills.clone(), preamble: world.cfg.oracle.preferred_style, closing: false, fillers: vec![] };
        if !rng.gen_bool(self.p_correct) {
            spec.items = corrupt_for(x, &spec.items, rng);
        }
        if rng.gen_bool(self.p_verbose) {
            spec.fillers.push(rng.gen_range(0..FILLERS.len()));
        }
        crate::world::demos::fit_word_limit(x, &mut spec);
        spec.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    fn world() -> World {
        World::new(WorldConfig::default()).unwrap()
    }

    #[test]
    fn the_preference_is_a_general_intransitive_one() {
        let w = world();
        let pref = NashPreference::new(&w);
        let mut r = crate::world::rng(3, "t");
        let x = w.train_prompts(1, &mut r).remove(0);
        let gold = w.gold(&x);
        // The same content in the three style classes: a rock-paper-scissors cycle.
        let styled: Vec<String> = crate::world::response::PREAMBLES.iter().map(|p| format!("{p}{}", gold.trim_start_matches(crate::world::response::PREAMBLES[1]))).collect();
        let g: Vec<Grade> = styled.iter().map(|y| w.oracle.grade(&x, y)).collect();
        let beats = |i: usize, j: usize| pref.prob(&g[i], &g[j]) > 0.5;
        // Style 1 is the oracle's preferred one; with a = 6 and the style weight, the cyclic term
        // still decides 0 vs 2, and the antisymmetry holds everywhere.
        for i in 0..3 {
            assert!((pref.prob(&g[i], &g[i]) - 0.5).abs() < 1e-12);
            for j in 0..3 {
                assert!((pref.prob(&g[i], &g[j]) + pref.prob(&g[j], &g[i]) - 1.0).abs() < 1e-12);
            }
        }
        assert!(beats(0, 2) || beats(2, 0));
        // z = a (q - q') + b R + c tanh(dlen / 8), term by term.
        let z = pref.z(&g[0], &g[2]);
        let want = 6.0 * (g[0].score - g[2].score) + 1.5 * crate::world::judge::cyclic_r(g[0].style, g[2].style) + 0.5 * ((g[0].length as f64 - g[2].length as f64) / 8.0).tanh();
        assert!((z - want).abs() < 1e-12, "{z} vs {want}");
        assert!((pref.reward(&g[1]) - (6.0 * g[1].score + 0.5 * (g[1].length as f64 / 8.0).tanh())).abs() < 1e-12);
    }

    #[test]
    fn rubric_points_add_up() {
        let w = world();
        let mut r = crate::world::rng(5, "t");
        let x = w.train_prompts(1, &mut r).remove(0);
        let gold = w.gold(&x);
        let n = gold.chars().count();
        let g = w.oracle.grade(&x, &gold);
        assert_eq!(rubric(&g, &gold, n), 6, "the gold answer earns every point");
        let verbose = format!("{gold}{}", FILLERS[0]);
        let gv = w.oracle.grade(&x, &verbose);
        assert!(rubric(&gv, &verbose, n) <= 4, "a filler costs q = 1 and the length point: {}", rubric(&gv, &verbose, n));
        let empty = w.oracle.grade(&x, "");
        assert_eq!(rubric(&empty, "", n), 1, "nothing earned scores the scale's minimum");
        assert!(has_long_repeat("abbbbc") && !has_long_repeat("abbbc"));
    }

    #[test]
    fn the_teacher_is_strong_but_beatable() {
        let w = world();
        let t = Teacher::default();
        let mut r = crate::world::rng(7, "teacher");
        let xs = w.train_prompts(400, &mut r);
        let scores: Vec<u8> = xs
            .iter()
            .map(|x| {
                let y = t.answer(&w, x, &mut r);
                rubric(&w.oracle.grade(x, &y), &y, w.gold(x).chars().count())
            })
            .collect();
        let mean = scores.iter().map(|&s| s as f64).sum::<f64>() / scores.len() as f64;
        let perfect = scores.iter().filter(|&&s| s == 6).count() as f64 / scores.len() as f64;
        // Correct and terse with probability 0.8 * 0.5 = 0.4 (score 6); the paper's teacher averages 4.6-5.0.
        assert!((perfect - 0.4).abs() < 0.08, "{perfect}");
        assert!(mean > 4.0 && mean < 5.5, "{mean}");
        assert!(Teacher { p_correct: 1.5, p_verbose: 0.0 }.validate().is_err());
    }
}
