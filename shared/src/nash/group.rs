//! What a self-play method's data rule sees: the K responses one policy gave to one prompt (a
//! [`Group`]), and an [`Oracle`] that answers questions about them through the channels the
//! Nash-family specs name: the pairwise logit `z_ij` (soft `P = σ(z)` and binary
//! `Bernoulli(P)` labels come from it), the Bradley–Terry reward, DNO's 1–6 rubric score. In the
//! miniature the oracle is the world's nash-mini preference ([`super::preference`]); at paper
//! scale it is a judge or a reward model behind the same trait.
//!
//! A paper crate's [`Recipe`] turns one iteration's groups into training examples (SPPO: the
//! argmax/argmin pair with win-rate targets; DNO: all large-margin pairs against a teacher; INPO:
//! the tournament pair). Nothing else of the loop is the paper's.

use crate::error::Result;
use crate::train::Example;
use rand::Rng;

/// One prompt and the responses to it: K samples of the current policy, and possibly a teacher's
/// response appended at index [`Group::teacher`].
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Index of the prompt in this iteration's prompt list.
    pub prompt: usize,
    pub prompt_ids: Vec<i64>,
    /// Token ids as trained on (the stop token put back where the policy stopped).
    pub responses: Vec<Vec<i64>>,
    /// Decoded texts, as judged.
    pub texts: Vec<String>,
    /// Index of the teacher's (gold) response, when one was added.
    pub teacher: Option<usize>,
}

impl Group {
    /// Indices of the policy's own samples (every response but the teacher's).
    pub fn students(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.texts.len()).filter(move |i| Some(*i) != self.teacher)
    }

    /// The training example "response `w` is preferred to response `l`".
    pub fn pair(&self, w: usize, l: usize) -> Example {
        Example::pair(self.prompt_ids.clone(), self.responses[w].clone(), self.responses[l].clone())
    }
}

/// The preference channels of the nash specs, for the responses of one group.
pub trait Oracle {
    /// `z(y_i, y_j | x)`: `P(y_i ≻ y_j) = σ(z)`; antisymmetric, `z(y, y) = 0`.
    fn logit(&self, g: &Group, i: usize, j: usize) -> Result<f64>;
    /// The Bradley–Terry reward channel `r(x, y_i)` (no intransitive part).
    fn reward(&self, g: &Group, i: usize) -> Result<f64>;
    /// The pointwise rubric score in 1..=6 (DNO's six-point additive rubric).
    fn rubric(&self, g: &Group, i: usize) -> Result<u8>;
    /// The oracle quality `q(x, y_i)` where one is known (the miniature; for statistics only).
    fn quality(&self, _g: &Group, _i: usize) -> Option<f64> {
        None
    }
    /// The response length the preference sees (characters in the miniature, tokens otherwise).
    fn length(&self, g: &Group, i: usize) -> usize {
        g.responses[i].len()
    }

    /// `P(y_i ≻ y_j)`, the soft label.
    fn prob(&self, g: &Group, i: usize, j: usize) -> Result<f64> {
        Ok(sigmoid(self.logit(g, i, j)?))
    }
    /// One binary label `Bernoulli(P(y_i ≻ y_j))`: true when `y_i` wins.
    fn label(&self, g: &Group, i: usize, j: usize, rng: &mut dyn rand::RngCore) -> Result<bool> {
        let p = self.prob(g, i, j)?;
        Ok(rng.gen::<f64>() < p)
    }
    /// The `K × K` logit matrix of the group (`C[i][j] = z_ij`, `C[i][i] = 0`).
    fn logit_matrix(&self, g: &Group) -> Result<Vec<Vec<f64>>> {
        let k = g.texts.len();
        let mut c = vec![vec![0.0; k]; k];
        for i in 0..k {
            for j in i + 1..k {
                let z = self.logit(g, i, j)?;
                c[i][j] = z;
                c[j][i] = -z;
            }
        }
        Ok(c)
    }
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// What a recipe made of one iteration.
#[derive(Clone, Debug, Default)]
pub struct Labelled {
    pub examples: Vec<Example>,
    /// For each example, the group (prompt index) it came from; `None` for replayed examples.
    pub sources: Vec<Option<usize>>,
    /// Anything worth keeping (pair counts, mean scores, ...), stored in the iteration's record.
    pub stats: serde_json::Value,
    /// Per-prompt values (`prompt index`, named values) for the records that claims are
    /// bootstrapped from, e.g. DNO's pair composition per prompt.
    pub per_prompt: Vec<(usize, Vec<(String, f64)>)>,
}

/// A self-play method's data rule: samples wanted per prompt, whether a teacher answers too,
/// and how the groups become training examples.
pub trait Recipe {
    /// K: samples per prompt from the current policy.
    fn samples(&self) -> usize;
    /// Whether each group gets the teacher's response too (DNO).
    fn wants_teacher(&self) -> bool {
        false
    }
    /// Iteration `t`'s (0-based) examples from its groups. `rng` is seeded per method,
    /// iteration and seed (binary labels, rubric noise, replay draws).
    fn examples(&mut self, t: usize, groups: &[Group], oracle: &dyn Oracle, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Labelled>;
    /// Iteration `t`'s annotation as trained on (after training, and for every iteration an
    /// earlier run finished): its examples and sources, for a recipe that replays earlier pairs.
    /// Called again for the same `t`, it must replace what it kept, not add to it.
    fn restore(&mut self, _t: usize, _examples: &[Example], _sources: &[Option<usize>]) {}
}
