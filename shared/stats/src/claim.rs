//! Claims: one row per claim of a paper, with the evidence and the verdict, written by the paper's
//! own code as `results/<slug>/claims.csv` (and `claims.md`).
//!
//! Columns of `claims.csv` ([`HEADER`]):
//!
//! | column | meaning |
//! |---|---|
//! | `paper` | the paper's slug |
//! | `id` | a short id, unique within the file (`base/simpo-vs-dpo-lc`) |
//! | `claim` | the claim as the paper states it |
//! | `metric` | what is measured, e.g. `LC WR %, SimPO − DPO (paired)` |
//! | `direction` | `>` or `<`: the paper's side of `threshold`; `=` for an exact recomputation |
//! | `threshold` | the value the claim is tested against: 0 for a difference, 50 for a win rate against an even split; for `=`, the published value |
//! | `estimate` | the statistic on the data as observed (or the recomputed value) |
//! | `lo`, `hi` | the 95% bootstrap interval (empty for `=`) |
//! | `tolerance` | for `=`: how far the recomputed value may lie from the published one (0.005 = "to 2 decimals") |
//! | `verdict` | `held`, `contradicted`, `inconclusive`, `reproduced`, `not reproduced` |
//! | `seeds` | the pipeline seeds, space-separated (empty for published data) |
//! | `prompts` | distinct evaluation prompts (or items) behind the interval |
//! | `mde` | the smallest effect this design detects with 80% power (2.80 bootstrap s.e.) |
//! | `p_improvement` | P(A > B) over prompts, where the claim compares two methods |
//! | `command` | the command that regenerates the row |
//!
//! A file read back must be consistent: its verdict is recomputed from its numbers, and a
//! mismatch (a hand-edited or stale row) is an error naming the file and line.

use crate::bootstrap::Interval;
use crate::error::{Error, Result};
use crate::files::{csv_rows, csv_text, fmt_num, fmt_opt, parse_num, parse_opt_num, write_atomic};
use crate::verdict::{decide, decide_exact, Direction, Verdict};
use std::path::Path;

pub const HEADER: [&str; 16] = ["paper", "id", "claim", "metric", "direction", "threshold", "estimate", "lo", "hi", "tolerance", "verdict", "seeds", "prompts", "mde", "p_improvement", "command"];

#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub paper: String,
    pub id: String,
    pub statement: String,
    pub metric: String,
    pub direction: Direction,
    pub threshold: f64,
    pub estimate: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub tolerance: Option<f64>,
    pub verdict: Verdict,
    pub seeds: Vec<u64>,
    pub prompts: Option<usize>,
    pub mde: Option<f64>,
    pub p_improvement: Option<f64>,
    pub command: String,
}

impl Claim {
    /// Check that the row is coherent and its verdict follows from its numbers.
    pub fn validate(&self) -> Result<()> {
        let what = || format!("claim {}/{}", self.paper, self.id);
        if self.paper.is_empty() || self.id.is_empty() || self.statement.is_empty() || self.metric.is_empty() || self.command.is_empty() {
            return Err(Error::invalid(what(), "paper, id, claim, metric and command must not be empty"));
        }
        if !self.estimate.is_finite() || !self.threshold.is_finite() {
            return Err(Error::invalid(what(), format!("estimate {} and threshold {} must be finite", self.estimate, self.threshold)));
        }
        let expected = match (self.direction, self.lo, self.hi, self.tolerance) {
            (Direction::Equal, None, None, Some(tol)) => decide_exact(self.estimate, self.threshold, tol)?,
            (Direction::Equal, ..) => return Err(Error::invalid(what(), "an exact claim (=) has a tolerance and no interval")),
            (d, Some(lo), Some(hi), None) => decide(lo, hi, d, self.threshold)?,
            _ => return Err(Error::invalid(what(), "a directional claim (> or <) has an interval (lo, hi) and no tolerance")),
        };
        if expected != self.verdict {
            return Err(Error::invalid(what(), format!("verdict {:?} does not follow from its numbers ({:?})", self.verdict.name(), expected.name())));
        }
        if let Some(p) = self.p_improvement {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::invalid(what(), format!("P(improvement) {p} is outside [0, 1]")));
            }
        }
        Ok(())
    }

    pub(crate) fn fields(&self) -> Vec<String> {
        vec![
            self.paper.clone(),
            self.id.clone(),
            self.statement.clone(),
            self.metric.clone(),
            self.direction.symbol().into(),
            fmt_num(self.threshold),
            fmt_num(self.estimate),
            fmt_opt(self.lo),
            fmt_opt(self.hi),
            fmt_opt(self.tolerance),
            self.verdict.name().into(),
            self.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "),
            self.prompts.map(|p| p.to_string()).unwrap_or_default(),
            fmt_opt(self.mde),
            fmt_opt(self.p_improvement),
            self.command.clone(),
        ]
    }

    /// Parse one row's fields (in [`HEADER`] order).
    fn from_fields(path: &Path, line: usize, f: &[String]) -> Result<Claim> {
        if f.len() != HEADER.len() {
            return Err(Error::csv(path, line, format!("{} fields, the claims header has {}", f.len(), HEADER.len())));
        }
        let direction = Direction::parse(&f[4]).ok_or_else(|| Error::csv(path, line, format!("direction {:?} is not >, < or =", f[4])))?;
        let verdict = Verdict::parse(&f[10]).ok_or_else(|| Error::csv(path, line, format!("verdict {:?} is not one of held, contradicted, inconclusive, reproduced, not reproduced", f[10])))?;
        let seeds = f[11]
            .split_whitespace()
            .map(|s| s.parse::<u64>().map_err(|_| Error::csv(path, line, format!("seed {s:?} is not a non-negative integer"))))
            .collect::<Result<Vec<_>>>()?;
        let prompts = if f[12].trim().is_empty() { None } else { Some(f[12].trim().parse::<usize>().map_err(|_| Error::csv(path, line, format!("prompts {:?} is not a count", f[12])))?) };
        let c = Claim {
            paper: f[0].clone(),
            id: f[1].clone(),
            statement: f[2].clone(),
            metric: f[3].clone(),
            direction,
            threshold: parse_num(path, line, "threshold", &f[5])?,
            estimate: parse_num(path, line, "estimate", &f[6])?,
            lo: parse_opt_num(path, line, "lo", &f[7])?,
            hi: parse_opt_num(path, line, "hi", &f[8])?,
            tolerance: parse_opt_num(path, line, "tolerance", &f[9])?,
            verdict,
            seeds,
            prompts,
            mde: parse_opt_num(path, line, "mde", &f[13])?,
            p_improvement: parse_opt_num(path, line, "p_improvement", &f[14])?,
            command: f[15].clone(),
        };
        c.validate().map_err(|e| Error::csv(path, line, e.to_string()))?;
        Ok(c)
    }
}

/// A paper's claims, built by its own code and saved as `claims.csv` + `claims.md`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    pub paper: String,
    /// The command that regenerates these rows (the same for all of them).
    pub command: String,
    pub rows: Vec<Claim>,
    /// Lines printed under the Markdown table (how the intervals were made, e.g. widened by a
    /// committed seed spread); not part of `claims.csv`.
    pub notes: Vec<String>,
}

impl Claims {
    pub fn new(paper: &str, command: &str) -> Self {
        Claims { paper: paper.into(), command: command.into(), rows: vec![], notes: vec![] }
    }

    fn push(&mut self, c: Claim) -> Result<&mut Claim> {
        c.validate()?;
        if self.rows.iter().any(|r| r.id == c.id) {
            return Err(Error::invalid(format!("claim {}/{}", c.paper, c.id), "id used twice"));
        }
        self.rows.push(c);
        Ok(self.rows.last_mut().expect("just pushed"))
    }

    fn draft(&self, id: &str, statement: &str, metric: &str) -> Claim {
        Claim {
            paper: self.paper.clone(),
            id: id.into(),
            statement: statement.into(),
            metric: metric.into(),
            direction: Direction::Equal,
            threshold: 0.0,
            estimate: f64::NAN,
            lo: None,
            hi: None,
            tolerance: None,
            verdict: Verdict::Inconclusive,
            seeds: vec![],
            prompts: None,
            mde: None,
            p_improvement: None,
            command: self.command.clone(),
        }
    }

    /// A statistical claim decided from its bootstrap interval: held when the interval excludes
    /// `threshold` on the `direction` side, contradicted on the other side, else inconclusive.
    /// Seeds, prompts and the detectable effect come from the interval.
    pub fn interval(&mut self, id: &str, statement: &str, metric: &str, direction: Direction, threshold: f64, iv: &Interval) -> Result<&mut Claim> {
        let mut c = self.draft(id, statement, metric);
        c.direction = direction;
        c.threshold = stored(threshold);
        c.estimate = stored(iv.estimate);
        c.lo = Some(stored(iv.lo));
        c.hi = Some(stored(iv.hi));
        c.verdict = decide(stored(iv.lo), stored(iv.hi), direction, stored(threshold))?;
        c.seeds = iv.seeds.clone();
        c.prompts = Some(iv.prompts);
        c.mde = Some(iv.mde());
        self.push(c)
    }

    /// A claim about a quantity that involves no sampling (a count of forward passes, a property
    /// of the method): its interval is the single value. Say so in `metric`. (Set `seeds` on the
    /// returned row if the value was observed in particular runs.)
    pub fn deterministic(&mut self, id: &str, statement: &str, metric: &str, direction: Direction, threshold: f64, value: f64) -> Result<&mut Claim> {
        let mut c = self.draft(id, statement, metric);
        let (value, threshold) = (stored(value), stored(threshold));
        c.direction = direction;
        c.threshold = threshold;
        c.estimate = value;
        c.lo = Some(value);
        c.hi = Some(value);
        c.verdict = decide(value, value, direction, threshold)?;
        self.push(c)
    }

    /// An exact recomputation of a published value: reproduced when
    /// `|estimate - published| <= tolerance`.
    pub fn exact(&mut self, id: &str, statement: &str, metric: &str, estimate: f64, published: f64, tolerance: f64) -> Result<&mut Claim> {
        let mut c = self.draft(id, statement, metric);
        let (estimate, published, tolerance) = (stored(estimate), stored(published), stored(tolerance));
        c.threshold = published;
        c.estimate = estimate;
        c.tolerance = Some(tolerance);
        c.verdict = decide_exact(estimate, published, tolerance)?;
        self.push(c)
    }

    pub fn to_csv(&self) -> String {
        to_csv(&self.rows)
    }

    pub fn to_markdown(&self) -> String {
        let notes: String = self.notes.iter().map(|n| format!("{n}\n\n")).collect();
        format!("### Claims of `{}`\n\n{}\n{notes}{}", self.paper, markdown_rows(&self.rows), LEGEND)
    }

    /// Write `<dir>/claims.csv` and `<dir>/claims.md` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join("claims.csv"), self.to_csv().as_bytes())?;
        write_atomic(&dir.join("claims.md"), self.to_markdown().as_bytes())
    }
}

/// What the verdicts mean, printed under every claims table.
pub const LEGEND: &str = "held: the 95% interval (bootstrap over prompts and seeds, stratified by seed) excludes the threshold on the paper's side; contradicted: it excludes it on the other side; inconclusive: it does not exclude it. reproduced / not reproduced: an exact recomputation, within the stated tolerance of its target (the published value, or 0 for a largest difference) or not. MDE: the smallest true effect this design detects with 80% power (2.80 bootstrap standard errors). P(A>B): probability of improvement over prompts (Agarwal et al. 2021).\n";

pub(crate) fn to_csv(rows: &[Claim]) -> String {
    csv_text(std::iter::once(HEADER.iter().map(|s| s.to_string()).collect()).chain(rows.iter().map(|c| c.fields())))
}

/// A number for people: integers as integers, otherwise 3 significant decimals at most.
pub fn short(x: f64) -> String {
    if x == x.round() && x.abs() < 1e9 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else if x.abs() >= 1e-3 {
        format!("{x:.3}")
    } else {
        format!("{x:.1e}")
    }
}

/// An exact check for people: both values with the decimals the tolerance implies (0.005 → 3),
/// in scientific notation below 1e-4.
fn exact_evidence(estimate: f64, target: f64, tol: f64) -> String {
    if tol == 0.0 {
        return format!("{} vs target {} (exactly)", fmt_num(estimate), fmt_num(target));
    }
    let d = (-tol.log10()).ceil().max(0.0) as usize;
    if d > 4 && target == 0.0 {
        let sci = |x: f64| if x == 0.0 { "0".to_string() } else { format!("{x:.1e}") };
        return format!("{} vs target 0 (± {})", sci(estimate), sci(tol));
    }
    let show = |x: f64| if x != 0.0 && x.abs() < 0.5 * 10f64.powi(-(d as i32)) { format!("{x:.1e}") } else { format!("{x:.d$}") };
    format!("{} vs target {} (± {})", show(estimate), show(target), fmt_num(tol))
}

pub(crate) fn markdown_rows(rows: &[Claim]) -> String {
    let mut s = String::from("| id | claim (paper) | measured | estimate [95% interval] | verdict | seeds | prompts | MDE | P(A>B) |\n|---|---|---|---|---|---|---|---|---|\n");
    for c in rows {
        let evidence = match (c.lo, c.hi, c.tolerance) {
            (Some(lo), Some(hi), _) if lo == hi => format!("{} (no sampling) {} {}", short(c.estimate), c.direction.symbol(), short(c.threshold)),
            (Some(lo), Some(hi), _) => format!("{} [{}, {}] {} {}", short(c.estimate), short(lo), short(hi), c.direction.symbol(), short(c.threshold)),
            (_, _, Some(t)) => exact_evidence(c.estimate, c.threshold, t),
            _ => short(c.estimate),
        };
        let seeds = if c.seeds.is_empty() { "–".into() } else { c.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" ") };
        let cells = [
            c.id.clone(),
            c.statement.clone(),
            c.metric.clone(),
            evidence,
            format!("**{}**", c.verdict.name()),
            seeds,
            c.prompts.map(|p| p.to_string()).unwrap_or("–".into()),
            c.mde.map(short).unwrap_or("–".into()),
            c.p_improvement.map(|p| format!("{p:.2}")).unwrap_or("–".into()),
        ];
        s.push_str(&format!("| {} |\n", cells.map(|x| x.replace('|', "\\|")).join(" | ")));
    }
    s
}

/// What a `claims.csv` holds: ledger rows, or a file in some other format (a table written before
/// the ledger existed), reported rather than misread.
#[derive(Debug)]
pub enum ClaimsFile {
    Ledger(Vec<Claim>),
    OtherFormat { header: Vec<String> },
}

/// Read a `claims.csv`. A file with the ledger's header must be valid row by row (an error names
/// the file and line); a file with another header is returned as [`ClaimsFile::OtherFormat`].
pub fn read_claims(path: &Path) -> Result<ClaimsFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_claims(path, &text)
}

pub fn parse_claims(path: &Path, text: &str) -> Result<ClaimsFile> {
    let rows = csv_rows(path, text)?;
    let Some((_, header)) = rows.first() else {
        return Err(Error::csv(path, 1, "empty file: expected the claims header"));
    };
    if header.as_slice() != HEADER.map(String::from).as_slice() {
        return Ok(ClaimsFile::OtherFormat { header: header.clone() });
    }
    let mut out: Vec<Claim> = vec![];
    for (line, f) in &rows[1..] {
        let c = Claim::from_fields(path, *line, f)?;
        if out.iter().any(|o| o.id == c.id) {
            return Err(Error::csv(path, *line, format!("claim id {:?} appears twice", c.id)));
        }
        out.push(c);
    }
    Ok(ClaimsFile::Ledger(out))
}

/// A number as `claims.csv` stores it (six significant digits, [`fmt_num`]). Every claim is decided
/// on its stored numbers, so the ledger, which re-derives each verdict from the file, reaches the
/// same verdict even when an interval's end lies within rounding of the threshold.
fn stored(x: f64) -> f64 {
    fmt_num(x).parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::Scheme;

    fn iv(lo: f64, est: f64, hi: f64) -> Interval {
        Interval { estimate: est, lo, hi, se: 1.0, level: 0.95, replicates: 2000, seeds: vec![0, 1, 2], prompts: 300, units: 900, scheme: Scheme::Crossed }
    }

    pub(crate) fn demo() -> Claims {
        let mut c = Claims::new("simpo", "cargo xtask reproduce simpo --seeds 3");
        c.interval("base/simpo-vs-dpo", "SimPO beats DPO on LC WR (+6.4)", "LC WR %, SimPO − DPO", Direction::Greater, 0.0, &iv(0.5, 2.0, 3.5)).unwrap().p_improvement = Some(0.61);
        c.interval("base/gamma", "γ > 0 helps, \"quoted\"", "LC WR %, SimPO − SimPO γ=0", Direction::Greater, 0.0, &iv(-1.0, 0.4, 1.9)).unwrap();
        c.interval("base/noln-length", "w/o LN: longer", "length, w/o LN − SimPO", Direction::Greater, 0.0, &iv(-9.0, -7.0, -5.0)).unwrap();
        c.deterministic("base/passes", "fewer forward passes", "forward passes, SimPO − DPO (no sampling)", Direction::Less, 0.0, -24.0).unwrap().seeds = vec![0, 1, 2];
        c.exact("raw-wr", "raw WR equals the leaderboard", "max |raw − leaderboard|, 24 models", 1.4e-10, 0.0, 0.005).unwrap();
        c.exact("lc", "LC equals the leaderboard", "max |LC − leaderboard|", 3.53, 0.0, 0.005).unwrap();
        c
    }

    /// An interval end within rounding of the threshold: the verdict is decided on the stored
    /// (six-digit) numbers, so the file read back validates with the same verdict.
    #[test]
    fn a_verdict_at_the_rounding_boundary_survives_the_round_trip() {
        let mut c = Claims::new("lcpo", "cargo xtask reproduce lcpo");
        c.interval("eta", "η̂ above 0.3", "η̂", Direction::Greater, 0.3, &iv(0.3 + 4e-11, 0.5, 0.7)).unwrap();
        assert_eq!(c.rows[0].verdict, Verdict::Inconclusive, "0.30000000004 is stored as 0.3, which does not exclude 0.3");
        let dir = tempfile::tempdir().unwrap();
        c.save(dir.path()).unwrap();
        match read_claims(&dir.path().join("claims.csv")).unwrap() {
            ClaimsFile::Ledger(rows) => assert_eq!(rows[0].verdict, Verdict::Inconclusive),
            ClaimsFile::OtherFormat { header } => panic!("{header:?}"),
        }
    }

    #[test]
    fn verdicts_follow_the_intervals() {
        let c = demo();
        let v: Vec<&str> = c.rows.iter().map(|r| r.verdict.name()).collect();
        assert_eq!(v, ["held", "inconclusive", "contradicted", "held", "reproduced", "not reproduced"]);
        assert!((c.rows[0].mde.unwrap() - 2.8016).abs() < 1e-3);
    }

    #[test]
    fn csv_round_trip_and_markdown() {
        let dir = tempfile::tempdir().unwrap();
        let c = demo();
        c.save(dir.path()).unwrap();
        let ClaimsFile::Ledger(back) = read_claims(&dir.path().join("claims.csv")).unwrap() else { panic!("ledger format") };
        assert_eq!(back.len(), 6);
        assert_eq!(back[1].statement, "γ > 0 helps, \"quoted\"");
        assert_eq!(back[4].estimate, 1.4e-10);
        assert_eq!(to_csv(&back), c.to_csv());
        let md = std::fs::read_to_string(dir.path().join("claims.md")).unwrap();
        assert!(md.contains("| base/simpo-vs-dpo | SimPO beats DPO on LC WR (+6.4) | LC WR %, SimPO − DPO | 2 [0.500, 3.50] > 0 | **held** | 0 1 2 | 300 | 2.80 | 0.61 |"), "{md}");
        assert!(md.contains("-24 (no sampling) < 0"));
        assert!(md.contains("3.530 vs target 0.000 (± 0.005) | **not reproduced**"), "{md}");
        assert!(md.contains("1.4e-10 vs target 0.000 (± 0.005) | **reproduced**"), "{md}");
    }

    #[test]
    fn ids_are_unique_and_verdicts_cannot_be_edited() {
        let mut c = demo();
        assert!(c.interval("base/gamma", "x", "y", Direction::Greater, 0.0, &iv(0.1, 0.2, 0.3)).unwrap_err().to_string().contains("id used twice"));
        let text = c.to_csv().replacen(",inconclusive,", ",held,", 1);
        let e = parse_claims(Path::new("results/simpo/claims.csv"), &text).unwrap_err().to_string();
        assert!(e.contains("results/simpo/claims.csv, line 3") && e.contains("does not follow"), "{e}");
        c.rows.truncate(1);
        let bad = [
            (c.to_csv().replace(",held,", ",maybe,"), "verdict \"maybe\""),
            (c.to_csv().replace(",>,", ",>=,"), "direction"),
            (c.to_csv().replace(",0.61,", ",1.5,"), "outside [0, 1]"),
            (c.to_csv().replace(",0 1 2,", ",0 x 2,"), "seed \"x\""),
            (c.to_csv() + "simpo,short row\n", "line 3: 2 fields"),
        ];
        for (text, want) in bad {
            let e = parse_claims(Path::new("c.csv"), &text).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn another_format_is_reported_not_misread() {
        let old = "setup,claim (paper),miniature,held\nbase,SimPO beats SFT,0.8 vs 0.7,yes\n";
        match parse_claims(Path::new("results/simpo/claims.csv"), old).unwrap() {
            ClaimsFile::OtherFormat { header } => assert_eq!(header[0], "setup"),
            other => panic!("{other:?}"),
        }
    }
}
