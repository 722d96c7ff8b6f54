//! Picking a preference pair from a chain of self-refinement `y_1 → … → y_N` (spec, "Inference"
//! step 2) and the refinement gain `G@k`.

use crate::config::Selection;

/// Index of the first maximum (pitfall 10: ties go to the first index, as SPPO's code does).
pub fn argmax(v: &[f64]) -> usize {
    let mut b = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[b] {
            b = i;
        }
    }
    b
}

/// Index of the first minimum.
pub fn argmin(v: &[f64]) -> usize {
    let mut b = 0;
    for (i, x) in v.iter().enumerate() {
        if *x < v[b] {
            b = i;
        }
    }
    b
}

/// Text with runs of whitespace collapsed and the ends trimmed.
pub fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(w, l)` indices into the chain, or None when the chain is dropped:
/// - RM: `w` = argmax, `l` = argmin of the RM scores; dropped when max = min;
/// - rule: `w` = N−1 (the last refinement), `l` = 0 (the direct answer); dropped when the two
///   texts are identical after whitespace normalisation.
pub fn select(rule: Selection, rm: &[f64], texts: &[String]) -> Option<(usize, usize)> {
    match rule {
        Selection::Rm => {
            let (w, l) = (argmax(rm), argmin(rm));
            (rm[w] > rm[l]).then_some((w, l))
        }
        Selection::Rule => {
            let n = texts.len();
            (n >= 2 && normalise(&texts[n - 1]) != normalise(&texts[0])).then_some((n - 1, 0))
        }
    }
}

/// `G@k = mean(refine@k) − mean(direct)`.
pub fn gain(direct: &[f64], refined: &[f64]) -> f64 {
    let m = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    m(refined) - m(direct)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_vector_chain_selection() {
        let t = texts(&["a", "b", "c", "d"]);
        assert_eq!(select(Selection::Rm, &[0.40, 0.55, 0.70, 0.65], &t), Some((2, 0)));
        assert_eq!(select(Selection::Rule, &[0.40, 0.55, 0.70, 0.65], &t), Some((3, 0)));
        assert_eq!(select(Selection::Rm, &[0.5, 0.5, 0.5, 0.5], &t), None);
        assert_eq!(select(Selection::Rule, &[0.5, 0.5, 0.5, 0.5], &t), Some((3, 0)));
        assert_eq!(select(Selection::Rule, &[0.5; 4], &texts(&["x  y", "b", "c", " x y "])), None);
    }

    #[test]
    fn ties_take_the_first_index() {
        assert_eq!(argmax(&[0.2, 0.9, 0.9]), 1);
        assert_eq!(argmin(&[0.2, 0.9, 0.2]), 0);
    }

    #[test]
    fn spec_vector_refinement_gain() {
        assert!((gain(&[0.5, 0.75, 1.0, 0.25], &[0.75, 0.75, 1.0, 0.5]) - 0.125).abs() < 1e-12);
    }
}
