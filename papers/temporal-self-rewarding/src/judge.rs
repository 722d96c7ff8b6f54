//! The self-judge's numbers: the mean of the parsed scores of a response's judgments (unparseable
//! ones dropped; none parseable = the response is excluded), the expected score `Σ k·p_k` of the
//! deterministic mode, and the miniature's synthetic additive rubric (spec "Realising the judge").

use shared::world::Grade;

/// Mean of the parseable scores; `None` when no judgment parsed (the response is excluded).
pub fn average(scores: &[Option<f64>]) -> Option<f64> {
    let ok: Vec<f64> = scores.iter().flatten().copied().collect();
    (!ok.is_empty()).then(|| ok.iter().sum::<f64>() / ok.len() as f64)
}

/// `Σ k·p_k` over the score tokens S1..S5 (probabilities renormalised over them).
pub fn expected_score(p: &[f64; 5]) -> f64 {
    let z: f64 = p.iter().sum();
    p.iter().enumerate().map(|(k, pk)| (k + 1) as f64 * pk / z).sum()
}

/// The 5-point additive rubric on the oracle's grade (the world's, [`shared::world::forms::rubric`],
/// which also writes the EFT demonstrations): +1 the answer parses; +1 ≥ 50% of the items right;
/// +1 ≥ 75%; +1 all right; +1 all right, every format skill met and no filler. A response that does
/// not parse scores 0 ([`score_token`] clamps it to S1, the lowest token there is).
pub fn rubric(g: &Grade) -> u8 {
    shared::world::forms::rubric(g)
}

/// The rubric from the three quantities it reads: (parses, fraction of items right, clean).
pub fn rubric_of(parses: bool, fraction_right: f64, clean: bool) -> u8 {
    if !parses {
        return 0;
    }
    1 + u8::from(fraction_right >= 0.5) + u8::from(fraction_right >= 0.75) + u8::from(fraction_right >= 1.0) + u8::from(fraction_right >= 1.0 && clean)
}

/// The score token a rubric value is written as: `<S1>`..`<S5>` (0 clamps to `<S1>`).
pub fn score_token(points: u8) -> String {
    shared::world::forms::score_token(points)
}

/// How the self-judge turns its distribution over `<S1>`..`<S5>` into a score.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// `sampled` (paper-faithful: the mean of `judgments` draws at `temperature`, a draw that is
    /// not a score token is unparseable and dropped) or `expected` (`Σ k·p_k`, deterministic).
    pub mode: JudgeMode,
    pub judgments: usize,
    pub temperature: f64,
    /// Rows per forward pass.
    pub batch: usize,
    /// The response inside the judge prompt is clipped to this many characters.
    pub max_response_chars: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeMode {
    Sampled,
    Expected,
}

/// The judge's next-token distribution at the score position: `p[k−1] = P(<Sk>)` under the
/// full-vocabulary softmax at the configured temperature, and the mass on every other token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub p: [f64; 5],
    pub other: f64,
}

impl Reading {
    /// One judgment: a draw from the full distribution (`None`: not a score token, unparseable).
    pub fn draw<R: rand::Rng>(&self, rng: &mut R) -> Option<f64> {
        let mut u = rng.gen::<f64>();
        for (k, pk) in self.p.iter().enumerate() {
            if u < *pk {
                return Some((k + 1) as f64);
            }
            u -= pk;
        }
        None
    }

    /// The score of a response under `cfg` (`None`: every judgment unparseable).
    pub fn score<R: rand::Rng>(&self, cfg: &JudgeConfig, rng: &mut R) -> Option<f64> {
        match cfg.mode {
            JudgeMode::Expected => (self.p.iter().sum::<f64>() > 0.0).then(|| expected_score(&self.p)),
            JudgeMode::Sampled => average(&(0..cfg.judgments).map(|_| self.draw(rng)).collect::<Vec<_>>()),
        }
    }
}

/// Read the judge at the last position of each context (`<bos> <judge> x <resp> y <score> <sep>`):
/// one forward pass per `batch` rows, no sampling. `score_ids` are the ids of `<S1>`..`<S5>`.
pub fn read(model: &shared::model::Llama, contexts: &[Vec<i64>], score_ids: &[i64; 5], temperature: f64, pad: i64, batch: usize) -> shared::Result<Vec<Reading>> {
    use tch::{Kind, Tensor};
    let dev = model.device();
    let mut out = Vec::with_capacity(contexts.len());
    tch::no_grad(|| -> shared::Result<()> {
        for chunk in contexts.chunks(batch.max(1)) {
            let t = chunk.iter().map(Vec::len).max().unwrap_or(1);
            let mut ids = Vec::with_capacity(chunk.len() * t);
            let mut mask = Vec::with_capacity(chunk.len() * t);
            for c in chunk {
                ids.extend(c.iter().copied().chain(std::iter::repeat(pad).take(t - c.len())));
                mask.extend(std::iter::repeat(1i64).take(c.len()).chain(std::iter::repeat(0).take(t - c.len())));
            }
            let shape = [chunk.len() as i64, t as i64];
            let h = model.hidden_states(&Tensor::from_slice(&ids).view(shape).to_device(dev), &Tensor::from_slice(&mask).view(shape).to_device(dev))?;
            let last = Tensor::from_slice(&chunk.iter().map(|c| c.len() as i64 - 1).collect::<Vec<_>>()).to_device(dev);
            let h_last = h.gather(1, &last.view([-1, 1, 1]).expand([-1, 1, h.size()[2]], false), false).squeeze_dim(1);
            let p = (model.logits(&h_last).to_kind(Kind::Double) / temperature).softmax(-1, Kind::Double);
            let sel = p.index_select(1, &Tensor::from_slice(score_ids.as_slice()).to_device(dev));
            let rows = Vec::<Vec<f64>>::try_from(sel.to_device(tch::Device::Cpu))?;
            for r in rows {
                let mut pk = [0.0; 5];
                pk.copy_from_slice(&r[..5]);
                out.push(Reading { p: pk, other: (1.0 - pk.iter().sum::<f64>()).max(0.0) });
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Pairwise agreement of judge scores with oracle scores over the pairs of one group whose oracle
/// scores differ: 1 when the judge orders them the same way, ½ on a judge tie, 0 otherwise.
/// `None` when no pair has different oracle scores (or fewer than two responses were judged).
pub fn pairwise_agreement(judge: &[f64], oracle: &[f64]) -> Option<f64> {
    let (mut n, mut s) = (0.0, 0.0);
    for i in 0..judge.len() {
        for j in i + 1..judge.len() {
            if oracle[i] == oracle[j] {
                continue;
            }
            n += 1.0;
            let (dj, d) = (judge[i] - judge[j], oracle[i] - oracle[j]);
            s += if dj == 0.0 { 0.5 } else if (dj > 0.0) == (d > 0.0) { 1.0 } else { 0.0 };
        }
    }
    (n > 0.0).then(|| s / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averaging_vectors() {
        assert_eq!(average(&[Some(4.0), Some(5.0), Some(3.0)]), Some(4.0));
        assert_eq!(average(&[Some(4.0), None, Some(2.0)]), Some(3.0));
        assert_eq!(average(&[None, None]), None);
    }

    #[test]
    fn rubric_vectors() {
        assert_eq!(rubric_of(true, 0.75, true), 3); // 4 items, 3 right, parses, no extras
        assert_eq!(rubric_of(true, 1.0, false), 4); // all right, one extraneous token
        assert_eq!(rubric_of(true, 1.0, true), 5);
        assert_eq!(rubric_of(false, 1.0, true), 0);
        assert_eq!(score_token(0), "<S1>");
        assert_eq!(score_token(5), "<S5>");
    }

    #[test]
    fn rubric_on_the_world_oracle() {
        let world = shared::world::World::new(shared::world::WorldConfig::default()).unwrap();
        let mut rng = shared::world::rng(1, "t");
        for x in world.train_prompts(20, &mut rng) {
            let gold = world.gold(&x);
            assert_eq!(rubric(&world.oracle.grade(&x, &gold)), 5, "{}: {gold}", x.text());
            assert_eq!(rubric(&world.oracle.grade(&x, "")), 0);
        }
    }

    #[test]
    fn readings_score_by_mode() {
        let r = Reading { p: [0.0, 0.0, 0.5, 0.5, 0.0], other: 0.0 };
        let mut rng = shared::world::rng(0, "t");
        let e = JudgeConfig { mode: JudgeMode::Expected, judgments: 3, temperature: 1.0, batch: 8, max_response_chars: 56 };
        assert!((r.score(&e, &mut rng).unwrap() - 3.5).abs() < 1e-12);
        let s = JudgeConfig { mode: JudgeMode::Sampled, ..e.clone() };
        let v = r.score(&s, &mut rng).unwrap();
        assert!((3.0..=4.0).contains(&v) && (3.0 * v - (3.0 * v).round()).abs() < 1e-9, "{v}");
        let none = Reading { p: [0.0; 5], other: 1.0 };
        assert_eq!(none.score(&s, &mut rng), None);
        assert_eq!(none.score(&e, &mut rng), None);
    }

    #[test]
    fn agreement_counts_ordered_pairs() {
        assert_eq!(pairwise_agreement(&[3.0, 1.0, 2.0], &[0.9, 0.1, 0.5]), Some(1.0));
        assert_eq!(pairwise_agreement(&[1.0, 3.0], &[0.9, 0.1]), Some(0.0));
        assert_eq!(pairwise_agreement(&[2.0, 2.0], &[0.9, 0.1]), Some(0.5));
        assert_eq!(pairwise_agreement(&[2.0, 3.0], &[0.5, 0.5]), None);
    }

    #[test]
    fn eft_demonstrations_cover_every_level_and_fit_the_context() {
        let world = shared::world::World::new(shared::world::WorldConfig::default()).unwrap();
        let tok = shared::world::tokenizer::WorldTokenizer::new().unwrap();
        let demos = shared::world::forms::judge_demos(&world, 500, 56, &mut shared::world::rng(5, "t"));
        assert_eq!(demos.len(), 500);
        for k in 1..=5 {
            let n = demos.iter().filter(|(_, y)| *y == format!("<S{k}>")).count();
            assert!(n >= 80, "level {k}: {n} of 500");
        }
        for (p, y) in &demos {
            assert_eq!(tok.encode(y).unwrap().len(), 1);
            assert!(tok.encode_prompt(p).unwrap().len() + 2 <= 128, "{p}");
        }
    }

    #[test]
    fn expected_score_is_the_mean_of_the_distribution() {
        assert!((expected_score(&[0.0, 0.0, 1.0, 0.0, 0.0]) - 3.0).abs() < 1e-12);
        assert!((expected_score(&[1.0, 1.0, 1.0, 1.0, 1.0]) - 3.0).abs() < 1e-12);
    }
}
