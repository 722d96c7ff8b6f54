//! DNO's data rule on the shared nash harness (spec "DNO-specific settings"): per prompt, the K
//! student samples of `π_t` and the teacher's gold answer are scored together by the rubric
//! annotator (the miniature's GPT-4-Turbo: [`shared::nash::preference::rubric`], with optional
//! ±1 noise), or by Algorithm 2's win-rate annotation; the variant's pair rule
//! ([`crate::pairs`]) builds the pairs; earlier iterations' own pairs are replayed (30% of the
//! new set from t−1, 15% from t−2, halving further back; not regenerated).
//!
//! Per prompt it keeps what DNO's Table 2 reports: the pair types (T≻S, S≻T, S≻S), the mean
//! student score, the teacher's score, whether the best student beats the teacher, the number of
//! students that beat it.

use crate::pairs::{self, pair_type, Pair, PairType, Who};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use shared::nash::{Group, Labelled, Oracle, Recipe};
use shared::train::Example;

/// Which pairs a method builds from the same annotated candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// All large-margin pairs: T≻S, S≻T and S≻S.
    Dno,
    /// T≻S pairs only.
    Restrictive,
    /// Gold beats every student, no annotation.
    Spin,
    /// Students only, best vs worst score, no margin, no gold.
    IterativeDpo,
}

impl Variant {
    pub fn wants_teacher(self) -> bool {
        self != Variant::IterativeDpo
    }
}

/// How candidates are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Annotate {
    /// The six-point rubric, pointwise, all candidates at once (what the paper ran).
    Rubric,
    /// Algorithm 2 literally: `r_t` from one binary oracle sample per candidate pair.
    Winrate,
}

/// The per-prompt values a recipe keeps (the names of the `data` records).
pub const DATA_METRICS: [&str; 7] = ["ts", "st", "ss", "student_score", "teacher_score", "best_beats_teacher", "student_wins"];

/// What one method's recipe does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeConfig {
    pub variant: Variant,
    #[serde(default = "rubric")]
    pub annotate: Annotate,
    /// Probability of ±1 noise on a rubric score (clamped to 1..6); spec: optional, 0.1.
    #[serde(default)]
    pub rubric_noise: f64,
    /// The win-rate mode's margin (a miniature choice; the paper gives none).
    #[serde(default = "margin")]
    pub winrate_margin: f64,
    /// Share of the new set replayed from iteration t−1 (halving for each iteration further back);
    /// spec: 0.3. 0 turns replay off.
    #[serde(default)]
    pub replay: f64,
}

fn rubric() -> Annotate {
    Annotate::Rubric
}
fn margin() -> f64 {
    0.4
}

impl RecipeConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&self.rubric_noise) || !(0.0..=1.0).contains(&self.replay) {
            anyhow::bail!("rubric_noise and replay must lie in [0, 1], got {} and {}", self.rubric_noise, self.replay);
        }
        if !(self.winrate_margin > 0.0 && self.winrate_margin <= 1.0) {
            anyhow::bail!("winrate_margin must lie in (0, 1], got {}", self.winrate_margin);
        }
        Ok(())
    }
}

/// One iteration's data, as DNO's Table 2 reports it (sums over prompts, means where named).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataStats {
    pub prompts: usize,
    pub ts: usize,
    pub st: usize,
    pub ss: usize,
    pub replayed: usize,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub student_score: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub teacher_score: f64,
    /// Share of prompts where the best student scores above the teacher.
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub best_beats_teacher: f64,
    /// Mean number of students scoring above the teacher.
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub student_wins: f64,
    #[serde(deserialize_with = "shared::io::nan_if_null")]
    pub student_len: f64,
}

pub struct DnoRecipe {
    pub samples: usize,
    pub cfg: RecipeConfig,
    /// Each finished iteration's own (not replayed) pairs, for replay.
    history: Vec<Vec<Example>>,
}

impl DnoRecipe {
    pub fn new(samples: usize, cfg: RecipeConfig) -> Self {
        DnoRecipe { samples, cfg, history: vec![] }
    }

    /// Scores of the candidates (students, then gold): the rubric with its noise, or the win rates.
    fn scores(&self, g: &Group, oracle: &dyn Oracle, rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Vec<f64>> {
        let n = g.texts.len();
        match self.cfg.annotate {
            Annotate::Rubric => (0..n)
                .map(|i| {
                    let mut s = oracle.rubric(g, i)? as f64;
                    if self.cfg.rubric_noise > 0.0 && rng.gen_bool(self.cfg.rubric_noise) {
                        s = (s + if rng.gen_bool(0.5) { 1.0 } else { -1.0 }).clamp(1.0, 6.0);
                    }
                    Ok(s)
                })
                .collect(),
            Annotate::Winrate => {
                let mut o = vec![vec![0u8; n]; n];
                for i in 0..n {
                    for j in i + 1..n {
                        if oracle.label(g, i, j, rng)? {
                            o[i][j] = 1;
                        } else {
                            o[j][i] = 1;
                        }
                    }
                }
                Ok(pairs::winrate(&o, g.students().count()))
            }
        }
    }

    /// The variant's pairs of one group from its candidates' scores.
    fn pairs(&self, students: &[f64], gold: Option<f64>) -> Vec<Pair> {
        match (self.cfg.variant, self.cfg.annotate, gold) {
            (Variant::Spin, _, _) => pairs::spin(students.len()),
            (Variant::IterativeDpo, _, _) => pairs::best_vs_worst(students),
            (Variant::Dno, Annotate::Rubric, g) => pairs::large_margin(students, g),
            (Variant::Restrictive, Annotate::Rubric, Some(g)) => pairs::restrictive(students, g),
            (Variant::Dno, Annotate::Winrate, g) => pairs::by_margin(students, g, self.cfg.winrate_margin),
            (Variant::Restrictive, Annotate::Winrate, g) => pairs::by_margin(students, g, self.cfg.winrate_margin).into_iter().filter(|p| pair_type(p) == PairType::TS).collect(),
            (Variant::Restrictive, Annotate::Rubric, None) => vec![],
        }
    }
}

fn index(g: &Group, w: Who) -> usize {
    match w {
        Who::Student(i) => g.students().nth(i).expect("a student index of this group"),
        Who::Teacher => g.teacher.expect("a teacher pair in a group with a teacher"),
    }
}

impl Recipe for DnoRecipe {
    fn samples(&self) -> usize {
        self.samples
    }

    fn wants_teacher(&self) -> bool {
        self.cfg.variant.wants_teacher()
    }

    fn examples(&mut self, t: usize, groups: &[Group], oracle: &dyn Oracle, rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Labelled> {
        let mut out = Labelled::default();
        let mut st = DataStats { prompts: groups.len(), ..Default::default() };
        for g in groups {
            let scores = self.scores(g, oracle, rng)?;
            let students: Vec<f64> = g.students().map(|i| scores[i]).collect();
            let gold = g.teacher.map(|i| scores[i]);
            let mut count = [0usize; 3];
            for p in self.pairs(&students, gold) {
                count[pair_type(&p) as usize] += 1;
                let (w, l) = (index(g, p.0), index(g, p.1));
                let mut ex = g.pair(w, l);
                if self.cfg.annotate == Annotate::Winrate {
                    ex = ex.with(crate::loss::TARGET, pairs::soft_target(scores[w], scores[l]));
                }
                out.examples.push(ex);
                out.sources.push(Some(g.prompt));
            }
            let mean_student = students.iter().sum::<f64>() / students.len().max(1) as f64;
            let best = students.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let (teacher, beats, wins) = match gold {
                Some(gs) => (gs, (best > gs) as u8 as f64, students.iter().filter(|&&s| s > gs).count() as f64),
                None => (f64::NAN, f64::NAN, f64::NAN),
            };
            st.ts += count[0];
            st.st += count[1];
            st.ss += count[2];
            st.student_score += mean_student;
            st.teacher_score += teacher;
            st.best_beats_teacher += beats;
            st.student_wins += wins;
            st.student_len += g.students().map(|i| oracle.length(g, i) as f64).sum::<f64>() / students.len().max(1) as f64;
            let v = [count[0] as f64, count[1] as f64, count[2] as f64, mean_student, teacher, beats, wins];
            out.per_prompt.push((g.prompt, DATA_METRICS.iter().zip(v).map(|(n, x)| (n.to_string(), x)).collect()));
        }
        let n = groups.len().max(1) as f64;
        for v in [&mut st.student_score, &mut st.teacher_score, &mut st.best_beats_teacher, &mut st.student_wins, &mut st.student_len] {
            *v /= n;
        }
        // Replay: a share of the new set from each earlier iteration's own pairs, as they were.
        let new = out.examples.len();
        self.history.truncate(t);
        let mut share = self.cfg.replay;
        for back in (0..t).rev() {
            let k = ((share * new as f64).floor() as usize).min(self.history[back].len());
            if k == 0 {
                break;
            }
            let mut old = self.history[back].clone();
            old.shuffle(rng);
            for e in old.into_iter().take(k) {
                out.examples.push(e);
                out.sources.push(None);
            }
            st.replayed += k;
            share /= 2.0;
        }
        self.history.push(out.examples[..new].to_vec());
        out.stats = serde_json::to_value(st)?;
        Ok(out)
    }

    fn restore(&mut self, t: usize, examples: &[Example], sources: &[Option<usize>]) {
        self.history.truncate(t);
        self.history.push(shared::nash::annotator::own(examples, sources));
    }
}

#[cfg(test)]
mod tests {

    /// A method without a teacher (iterative DPO) saves NaN teacher scores (JSON null); the tables
    /// read them back as NaN, not as an error.
    #[test]
    fn stats_without_a_teacher_round_trip() {
        let st = DataStats { prompts: 2, teacher_score: f64::NAN, best_beats_teacher: f64::NAN, student_wins: f64::NAN, ..Default::default() };
        let back: DataStats = serde_json::from_value(serde_json::to_value(&st).unwrap()).unwrap();
        assert_eq!(back.prompts, 2);
        assert!(back.teacher_score.is_nan() && back.best_beats_teacher.is_nan() && back.student_wins.is_nan());
    }
    use super::*;
    use rand::SeedableRng;

    /// An oracle over fixed rubric scores.
    struct Fixed(Vec<u8>);
    impl Oracle for Fixed {
        fn logit(&self, _: &Group, i: usize, j: usize) -> shared::Result<f64> {
            Ok(self.0[i] as f64 - self.0[j] as f64)
        }
        fn reward(&self, _: &Group, i: usize) -> shared::Result<f64> {
            Ok(self.0[i] as f64)
        }
        fn rubric(&self, _: &Group, i: usize) -> shared::Result<u8> {
            Ok(self.0[i])
        }
    }

    fn group(prompt: usize) -> Group {
        Group { prompt, prompt_ids: vec![1], responses: (0..6).map(|i| vec![10 + i as i64]).collect(), texts: (0..6).map(|i| format!("y{i}")).collect(), teacher: Some(5) }
    }

    fn cfg(variant: Variant, replay: f64) -> RecipeConfig {
        RecipeConfig { variant, annotate: Annotate::Rubric, rubric_noise: 0.0, winrate_margin: 0.4, replay }
    }

    /// Test vector 4 through the recipe: the 10 pairs, their types, and the per-prompt record.
    #[test]
    fn the_recipe_builds_the_spec_pairs_from_a_group() {
        let oracle = Fixed(vec![5, 3, 6, 2, 4, 5]);
        let mut r = DnoRecipe::new(5, cfg(Variant::Dno, 0.0));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let l = r.examples(0, &[group(0)], &oracle, &mut rng).unwrap();
        assert_eq!(l.examples.len(), 10);
        // (s2, gold): the student's response first, the teacher's (index 5) second.
        assert!(l.examples.iter().any(|e| e.responses == vec![vec![12], vec![15]]));
        let st: DataStats = serde_json::from_value(l.stats).unwrap();
        assert_eq!((st.ts, st.st, st.ss), (2, 1, 7));
        assert_eq!(st.best_beats_teacher, 1.0);
        assert_eq!(st.student_wins, 1.0);
        assert!((st.student_score - 4.0).abs() < 1e-12 && st.teacher_score == 5.0);
        let spin = DnoRecipe::new(5, cfg(Variant::Spin, 0.0)).examples(0, &[group(0)], &oracle, &mut rng).unwrap();
        assert_eq!(spin.examples.len(), 5);
    }

    /// Replay: 30% of the new set from t−1, 15% from t−2; restored runs replay the same history.
    #[test]
    fn replay_adds_decaying_shares_of_earlier_pairs() {
        let oracle = Fixed(vec![5, 3, 6, 2, 4, 5]);
        let mut r = DnoRecipe::new(5, cfg(Variant::Dno, 0.3));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let groups: Vec<Group> = (0..4).map(group).collect();
        let a = r.examples(0, &groups, &oracle, &mut rng).unwrap();
        assert_eq!(a.examples.len(), 40);
        let b = r.examples(1, &groups, &oracle, &mut rng).unwrap();
        assert_eq!(b.examples.len(), 40 + 12);
        let c = r.examples(2, &groups, &oracle, &mut rng).unwrap();
        assert_eq!(c.examples.len(), 40 + 12 + 6);
        assert_eq!(c.sources.iter().filter(|s| s.is_none()).count(), 18);
        // A resumed recipe knows the same history.
        let mut fresh = DnoRecipe::new(5, cfg(Variant::Dno, 0.3));
        fresh.restore(0, &a.examples, &a.sources);
        fresh.restore(1, &b.examples, &b.sources);
        assert_eq!(fresh.history, r.history[..2]);
    }
}
