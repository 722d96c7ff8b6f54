//! The teacher: the strong generator of spec Stage 2, backed by the oracle. It writes
//! (instruction, response) pairs whose skills and query type are drawn as the released code draws
//! them, and every response is the correct, complete composition ([`Instruction::reference`]).
//!
//! - **Skills** (`1_generate_data.py`): shuffle the whole list in place and take the first `k`;
//!   the skills within an example are distinct, pairs recur across examples; then shuffle the
//!   order within the example again (the order the prompt names them in).
//! - **Query types**: repeat the list until it has at least `N` entries, shuffle, take `N`.
//! - **Held-out pairs**: a fixed fifth of the 66 pairs never appears in any training or validation
//!   set (the evaluation's unseen-pair slice); a draw that lands on one is drawn again.
//! - **Shirkers** (`2_generate_junk_data.py`): the first `⌊rate · N⌋` examples *in file order*
//!   keep their instruction and get a low-effort output (junk: long generic filler that satisfies
//!   no skill; brevity: the reference's first line only).
//! - **The partial oracle** (the fixed baseline, the miniature's GPT-4-Turbo reference): each
//!   asked skill executed correctly with probability ½, in the right frame.

use crate::catalogue::{all_pairs, pair_key, payload_words, Instruction, Query, Skill, QUERIES, SKILLS};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Prompt + response must fit the tiny model's 128 positions: `<bos> prompt <sep>` and
/// `response <eos>`.
pub const MAX_POSITIONS: usize = 128;
/// The longest prompt (characters).
pub const MAX_PROMPT: usize = 52;
/// The longest response (characters); generation stops there.
pub const MAX_RESPONSE: usize = MAX_POSITIONS - MAX_PROMPT - 3;
/// Payload words have at most this many letters.
pub const MAX_WORD: usize = 4;
/// The fixed seed of everything that must not move with a run's seed: the held-out pairs, the
/// evaluation set and its baseline answers.
pub const FIXED_SEED: u64 = 0x5c11_7a1c;

/// One SFT example as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Demo {
    pub instruction: Instruction,
    pub output: String,
}

/// A shirker type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shirk {
    Junk,
    Brief,
}

/// The skill catalogue as the teacher "lists" it, the query types, and the pairs held out.
#[derive(Clone, Debug)]
pub struct Teacher {
    pub skills: Vec<Skill>,
    pub queries: Vec<Query>,
    pub held_out: HashSet<(Skill, Skill)>,
    words: Vec<&'static str>,
}

impl Teacher {
    /// The catalogue with `held_out_fraction` of the pairs held out (fixed draw).
    pub fn new(held_out_fraction: f64) -> Self {
        let mut pairs = all_pairs();
        pairs.shuffle(&mut shared::world::rng(FIXED_SEED, "skillmix-held-out-pairs"));
        let n = (held_out_fraction * pairs.len() as f64).round() as usize;
        Teacher { skills: SKILLS.to_vec(), queries: QUERIES.to_vec(), held_out: pairs.into_iter().take(n).collect(), words: payload_words(MAX_WORD) }
    }

    /// A restricted catalogue (the `narrow` data: an Alpaca-like analogue that covers few skills).
    pub fn narrowed(&self, skills: &[Skill]) -> Self {
        Teacher { skills: skills.to_vec(), ..self.clone() }
    }

    pub fn is_held_out(&self, skills: &[Skill]) -> bool {
        skills.len() == 2 && self.held_out.contains(&pair_key(skills[0], skills[1]))
    }

    /// 3 or 4 distinct short words, and with probability ½ one of them again, shuffled.
    fn payload(&self, rng: &mut ChaCha8Rng) -> Vec<String> {
        let n = rng.gen_range(3..=4);
        let mut w: Vec<String> = self.words.choose_multiple(rng, n).map(|s| s.to_string()).collect();
        if rng.gen_bool(0.5) {
            let d = w[rng.gen_range(0..n)].clone();
            w.push(d);
        }
        w.shuffle(rng);
        w
    }

    /// `n` query types: the list cycled to at least `n` entries, shuffled, the first `n` taken.
    pub fn query_types(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<Query> {
        let mut v = vec![];
        while v.len() < n {
            v.extend(self.queries.iter().copied());
        }
        v.shuffle(rng);
        v.truncate(n);
        v
    }

    /// `n` instructions with `k` skills each. `pool` is the skill list the paper shuffles in place
    /// (one shuffle per example); `allow_held_out` admits the held-out pairs (evaluation only);
    /// `avoid` holds texts that must not be produced (the evaluation and validation sets).
    pub fn instructions(&self, n: usize, k: usize, rng: &mut ChaCha8Rng, allow_held_out: bool, avoid: &HashSet<String>) -> Vec<Instruction> {
        let queries = self.query_types(n, rng);
        let mut pool = self.skills.clone();
        let mut out = Vec::with_capacity(n);
        for q in queries {
            loop {
                pool.shuffle(rng);
                let mut skills: Vec<Skill> = pool[..k.min(pool.len())].to_vec();
                if !allow_held_out && self.is_held_out(&skills) {
                    continue;
                }
                skills.shuffle(rng);
                let x = Instruction { query: q, skills, payload: self.payload(rng) };
                if fits(&x) && !avoid.contains(&x.text()) {
                    out.push(x);
                    break;
                }
            }
        }
        out
    }

    /// The teacher's demonstrations for `instructions`.
    pub fn demos(instructions: Vec<Instruction>) -> Vec<Demo> {
        instructions.into_iter().map(|x| Demo { output: x.reference(), instruction: x }).collect()
    }

    /// The evaluation set (fixed): `k2` two-skill instructions of which `unseen_fraction` use a
    /// held-out pair, then `k1` one-skill and `k3` three-skill instructions. Returns the
    /// instructions and, per instruction, its slice label (`k2-seen`, `k2-unseen`, `k1`, `k3`).
    pub fn eval_set(&self, k2: usize, unseen_fraction: f64, k1: usize, k3: usize) -> Vec<(Instruction, &'static str)> {
        let mut rng = shared::world::rng(FIXED_SEED, "skillmix-eval");
        let none = HashSet::new();
        let n_unseen = (unseen_fraction * k2 as f64).round() as usize;
        let mut out = vec![];
        let held: Vec<(Skill, Skill)> = {
            let mut h: Vec<_> = self.held_out.iter().copied().collect();
            h.sort();
            h
        };
        let queries = self.query_types(n_unseen, &mut rng);
        for q in queries {
            loop {
                let (a, b) = *held.choose(&mut rng).expect("held-out pairs exist when an unseen slice is asked");
                let mut skills = vec![a, b];
                skills.shuffle(&mut rng);
                let x = Instruction { query: q, skills, payload: self.payload(&mut rng) };
                if fits(&x) {
                    out.push((x, "k2-unseen"));
                    break;
                }
            }
        }
        out.extend(self.instructions(k2 - n_unseen, 2, &mut rng, false, &none).into_iter().map(|x| (x, "k2-seen")));
        out.extend(self.instructions(k1, 1, &mut rng, false, &none).into_iter().map(|x| (x, "k1")));
        out.extend(self.instructions(k3, 3, &mut rng, true, &none).into_iter().map(|x| (x, "k3")));
        out
    }

    /// The fixed baseline's answers: each asked skill executed with probability ½.
    pub fn partial_oracle(instructions: &[Instruction]) -> Vec<String> {
        let mut rng = shared::world::rng(FIXED_SEED, "skillmix-partial-oracle");
        instructions
            .iter()
            .map(|x| {
                let done: Vec<Skill> = x.skills.iter().copied().filter(|_| rng.gen_bool(0.5)).collect();
                x.render(&done)
            })
            .collect()
    }
}

/// Whether an instruction and its reference fit the position budget.
pub fn fits(x: &Instruction) -> bool {
    x.text().len() <= MAX_PROMPT && x.reference().len() <= MAX_RESPONSE
}

/// The generic filler of a junk shirker: long, vague, and satisfying no skill (cut to the
/// response budget).
pub const JUNK: &str = "well, this is a good question and there are many ways to see it, so here is some help with it and i hope it helps you a lot";

/// Replace the outputs of the first `⌊rate · N⌋` demonstrations (file order) with shirker answers;
/// returns how many were replaced.
pub fn shirk(demos: &mut [Demo], rate: f64, kind: Shirk) -> usize {
    let n = shirk_count(demos.len(), rate);
    for d in demos[..n].iter_mut() {
        d.output = match kind {
            Shirk::Junk => JUNK.chars().take(MAX_RESPONSE).collect(),
            Shirk::Brief => brief(&d.output),
        };
    }
    n
}

/// The brevity shirker's answer: the first line, or the first item when the answer is one line.
pub fn brief(output: &str) -> String {
    let first = output.split(crate::catalogue::SEP).next().unwrap_or("");
    if first == output {
        first.split(", ").next().unwrap_or("").to_string()
    } else {
        first.to_string()
    }
}

/// How many of `n` examples a shirker rate replaces: `⌊rate · n⌋` (spec test vector 7: 200 of 1,000).
pub fn shirk_count(n: usize, rate: f64) -> usize {
    ((rate * n as f64) + 1e-9).floor() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::score;

    #[test]
    fn draws_follow_the_released_code() {
        let t = Teacher::new(0.2);
        assert_eq!(t.held_out.len(), 13, "a fifth of 66 pairs");
        let mut rng = shared::world::rng(1, "t");
        let xs = t.instructions(400, 2, &mut rng, false, &HashSet::new());
        assert!(xs.iter().all(|x| x.skills.len() == 2 && x.skills[0] != x.skills[1] && !t.is_held_out(&x.skills) && fits(x)));
        // Query types cycled then shuffled: each type exactly N/4 times when 4 divides N.
        for q in QUERIES {
            assert_eq!(xs.iter().filter(|x| x.query == q).count(), 100);
        }
        // Pairs recur (sampling is not over unique combinations).
        let distinct: HashSet<_> = xs.iter().map(|x| pair_key(x.skills[0], x.skills[1])).collect();
        assert!(distinct.len() <= 66 - 13 && distinct.len() > 40, "{}", distinct.len());
    }

    #[test]
    fn eval_set_slices_and_the_baseline() {
        let t = Teacher::new(0.2);
        let ev = t.eval_set(200, 0.2, 50, 50);
        assert_eq!(ev.len(), 300);
        let count = |s: &str| ev.iter().filter(|e| e.1 == s).count();
        assert_eq!((count("k2-unseen"), count("k2-seen"), count("k1"), count("k3")), (40, 160, 50, 50));
        assert!(ev.iter().filter(|e| e.1 == "k2-unseen").all(|e| t.is_held_out(&e.0.skills)));
        assert!(ev.iter().all(|e| fits(&e.0)));
        let xs: Vec<Instruction> = ev.iter().map(|e| e.0.clone()).collect();
        let b = Teacher::partial_oracle(&xs);
        let mean = xs.iter().zip(&b).map(|(x, y)| score(x, y)).sum::<f64>() / xs.len() as f64;
        assert!(mean > 0.15 && mean < 0.7, "the partial oracle is mediocre: {mean}");
        assert_eq!(b, Teacher::partial_oracle(&xs), "fixed");
    }

    #[test]
    fn shirkers_replace_exactly_the_first_fifth() {
        assert_eq!(shirk_count(1000, 0.2), 200, "spec test vector 7");
        assert_eq!(shirk_count(125, 0.2), 25);
        let t = Teacher::new(0.2);
        let xs = t.instructions(1000, 2, &mut shared::world::rng(0, "s"), false, &HashSet::new());
        let clean = Teacher::demos(xs);
        for kind in [Shirk::Junk, Shirk::Brief] {
            let mut d = clean.clone();
            assert_eq!(shirk(&mut d, 0.2, kind), 200);
            assert!(d[..200].iter().zip(&clean).all(|(a, b)| a.instruction == b.instruction && score(&a.instruction, &a.output) < 1.0));
            assert_eq!(&d[200..], &clean[200..]);
            assert!(d.iter().all(|x| x.output.len() <= MAX_RESPONSE));
        }
        // Junk is long, brevity short.
        let mut j = clean.clone();
        shirk(&mut j, 0.2, Shirk::Junk);
        let mut b = clean.clone();
        shirk(&mut b, 0.2, Shirk::Brief);
        assert!(j[0].output.len() > clean[0].output.len() && b[0].output.len() < clean[0].output.len());
    }
}
