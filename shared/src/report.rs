//! Result tables: one writer for CSV and Markdown, numbers formatted in one place.
//!
//! A [`Table`] is a title, column names and rows of [`Cell`]s. `save` writes
//! `<stem>.csv` and `<stem>.md` atomically into a results folder. [`RunInfo`] writes the
//! `run.md` beside them: how the tables were made.

use crate::error::Result;
use crate::io::write_atomic;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// A number printed with the given number of decimals.
    Num(f64, usize),
    /// A number with its standard error, printed `x ± se`.
    NumSe(f64, f64, usize),
    Int(i64),
    Missing,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }
    pub fn num(x: f64, decimals: usize) -> Self {
        if x.is_finite() { Cell::Num(x, decimals) } else { Cell::Missing }
    }
    pub fn opt(x: Option<f64>, decimals: usize) -> Self {
        x.map(|v| Cell::num(v, decimals)).unwrap_or(Cell::Missing)
    }
    /// The cell as it appears in Markdown.
    pub fn render(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(x, d) => format!("{x:.d$}", d = *d),
            Cell::NumSe(x, se, d) => format!("{x:.d$} ± {se:.d$}", d = *d),
            Cell::Int(i) => i.to_string(),
            Cell::Missing => "–".into(),
        }
    }
    /// The cell as it appears in CSV (standard errors get their own column).
    fn csv_fields(&self) -> Vec<String> {
        match self {
            Cell::NumSe(x, se, d) => vec![format!("{x:.d$}", d = *d), format!("{se:.d$}", d = *d)],
            Cell::Missing => vec![String::new()],
            other => vec![other.render()],
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Lines printed under the Markdown table (sources, caveats).
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Self {
        Table { title: title.into(), columns: columns.iter().map(|c| c.to_string()).collect(), ..Default::default() }
    }
    pub fn push(&mut self, row: Vec<Cell>) {
        assert_eq!(row.len(), self.columns.len(), "row width must match the table's columns");
        self.rows.push(row);
    }
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    pub fn to_markdown(&self) -> String {
        let mut s = format!("### {}\n\n| {} |\n|", self.title, self.columns.join(" | "));
        for _ in &self.columns {
            s.push_str("---|");
        }
        s.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| c.render().replace('|', "\\|")).collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                s.push_str(&format!("{n}\n"));
            }
        }
        s
    }

    pub fn to_csv(&self) -> String {
        // A column whose cells carry a standard error gets a `<name>_se` column after it.
        let with_se: Vec<bool> = (0..self.columns.len())
            .map(|j| self.rows.iter().any(|r| matches!(r[j], Cell::NumSe(..))))
            .collect();
        let mut w = csv::Writer::from_writer(vec![]);
        let mut header = vec![];
        for (j, c) in self.columns.iter().enumerate() {
            header.push(c.clone());
            if with_se[j] {
                header.push(format!("{c}_se"));
            }
        }
        w.write_record(&header).expect("in-memory CSV");
        for row in &self.rows {
            let mut rec = vec![];
            for (j, cell) in row.iter().enumerate() {
                let mut f = cell.csv_fields();
                if with_se[j] && f.len() == 1 {
                    f.push(String::new());
                }
                rec.extend(f);
            }
            w.write_record(&rec).expect("in-memory CSV");
        }
        String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("UTF-8")
    }

    /// Write `<dir>/<stem>.csv` and `<dir>/<stem>.md` atomically.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<()> {
        write_atomic(&dir.join(format!("{stem}.csv")), self.to_csv().as_bytes())?;
        write_atomic(&dir.join(format!("{stem}.md")), self.to_markdown().as_bytes())
    }
}

/// How a run was made, written as `run.md` beside its tables: scale, seed, CPU threads, device
/// and the config exactly as loaded (nothing that changes between identical runs, so the file is
/// part of the snapshot).
pub struct RunInfo<'a> {
    pub scale: &'a str,
    /// The pipeline seeds behind the tables (one, or `--seed S --seeds N`).
    pub seeds: &'a [u64],
    pub threads: i32,
    pub device: &'a str,
    /// The config file, as the user would name it (relative to the repository root).
    pub config_path: &'a str,
    pub config_toml: &'a str,
    /// A one-seed run's seed-spread reference: the results folder of an earlier run of several
    /// seeds ([`crate::cli::RunArgs::reference_dir`]; `None`: this run's data only).
    pub reference: Option<&'a Path>,
}

impl RunInfo<'_> {
    pub fn to_markdown(&self) -> String {
        format!(
            "# The run behind these tables\n\n- scale: {}\n- {}: {}\n- libtorch CPU threads: {}\n- device: {}{}\n- config: `{}`, as loaded:\n\n```toml\n{}```\n",
            self.scale,
            if self.seeds.len() == 1 { "seed" } else { "seeds" },
            stats::seeds::describe(self.seeds),
            self.threads,
            self.device,
            // On the CPU the math is pinned (`shared::device::pin_cpu_math`): say how.
            if self.device == "cpu" { format!("\n- CPU math: {}", crate::device::cpu_math()) } else { String::new() },
            self.config_path,
            self.config_toml
        )
    }

    /// The bootstrap for one of this run's per-prompt tables, and a line saying how its intervals
    /// are made. With one seed and a [`RunInfo::reference`] whose `<table>.per_prompt.csv[.gz]`
    /// matches `run` ([`stats::spread::check_reference`]), the bootstrap carries those records and
    /// widens every one-seed interval by their spread between seeds. A reference file that
    /// exists but cannot be read is an error naming it.
    pub fn bootstrap(&self, table: &str, run: &stats::Records) -> Result<(stats::Bootstrap, String)> {
        let plain = |why: String| Ok((stats::Bootstrap::default(), format!("intervals cover the prompts and samples of this run only ({why})")));
        if self.seeds.len() != 1 {
            return Ok((stats::Bootstrap::default(), format!("intervals pool seeds {} (the bootstrap draws seeds as well as prompts)", stats::seeds::describe(self.seeds))));
        }
        let Some(dir) = self.reference else { return plain("no seed-spread reference".into()) };
        let path = stats::records::per_prompt_path(dir, table);
        if !path.is_file() && !path.with_extension("csv.gz").is_file() {
            return plain(format!("no {table}.per_prompt.csv in {}", dir.display()));
        }
        let reference = stats::Records::load(dir, table).map_err(|e| crate::Error::invalid(format!("the seed-spread reference in {}", dir.display()), format!("{e}; fix or remove it, or pass --no-seed-spread")))?;
        let shown = relative_display(dir, &crate::driver::repo_root());
        match stats::spread::check_reference(run, &reference) {
            Ok(seeds) => Ok((
                stats::Bootstrap { reference: Some(std::sync::Arc::new(reference)), ..Default::default() },
                format!(
                    "one seed: every interval is widened by the spread between seeds {} of the same statistic in `{shown}/{table}.per_prompt.csv` (`shared::stats::spread`), so that a one-seed interval also covers what another seed would have trained",
                    stats::seeds::describe(&seeds)
                ),
            )),
            Err(why) => plain(format!("the reference `{shown}` does not match: {why}")),
        }
    }

    /// [`RunInfo::bootstrap`] for several records tables at once (`(name saved under, records)`),
    /// and per table the line "Intervals: …" to print for a one-seed run; `None` for a run of
    /// several seeds, whose legends already say that the bootstrap draws seeds (so committed
    /// multi-seed tables and claims stay as they were).
    pub fn bootstraps<const N: usize>(&self, tables: [(&str, &stats::Records); N]) -> Result<([stats::Bootstrap; N], [Option<String>; N])> {
        let mut boots: [stats::Bootstrap; N] = std::array::from_fn(|_| stats::Bootstrap::default());
        let mut lines: [Option<String>; N] = std::array::from_fn(|_| None);
        for (i, (table, records)) in tables.into_iter().enumerate() {
            let (b, how) = self.bootstrap(table, records)?;
            boots[i] = b;
            lines[i] = (self.seeds.len() == 1).then(|| format!("Intervals: {how}."));
        }
        Ok((boots, lines))
    }

    /// Write `dir/run.md` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join("run.md"), self.to_markdown().as_bytes())
    }

    /// The command that regenerates these tables, recorded with every claim: the scale, the seeds
    /// and the config when it is not the scale's default `papers/<slug>/configs/<scale>.toml`.
    pub fn command(&self, slug: &str) -> String {
        let mut c = format!("cargo xtask reproduce {slug}");
        if self.scale != "mini" {
            c.push_str(&format!(" --scale {}", self.scale));
        }
        if let Some(&first) = self.seeds.first() {
            if first != 0 {
                c.push_str(&format!(" --seed {first}"));
            }
            if self.seeds.len() > 1 {
                c.push_str(&format!(" --seeds {}", self.seeds.len()));
            }
        }
        if !self.config_path.is_empty() && self.config_path != format!("papers/{slug}/configs/{}.toml", self.scale) {
            c.push_str(&format!(" -- --config {}", self.config_path));
        }
        c
    }
}

/// `path` relative to `root` when it lies inside it (for messages and `run.md`), else as given.
pub fn relative_display(path: &Path, root: &Path) -> String {
    let (p, r) = (path.canonicalize().unwrap_or_else(|_| path.to_path_buf()), root.canonicalize().unwrap_or_else(|_| root.to_path_buf()));
    p.strip_prefix(&r).unwrap_or(&p).display().to_string()
}

/// The distinct lines among `lines`, in order (tables without a reference all say the same).
pub fn distinct_notes<'a>(lines: impl IntoIterator<Item = &'a Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for l in lines.into_iter().flatten() {
        if !out.contains(l) {
            out.push(l.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_info_names_seeds_and_the_command() {
        let info = RunInfo { scale: "mini", seeds: &[0], threads: 2, device: "cpu", config_path: "papers/simpo/configs/mini.toml", config_toml: "x = 1\n", reference: None };
        assert!(info.to_markdown().contains("- seed: 0\n"));
        assert_eq!(info.command("simpo"), "cargo xtask reproduce simpo");
        let info = RunInfo { scale: "smoke", seeds: &[3, 4, 5], threads: 2, device: "cpu", config_path: "papers/simpo/configs/mini-oracle.toml", config_toml: "", reference: None };
        assert!(info.to_markdown().contains("- seeds: 3, 4, 5 (3 seeds)\n"));
        assert_eq!(info.command("simpo"), "cargo xtask reproduce simpo --scale smoke --seed 3 --seeds 3 -- --config papers/simpo/configs/mini-oracle.toml");
    }

    /// The wiring every trained paper uses: a one-seed run whose reference folder holds the
    /// table's records over three seeds gets a bootstrap carrying them (wider intervals) and a
    /// note per table; a table the reference lacks stays plain, saying why; a run of several
    /// seeds gets plain bootstraps and no notes.
    #[test]
    fn bootstraps_widen_one_seed_runs_against_a_reference() {
        let records = |seeds: std::ops::Range<u64>| {
            let mut r = stats::Records::new(&["v"]);
            for s in seeds {
                for p in 0..40u32 {
                    let v = f64::from(p % 7) / 7.0 + 0.3 * s as f64;
                    r.push(s, "A", p.to_string(), 0, &[v]).unwrap();
                }
            }
            r
        };
        let dir = tempfile::tempdir().unwrap();
        records(0..3).save(dir.path(), "eval").unwrap();
        let run = records(0..1);
        let one = RunInfo { scale: "mini", seeds: &[0], threads: 2, device: "cpu", config_path: "c.toml", config_toml: "", reference: Some(dir.path()) };
        let ([wide, plain], lines) = one.bootstraps([("eval", &run), ("other", &run)]).unwrap();
        assert!(wide.reference.is_some() && plain.reference.is_none());
        let (w, p) = (wide.mean_of(&run, "A", "v").unwrap(), plain.mean_of(&run, "A", "v").unwrap());
        assert!(w.lo < p.lo && w.hi > p.hi, "{w:?} vs {p:?}");
        assert!(lines[0].as_deref().unwrap().contains("widened by the spread between seeds 0, 1, 2"), "{lines:?}");
        assert!(lines[1].as_deref().unwrap().contains("no other.per_prompt.csv"), "{lines:?}");
        assert_eq!(distinct_notes(&lines).len(), 2);
        let three = RunInfo { seeds: &[0, 1, 2], ..one };
        let ([b], lines) = three.bootstraps([("eval", &records(0..3))]).unwrap();
        assert!(b.reference.is_none() && lines[0].is_none());
    }

    #[test]
    fn markdown_and_csv_agree_on_values() {
        let mut t = Table::new("demo", &["model", "win rate"]);
        t.push(vec!["a".into(), Cell::NumSe(50.0, 1.234, 2)]);
        t.push(vec!["b".into(), Cell::Missing]);
        assert!(t.to_markdown().contains("| a | 50.00 ± 1.23 |"));
        assert_eq!(t.to_csv(), "model,win rate,win rate_se\na,50.00,1.23\nb,,\n");
    }
}
