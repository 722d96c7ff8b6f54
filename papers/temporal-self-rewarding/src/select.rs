//! Pair selection (spec "Method"). Ties: `argmax`/`argmin` take the first index; comparisons are
//! strict, as written in the paper.
//!
//! - Self-Rewarding: chosen = argmax, rejected = argmin of the current model's scores; a prompt whose
//!   scores are all equal is dropped.
//! - Temporal, Phase 1 (anchored rejection): chosen = `r_i[argmax s_i]`; rejected = `r_0[argmin s_0]`
//!   when `min s_0 < min s_i`, else `r_i[argmin s_i]`; kept when `s(chosen) > s(rejected)`.
//! - Temporal, Phase 2 (future-guided chosen): chosen = `r_f[argmax s_f]` when `max s_f > max s_i`,
//!   else Phase 1's chosen; rejected = Phase 1's; kept when `s(chosen) > s(rejected)`.
//!
//! Every score, including those of `M_0`'s and `M_f`'s samples, is the *current* model's (pitfall 1).

/// Which model's sample a pair member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    Current,
    Initial,
    Future,
}

/// A selected pair: (source, index) of chosen and rejected, their scores, and whether it is kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Selection {
    pub chosen: (From, usize),
    pub rejected: (From, usize),
    pub s_chosen: f64,
    pub s_rejected: f64,
    pub kept: bool,
}

pub fn argmax(s: &[f64]) -> usize {
    (0..s.len()).fold(0, |b, i| if s[i] > s[b] { i } else { b })
}

pub fn argmin(s: &[f64]) -> usize {
    (0..s.len()).fold(0, |b, i| if s[i] < s[b] { i } else { b })
}

/// Self-Rewarding's best-vs-worst of the current model's samples.
pub fn self_rewarding(s: &[f64]) -> Option<(usize, usize)> {
    let (w, l) = (argmax(s), argmin(s));
    (s[w] > s[l]).then_some((w, l))
}

/// Phase 1: anchored rejection.
pub fn phase1(s_i: &[f64], s_0: &[f64]) -> Selection {
    let w = argmax(s_i);
    let (li, l0) = (argmin(s_i), argmin(s_0));
    let (rejected, s_rejected) = if s_0[l0] < s_i[li] { ((From::Initial, l0), s_0[l0]) } else { ((From::Current, li), s_i[li]) };
    Selection { chosen: (From::Current, w), rejected, s_chosen: s_i[w], s_rejected, kept: s_i[w] > s_rejected }
}

/// Phase 2: future-guided chosen, on top of the same prompt's Phase 1.
pub fn phase2(p1: &Selection, s_i: &[f64], s_f: &[f64]) -> Selection {
    let f = argmax(s_f);
    let (chosen, s_chosen) = if s_f[f] > s_i[argmax(s_i)] { ((From::Future, f), s_f[f]) } else { (p1.chosen, p1.s_chosen) };
    Selection { chosen, rejected: p1.rejected, s_chosen, s_rejected: p1.s_rejected, kept: s_chosen > p1.s_rejected }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_rewarding_vectors() {
        assert_eq!(self_rewarding(&[3.0, 4.33, 4.33, 2.0]), Some((1, 3)));
        assert_eq!(self_rewarding(&[3.0, 3.0, 3.0, 3.0]), None);
    }

    #[test]
    fn temporal_case_a() {
        let s_i = [3.0, 4.33, 2.67, 4.0, 3.67, 2.0, 3.33];
        let s_0 = [2.33, 1.67, 3.0, 2.0, 2.67, 3.33, 1.0];
        let s_f = [4.67, 3.0, 4.0, 3.67, 2.33, 4.33, 3.0];
        let p1 = phase1(&s_i, &s_0);
        assert_eq!((p1.chosen, p1.rejected, p1.kept), ((From::Current, 1), (From::Initial, 6), true));
        let p2 = phase2(&p1, &s_i, &s_f);
        assert_eq!((p2.chosen, p2.rejected, p2.s_chosen, p2.kept), ((From::Future, 0), (From::Initial, 6), 4.67, true));
    }

    #[test]
    fn temporal_case_b() {
        let s_i = [2.0, 3.5, 3.0, 2.5, 3.0, 2.0, 3.0];
        let s_0 = [2.5, 3.0, 2.0, 4.0, 3.0, 2.0, 2.5];
        let s_f = [3.5, 3.0, 2.0, 3.0, 3.5, 2.5, 3.0];
        let p1 = phase1(&s_i, &s_0);
        assert_eq!((p1.chosen, p1.rejected, p1.kept), ((From::Current, 1), (From::Current, 0), true));
        let p2 = phase2(&p1, &s_i, &s_f);
        assert_eq!((p2.chosen, p2.kept), ((From::Current, 1), true));
    }

    #[test]
    fn temporal_case_c() {
        let s_i = [3.0; 7];
        let s_0 = [3.0, 4.0, 3.5, 3.0, 5.0, 3.0, 3.0];
        let s_f = [3.0, 1.0, 2.0, 3.0, 2.5, 3.0, 0.5];
        let p1 = phase1(&s_i, &s_0);
        assert_eq!((p1.chosen, p1.rejected, p1.kept), ((From::Current, 0), (From::Current, 0), false));
        assert!(!phase2(&p1, &s_i, &s_f).kept);
    }
}
