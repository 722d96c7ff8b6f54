//! What the self-evaluation is trained to predict (spec "Training-data construction", step 4):
//! the leave-one-out probability that another of the prompt's own samples is strictly better,
//! `t_i = (1/(N−1)) Σ_{j≠i} 1[r_j > r_i + ε]`, ties counting as "not better"; and the derived
//! "fraction of the gain recovered".

/// Leave-one-out targets of `rewards` with tie margin `eps`: per sample `(t_i, P(tie))`.
/// Fewer than two samples have no comparison set: `t_i = 0`, no ties.
pub fn leave_one_out(rewards: &[f64], eps: f64) -> Vec<(f64, f64)> {
    let n = rewards.len();
    if n < 2 {
        return vec![(0.0, 0.0); n];
    }
    let others = (n - 1) as f64;
    (0..n)
        .map(|i| {
            let (mut better, mut tie) = (0usize, 0usize);
            for (j, &rj) in rewards.iter().enumerate() {
                if j == i {
                    continue; // leave one out: never compare a sample with itself
                }
                if rj > rewards[i] + eps {
                    better += 1; // strict: a tie is not "better" (spec pitfall)
                } else if (rj - rewards[i]).abs() <= eps {
                    tie += 1;
                }
            }
            (better as f64 / others, tie as f64 / others)
        })
        .collect()
}

/// `(WR_method − WR_1) / (WR_16 − WR_1)`: the share of best-of-16's gain a cheaper method keeps.
/// NaN when best-of-16 gains nothing.
pub fn recovered_fraction(wr_method: f64, wr_1: f64, wr_16: f64) -> f64 {
    let gain = wr_16 - wr_1;
    if gain == 0.0 {
        f64::NAN
    } else {
        (wr_method - wr_1) / gain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[(f64, f64)], b: &[(f64, f64)]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x.0 - y.0).abs() < 1e-6 && (x.1 - y.1).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn spec_vector_1_leave_one_out_targets() {
        let third = 1.0 / 3.0;
        let want = [(0.0, 0.0), (third, third), (third, third), (1.0, 0.0)];
        close(&leave_one_out(&[0.9, 0.5, 0.5, 0.1], 0.0), &want);
        close(&leave_one_out(&[0.9, 0.52, 0.5, 0.1], 0.05), &want); // 0.52 and 0.5 tie under eps
        close(&leave_one_out(&[1.0, 0.0, 1.0, 0.0, 0.0], 0.0), &[(0.0, 0.25), (0.5, 0.5), (0.0, 0.25), (0.5, 0.5), (0.5, 0.5)]);
    }

    #[test]
    fn including_oneself_would_bias_toward_ties() {
        // A lone best sample: nothing is better, nothing ties (with itself excluded).
        assert_eq!(leave_one_out(&[1.0, 0.0], 0.0), vec![(0.0, 0.0), (1.0, 0.0)]);
        assert_eq!(leave_one_out(&[0.3], 0.0), vec![(0.0, 0.0)]);
    }

    #[test]
    fn spec_vector_7_recovered_fraction() {
        assert!((recovered_fraction(30.62, 21.0, 34.0) - 0.74).abs() < 1e-6);
        assert!((recovered_fraction(89.18, 84.0, 91.0) - 0.74).abs() < 1e-6);
        assert!(recovered_fraction(1.0, 2.0, 2.0).is_nan());
    }
}
