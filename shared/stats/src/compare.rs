//! A rerun against the committed snapshot, within uncertainty: `cargo xtask reproduce <slug>`
//! reads `numbers.csv` and `claims.csv` of the results folder before the run and again after it.
//! The rerun **reproduces** the snapshot when every committed verdict is unchanged and every
//! committed number (and every claim's estimate) lies inside its committed interval; numbers
//! without an interval (no sampling involved) must be equal to six significant digits.
//!
//! Floating-point results differ between CPUs, so the same seed does not pin a table across
//! machines; what must be stable is the verdict. A number of a truly independent rerun lands
//! inside the committed 95% interval about 83% of the time (the two estimates differ by
//! sqrt(2) standard errors in spread), so among many numbers a few may move by chance.
//!
//! A rerun of fewer seeds than the snapshot (the one-seed default against three committed
//! seeds) is checked against a wider band per number instead (`Band`): the committed value ±
//! a Bonferroni z times the two standard errors combined, the rerun's including the seed spread.
//! Its verdicts may be less certain (held or contradicted → inconclusive, listed) but not
//! reversed or gained.

use crate::claim::{read_claims, short, Claim, ClaimsFile};
use crate::error::Result;
use crate::files::fmt_num;
use crate::numbers::Numbers;
use crate::verdict::Verdict;
use std::path::{Path, PathBuf};

/// The seeds pooled by the committed claims of `dir` (the most any claim records; empty when
/// there is no readable `claims.csv` in the ledger format).
pub fn committed_seeds(dir: &Path) -> Vec<u64> {
    match read_claims(&dir.join("claims.csv")) {
        Ok(ClaimsFile::Ledger(rows)) => rows.into_iter().map(|c| c.seeds).max_by_key(|s| s.len()).unwrap_or_default(),
        _ => vec![],
    }
}

/// Where a mini run of `seeds` seeds without `--out` must write instead of the committed snapshot
/// `<repo_root>/results/<slug>/`: a run of fewer seeds than the committed tables pool goes to
/// `<repo_root>/target/mini-results/<slug>/` and is compared with them, not written over them.
/// `None`: it may write the snapshot. Returns the folder and the committed seeds. The one rule
/// behind the paper binaries' default folder and `cargo xtask reproduce`'s.
pub fn fewer_seeds_dir(repo_root: &Path, slug: &str, seeds: u64) -> Option<(PathBuf, Vec<u64>)> {
    let committed = committed_seeds(&repo_root.join("results").join(slug));
    (committed.len() as u64 > seeds).then(|| (repo_root.join("target/mini-results").join(slug), committed))
}

/// What a results folder holds for comparison.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub numbers: Option<Numbers>,
    pub claims: Option<Vec<Claim>>,
    /// Why a file was not used (e.g. a `claims.csv` from before the ledger).
    pub notes: Vec<String>,
}

/// Read `numbers.csv` and `claims.csv` of `dir` (absent files are `None`; a malformed one is an
/// error naming it; a `claims.csv` in another format is noted and skipped).
pub fn read_snapshot(dir: &Path) -> Result<Snapshot> {
    let mut s = Snapshot::default();
    let n = dir.join("numbers.csv");
    if n.is_file() {
        s.numbers = Some(Numbers::load(&n)?);
    }
    let c = dir.join("claims.csv");
    if c.is_file() {
        match read_claims(&c)? {
            ClaimsFile::Ledger(rows) => s.claims = Some(rows),
            ClaimsFile::OtherFormat { .. } => s.notes.push(format!("{} is not in the ledger format (written before the ledger): its verdicts are not compared", c.display())),
        }
    }
    Ok(s)
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Comparison {
    /// Set when the committed folder has nothing to compare against.
    pub no_baseline: Option<String>,
    pub numbers_checked: usize,
    pub claims_checked: usize,
    /// Numbers outside their committed interval (or changed, when exact), one line each.
    pub moved: Vec<String>,
    /// Claims whose verdict changed.
    pub flipped: Vec<String>,
    /// Claims held or contradicted in the snapshot and inconclusive in a rerun of fewer seeds:
    /// less certain, not reversed (a one-seed interval, widened by the seed spread, is wider than
    /// the snapshot's pooled one). Not a failure to reproduce, and listed.
    pub weaker: Vec<String>,
    /// The rerun's seeds and the snapshot's, when the rerun has fewer.
    pub fewer_seeds: Option<(usize, usize)>,
    /// Committed numbers or claims the rerun no longer writes.
    pub missing: Vec<String>,
    /// Numbers or claims the rerun writes that the snapshot lacks (not a failure).
    pub added: Vec<String>,
}

impl Comparison {
    pub fn reproduced(&self) -> bool {
        self.no_baseline.is_none() && self.moved.is_empty() && self.flipped.is_empty() && self.missing.is_empty()
    }

    /// The report `cargo xtask reproduce` prints.
    pub fn render(&self) -> String {
        if let Some(why) = &self.no_baseline {
            return format!("  nothing to compare within uncertainty: {why}\n");
        }
        let mut s = if self.reproduced() && self.weaker.is_empty() {
            format!("  reproduced: {} verdict(s) unchanged, {} number(s) inside their committed intervals\n", self.claims_checked, self.numbers_checked)
        } else if self.reproduced() {
            let (run, snap) = self.fewer_seeds.unwrap_or((0, 0));
            format!(
                "  reproduced within the power of {run} seed(s): no verdict reversed or gained; {} of {} verdict(s) unchanged, {} less certain than with the snapshot's {snap} seeds (inconclusive here); {} number(s) inside the band a rerun of {run} seed(s) stays in\n",
                self.claims_checked - self.weaker.len(),
                self.claims_checked,
                self.weaker.len(),
                self.numbers_checked
            )
        } else {
            format!(
                "  not reproduced: {} of {} verdict(s) changed, {} of {} number(s) moved outside their committed intervals, {} missing\n",
                self.flipped.len(),
                self.claims_checked,
                self.moved.len(),
                self.numbers_checked,
                self.missing.len()
            )
        };
        for (label, lines) in [("verdict", &self.flipped), ("less certain", &self.weaker), ("moved", &self.moved), ("missing", &self.missing), ("new", &self.added)] {
            for l in lines {
                s.push_str(&format!("    {label}: {l}\n"));
            }
        }
        if !self.moved.is_empty() && self.flipped.is_empty() {
            s.push_str(match self.fewer_seeds {
                Some(_) => "    (each band is corrected for the number of numbers checked: a rerun that agrees with the snapshot leaves one about 5% of the time; the verdicts did not change)\n",
                None => "    (a number of an independent rerun lands inside a committed 95% interval about 83% of the time, so a few of many may move by chance; the verdicts did not)\n",
            });
        }
        s
    }
}

/// The most seeds any claim of a snapshot pools (0 without claims).
fn pooled_seeds(s: &Snapshot) -> usize {
    s.claims.iter().flatten().map(|c| c.seeds.len()).max().unwrap_or(0)
}

/// How a rerun of fewer seeds than the snapshot is checked number by number. Its one-seed
/// estimate scatters around the snapshot's pooled one by the seed spread as well as the prompt
/// noise, so the committed interval (which shrinks with the snapshot's seeds) is the wrong yardstick:
/// a number moved when it leaves `committed ± z·sqrt(se_committed² + se_rerun²)`, each standard
/// error read from its 95% interval (the rerun's widened by the seed spread), with `z` the
/// Bonferroni quantile over the `m` numbers checked, so that a rerun that agrees with the snapshot
/// passes as a whole about 95% of the time instead of almost never.
#[derive(Clone, Copy, Debug)]
struct Band {
    z: f64,
    run_seeds: usize,
}

impl Band {
    fn new(checked: usize, run_seeds: usize) -> Band {
        Band { z: crate::verdict::normal_quantile(1.0 - 0.05 / (2.0 * checked.max(1) as f64)), run_seeds }
    }

    /// A line when `new` (with its own interval) left the band around the committed number.
    fn moved(&self, name: &str, old: (f64, Option<f64>, Option<f64>), new: (f64, Option<f64>, Option<f64>)) -> Option<String> {
        let se = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
            (Some(lo), Some(hi)) if lo < hi => Some((hi - lo) / (2.0 * 1.959964)),
            _ => None,
        };
        let Some(se_old) = se(old.1, old.2) else { return moved(name, old.0, old.1, old.2, new.0) };
        let half = self.z * (se_old.powi(2) + se(new.1, new.2).unwrap_or(0.0).powi(2)).sqrt();
        let (lo, hi) = (old.0 - half, old.0 + half);
        if (lo..=hi).contains(&new.0) {
            return None;
        }
        Some(format!(
            "{name}: {} → {} ({}), outside [{}, {}], the band a rerun of {} seed(s) stays in (committed ± {:.2}·sqrt(se² + se_rerun²))",
            short(old.0),
            short(new.0),
            signed(new.0 - old.0),
            short(lo),
            short(hi),
            self.run_seeds,
            self.z
        ))
    }
}

/// Compare a rerun (`after`) with the committed snapshot (`before`).
pub fn compare(before: &Snapshot, after: &Snapshot) -> Comparison {
    let mut c = Comparison::default();
    if before.numbers.is_none() && before.claims.is_none() {
        c.no_baseline = Some("the committed folder has no numbers.csv and no claims.csv in the ledger format; commit this run's files to make them the snapshot".into());
        return c;
    }
    let (snap_seeds, run_seeds) = (pooled_seeds(before), pooled_seeds(after));
    let checked = before.numbers.as_ref().map_or(0, |n| n.rows.len()) + before.claims.as_ref().map_or(0, Vec::len);
    let band = (run_seeds > 0 && run_seeds < snap_seeds).then(|| Band::new(checked, run_seeds));
    let check = |name: &str, old: (f64, Option<f64>, Option<f64>), new: (f64, Option<f64>, Option<f64>)| match band {
        Some(b) => b.moved(name, old, new),
        None => moved(name, old.0, old.1, old.2, new.0),
    };
    if let Some(old) = &before.numbers {
        let new = after.numbers.clone().unwrap_or_default();
        for n in &old.rows {
            c.numbers_checked += 1;
            match new.get(&n.name) {
                None => c.missing.push(format!("number {:?}", n.name)),
                Some(m) => {
                    if let Some(line) = check(&n.name, (n.estimate, n.lo, n.hi), (m.estimate, m.lo, m.hi)) {
                        c.moved.push(line);
                    }
                }
            }
        }
        for m in &new.rows {
            if old.get(&m.name).is_none() {
                c.added.push(format!("number {:?} = {}", m.name, short(m.estimate)));
            }
        }
    }
    if let Some(old) = &before.claims {
        let new = after.claims.clone().unwrap_or_default();
        for k in old {
            c.claims_checked += 1;
            let Some(m) = new.iter().find(|m| m.id == k.id) else {
                c.missing.push(format!("claim {} ({})", k.id, k.statement));
                continue;
            };
            let fewer = m.seeds.len() < k.seeds.len();
            if fewer {
                c.fewer_seeds = Some((m.seeds.len(), k.seeds.len()));
            }
            if m.verdict != k.verdict && fewer && m.verdict == Verdict::Inconclusive && matches!(k.verdict, Verdict::Held | Verdict::Contradicted) {
                c.weaker.push(format!("{} ({}): {} → inconclusive with {} of {} seeds (now {}; committed {})", k.id, k.statement, k.verdict.name(), m.seeds.len(), k.seeds.len(), evidence(m), evidence(k)));
            } else if m.verdict != k.verdict {
                c.flipped.push(format!("{} ({}): {} → {} (now {}; committed {})", k.id, k.statement, k.verdict.name(), m.verdict.name(), evidence(m), evidence(k)));
            }
            c.numbers_checked += 1;
            let (lo, hi) = if k.tolerance.is_some() { (None, None) } else { (k.lo, k.hi) };
            if let Some(line) = check(&format!("claim {} estimate", k.id), (k.estimate, lo, hi), (m.estimate, m.lo, m.hi)) {
                c.moved.push(line);
            }
        }
        for m in &new {
            if !old.iter().any(|k| k.id == m.id) {
                c.added.push(format!("claim {} ({}): {}", m.id, m.statement, m.verdict.name()));
            }
        }
    }
    c
}

fn signed(x: f64) -> String {
    if x >= 0.0 {
        format!("+{}", short(x))
    } else {
        short(x)
    }
}

fn evidence(c: &Claim) -> String {
    match (c.lo, c.hi) {
        (Some(lo), Some(hi)) => format!("{} [{}, {}]", short(c.estimate), short(lo), short(hi)),
        _ => short(c.estimate),
    }
}

/// A line describing how `new` left the committed `[lo, hi]` (or differs from an exact `old`),
/// or `None` when it stayed.
fn moved(name: &str, old: f64, lo: Option<f64>, hi: Option<f64>, new: f64) -> Option<String> {
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo < hi => {
            if (lo..=hi).contains(&new) {
                return None;
            }
            let (side, by) = if new > hi { ("above", new - hi) } else { ("below", lo - new) };
            let half = (hi - lo) / 2.0;
            Some(format!("{name}: {} → {} ({}), {} the committed [{}, {}] by {} ({:.2} half-widths)", short(old), short(new), signed(new - old), side, short(lo), short(hi), short(by), by / half))
        }
        _ => (fmt_num(old) != fmt_num(new)).then(|| format!("{name}: {} → {} (a number without sampling changed)", fmt_num(old), fmt_num(new))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::{Interval, Scheme};
    use crate::claim::Claims;
    use crate::verdict::Direction;

    fn iv(lo: f64, est: f64, hi: f64) -> Interval {
        Interval { estimate: est, lo, hi, se: 1.0, level: 0.95, replicates: 2000, seeds: vec![0], prompts: 300, units: 300, scheme: Scheme::Crossed }
    }

    fn snap(lc: (f64, f64, f64), diff: (f64, f64, f64), passes: f64) -> Snapshot {
        let mut n = Numbers::new();
        n.push("table4/base/SimPO/LC WR %", &iv(lc.0, lc.1, lc.2)).unwrap();
        n.push_exact("table4/base/SimPO/forward passes", passes).unwrap();
        let mut c = Claims::new("simpo", "cargo xtask reproduce simpo");
        c.interval("base/simpo-vs-dpo", "SimPO beats DPO", "LC WR %, SimPO − DPO", Direction::Greater, 0.0, &iv(diff.0, diff.1, diff.2)).unwrap();
        Snapshot { numbers: Some(n), claims: Some(c.rows), notes: vec![] }
    }

    #[test]
    fn reproduced_when_inside_and_verdicts_unchanged() {
        let before = snap((55.0, 58.7, 62.0), (0.5, 2.0, 3.5), 48.0);
        let after = snap((57.0, 61.9, 66.0), (0.2, 1.1, 2.5), 48.0);
        let c = compare(&before, &after);
        assert!(c.reproduced(), "{}", c.render());
        assert_eq!((c.numbers_checked, c.claims_checked), (3, 1));
        assert!(c.render().contains("reproduced: 1 verdict(s) unchanged, 3 number(s)"));
    }

    #[test]
    fn lists_what_moved_and_which_verdict_flipped() {
        let before = snap((55.0, 58.7, 62.0), (0.5, 2.0, 3.5), 48.0);
        let after = snap((60.0, 63.0, 66.0), (-0.4, 0.4, 1.2), 50.0);
        let c = compare(&before, &after);
        assert!(!c.reproduced());
        let r = c.render();
        assert!(r.contains("verdict: base/simpo-vs-dpo (SimPO beats DPO): held → inconclusive (now 0.400 [-0.400, 1.20]; committed 2 [0.500, 3.50])"), "{r}");
        assert!(r.contains("moved: table4/base/SimPO/LC WR %: 58.70 → 63 (+4.30), above the committed [55, 62] by 1 (0.29 half-widths)"), "{r}");
        assert!(r.contains("moved: table4/base/SimPO/forward passes: 48 → 50 (a number without sampling changed)"), "{r}");
        assert!(r.contains("moved: claim base/simpo-vs-dpo estimate: 2 → 0.400 (-1.60), below the committed [0.500, 3.50]"), "{r}");
    }

    /// A rerun of one seed against a 3-seed snapshot: held → inconclusive is less certain (listed,
    /// not a failure); held → contradicted, or inconclusive → held, is a changed verdict.
    #[test]
    fn fewer_seeds_may_be_less_certain_but_not_reversed() {
        let with_seeds = |diff: (f64, f64, f64), seeds: Vec<u64>| {
            let mut s = snap((55.0, 58.7, 62.0), diff, 48.0);
            s.claims.as_mut().unwrap()[0].seeds = seeds;
            s
        };
        let before = with_seeds((0.5, 2.0, 3.5), vec![0, 1, 2]);
        let c = compare(&before, &with_seeds((-0.4, 1.5, 3.4), vec![0]));
        assert!(c.reproduced() && c.flipped.is_empty() && c.weaker.len() == 1, "{c:?}");
        let r = c.render();
        assert!(r.contains("reproduced within the power of 1 seed(s): no verdict reversed or gained; 0 of 1 verdict(s) unchanged, 1 less certain than with the snapshot's 3 seeds"), "{r}");
        assert!(r.contains("less certain: base/simpo-vs-dpo (SimPO beats DPO): held → inconclusive with 1 of 3 seeds"), "{r}");
        // The same change with as many seeds is a changed verdict.
        assert!(!compare(&before, &with_seeds((-0.4, 1.5, 3.4), vec![0, 1, 2])).reproduced());
        // Reversed with fewer seeds: still a changed verdict.
        assert!(!compare(&before, &with_seeds((-3.0, -2.0, -1.0), vec![0])).reproduced());
        // Gained: inconclusive in the snapshot, held by one seed.
        let unsure = with_seeds((-0.5, 1.0, 2.5), vec![0, 1, 2]);
        assert!(!compare(&unsure, &with_seeds((0.5, 2.0, 3.5), vec![0])).reproduced());
    }

    /// A one-seed rerun's number is checked against the band for a rerun of one seed, not the
    /// committed interval of three: outside the committed interval but inside the band is fine,
    /// far outside is moved; with as many seeds the committed interval is the yardstick.
    #[test]
    fn fewer_seeds_are_checked_against_a_wider_band() {
        let with = |lc: (f64, f64, f64), diff: (f64, f64, f64), seeds: Vec<u64>| {
            let mut s = snap(lc, diff, 48.0);
            s.claims.as_mut().unwrap()[0].seeds = seeds;
            s
        };
        let before = with((55.0, 58.7, 62.0), (0.5, 2.0, 3.5), vec![0, 1, 2]);
        // One seed: LC 63.5 ± 6 (widened) is outside [55, 62] but within the band.
        let near = with((57.5, 63.5, 69.5), (0.2, 1.8, 3.4), vec![0]);
        let c = compare(&before, &near);
        assert!(c.moved.is_empty() && c.reproduced(), "{}", c.render());
        assert!(!compare(&before, &with((57.5, 63.5, 69.5), (0.2, 1.8, 3.4), vec![0, 1, 2])).reproduced(), "as many seeds: the committed interval");
        // Far away: moved, with the band it left.
        let far = with((70.0, 75.0, 80.0), (0.2, 1.8, 3.4), vec![0]);
        let c = compare(&before, &far);
        assert!(!c.reproduced());
        let r = c.render();
        assert!(r.contains("moved: table4/base/SimPO/LC WR %: 58.70 → 75 (+16.30), outside [") && r.contains("the band a rerun of 1 seed(s) stays in"), "{r}");
        // Exact numbers stay exact.
        let mut exact = near.clone();
        exact.numbers.as_mut().unwrap().rows[1].estimate = 50.0;
        assert!(compare(&before, &exact).render().contains("forward passes: 48 → 50 (a number without sampling changed)"));
    }

    #[test]
    fn missing_new_and_no_baseline() {
        let before = snap((55.0, 58.7, 62.0), (0.5, 2.0, 3.5), 48.0);
        let mut after = before.clone();
        after.numbers.as_mut().unwrap().rows.remove(0);
        after.numbers.as_mut().unwrap().push_exact("new/thing", 1.0).unwrap();
        let c = compare(&before, &after);
        assert_eq!(c.missing.len(), 1);
        assert_eq!(c.added.len(), 1);
        assert!(!c.reproduced());
        let c = compare(&Snapshot::default(), &after);
        assert!(c.no_baseline.is_some() && !c.reproduced());
        assert!(c.render().contains("nothing to compare"));
    }
}
