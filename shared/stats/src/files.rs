//! Files: atomic writes, CSV text in and out (plain, or gzip-compressed above a size limit), and
//! the one number format every statistics file uses.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Above this many bytes a per-prompt CSV is written gzip-compressed (`.csv.gz`).
pub const GZIP_ABOVE_BYTES: usize = 2_000_000;

/// Write `bytes` to `path` atomically (a temporary sibling, then a rename): readers see the old
/// file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Write CSV text to `path` (which ends in `.csv`), or gzip-compressed to `path.gz` when the text
/// is larger than [`GZIP_ABOVE_BYTES`]; the other form, if left over from an earlier run, is
/// removed. Returns the path written. The gzip header carries no time stamp, so equal text gives
/// equal bytes.
pub fn write_csv_maybe_gz(path: &Path, text: &str) -> Result<PathBuf> {
    let gz = gz_path(path);
    let (written, stale) = if text.len() > GZIP_ABOVE_BYTES {
        let mut enc = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
        enc.write_all(text.as_bytes()).map_err(|e| Error::io(&gz, e))?;
        let bytes = enc.finish().map_err(|e| Error::io(&gz, e))?;
        write_atomic(&gz, &bytes)?;
        (gz, path.to_path_buf())
    } else {
        write_atomic(path, text.as_bytes())?;
        (path.to_path_buf(), gz)
    };
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    Ok(written)
}

/// `x.csv` → `x.csv.gz`.
pub fn gz_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gz", path.display()))
}

/// Read text from `path` or, when only that exists, from `path.gz`. Returns the file actually
/// read with its text. A missing file, invalid UTF-8 or a truncated gzip stream is an error naming
/// the file.
pub fn read_text_maybe_gz(path: &Path) -> Result<(PathBuf, String)> {
    let gz = gz_path(path);
    let real = if path.exists() {
        path.to_path_buf()
    } else if gz.exists() {
        gz
    } else {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "not found (looked for it plain and as .gz)")));
    };
    let bytes = std::fs::read(&real).map_err(|e| Error::io(&real, e))?;
    let bytes = if real.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::io(&real, std::io::Error::new(e.kind(), format!("corrupt or truncated gzip: {e}"))))?;
        out
    } else {
        bytes
    };
    let text = String::from_utf8(bytes).map_err(|e| Error::invalid(real.display().to_string(), format!("not UTF-8 text: {e}")))?;
    Ok((real, text))
}

/// Every record of a CSV text with its 1-based line number (the header is line 1), the header
/// first. `path` only names the file in errors.
pub fn csv_rows(path: &Path, text: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut out = vec![];
    for rec in r.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            Error::csv(path, line, format!("unreadable CSV: {e}"))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        out.push((line, rec.iter().map(|s| s.to_string()).collect()));
    }
    Ok(out)
}

/// CSV text from rows of fields (quoting where needed).
pub fn csv_text(rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(vec![]);
    for r in rows {
        w.write_record(&r).expect("writing CSV to memory cannot fail");
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields is UTF-8")
}

/// The number format of every statistics file: six significant digits, written in the shortest
/// form that reads back to the same rounded value (`0.0123457`, `-3.5`, `1200`). Six digits keep
/// a win rate to 1e-4 points, more than any interval resolves, and make the files identical
/// across machines whose last floating-point bits differ.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let rounded: f64 = format!("{x:.5e}").parse().expect("a formatted float parses");
    if rounded == 0.0 {
        "0".into()
    } else {
        format!("{rounded}")
    }
}

/// Parse a number field; `what` names the column in the error.
pub fn parse_num(path: &Path, line: usize, what: &str, s: &str) -> Result<f64> {
    let v: f64 = s.trim().parse().map_err(|_| Error::csv(path, line, format!("{what} {s:?} is not a number")))?;
    if !v.is_finite() {
        return Err(Error::csv(path, line, format!("{what} {s:?} is not finite")));
    }
    Ok(v)
}

/// Parse an optional number field (empty = none).
pub fn parse_opt_num(path: &Path, line: usize, what: &str, s: &str) -> Result<Option<f64>> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_num(path, line, what, s).map(Some)
    }
}

/// An optional number as a field (none = empty).
pub fn fmt_opt(x: Option<f64>) -> String {
    x.map(fmt_num).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_six_significant_digits() {
        assert_eq!(fmt_num(0.012345678), "0.0123457");
        assert_eq!(fmt_num(-3.5), "-3.5");
        assert_eq!(fmt_num(1234567.0), "1234570");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(1.4e-10), "0.00000000014");
        assert_eq!(fmt_num(58.71234), "58.7123");
    }

    #[test]
    fn large_csv_goes_gzipped_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.per_prompt.csv");
        let small = "a,b\n1,2\n";
        assert_eq!(write_csv_maybe_gz(&path, small).unwrap(), path);
        let big = "x\n".to_string() + &"0.123456789\n".repeat(GZIP_ABOVE_BYTES / 12 + 10);
        let written = write_csv_maybe_gz(&path, &big).unwrap();
        assert_eq!(written, gz_path(&path));
        assert!(!path.exists(), "the stale plain file is removed");
        let (real, text) = read_text_maybe_gz(&path).unwrap();
        assert_eq!((real, text), (gz_path(&path), big.clone()));
        // Deterministic bytes: the same text gives the same file.
        let first = std::fs::read(gz_path(&path)).unwrap();
        write_csv_maybe_gz(&path, &big).unwrap();
        assert_eq!(first, std::fs::read(gz_path(&path)).unwrap());
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let big = "x\n".to_string() + &"1\n".repeat(GZIP_ABOVE_BYTES);
        write_csv_maybe_gz(&path, &big).unwrap();
        let gz = gz_path(&path);
        let bytes = std::fs::read(&gz).unwrap();
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_text_maybe_gz(&path).unwrap_err().to_string();
        assert!(e.contains("t.csv.gz") && e.contains("gzip"), "{e}");
    }
}
