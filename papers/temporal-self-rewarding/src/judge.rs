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

/// The 5-point additive rubric on the oracle's grade: +1 the answer parses; +1 ≥ 50% of the items
/// right; +1 ≥ 75%; +1 all right; +1 all right, every format skill met and no filler. A response
/// that does not parse scores 0 ([`score_token`] clamps it to S1, the lowest token there is).
pub fn rubric(g: &Grade) -> u8 {
    if g.parsed.items.is_empty() {
        return 0;
    }
    1 + u8::from(g.content >= 0.5) + u8::from(g.content >= 0.75) + u8::from(g.content >= 1.0) + u8::from(g.correct && g.fillers == 0)
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
    format!("<S{}>", points.clamp(1, 5))
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
    fn expected_score_is_the_mean_of_the_distribution() {
        assert!((expected_score(&[0.0, 0.0, 1.0, 0.0, 0.0]) - 3.0).abs() < 1e-12);
        assert!((expected_score(&[1.0, 1.0, 1.0, 1.0, 1.0]) - 3.0).abs() < 1e-12);
    }
}
