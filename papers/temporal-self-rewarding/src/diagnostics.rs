//! The paper's per-iteration diagnostics: the shrink of the chosen–rejected score gap, and the
//! cosine similarity of the chosen and rejected representations.

/// `gap_later / gap_first` (0.111 = a 9× shrink).
pub fn gap_ratio(first: f64, later: f64) -> f64 {
    later / first
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let d = n(a) * n(b);
    if d == 0.0 {
        0.0
    } else {
        dot / d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        assert!((gap_ratio(1.80, 0.20) - 0.111111).abs() < 5e-7);
        assert!((cosine(&[1.0, 2.0, 3.0], &[2.0, 2.0, 2.0]) - 0.925820).abs() < 5e-7);
        assert_eq!(cosine(&[0.0], &[1.0]), 0.0);
        // Headline arithmetic: 29.44 − 19.69.
        assert!((29.44f64 - 19.69 - 9.75).abs() < 1e-9);
    }
}
