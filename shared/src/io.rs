//! Files: atomic writes (write to a temporary sibling, then rename), and reading
//! JSON that may be stored plain or gzip-compressed (`x.json` or `x.json.gz`).

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Deserialize an `f64` that may be JSON `null`, which is how serde_json writes NaN (a mean over
/// nothing, a score a method does not have): use as `#[serde(deserialize_with = "shared::io::nan_if_null")]`
/// on statistics a run saves and reads back.
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    let v: Option<f64> = serde::Deserialize::deserialize(d)?;
    Ok(v.unwrap_or(f64::NAN))
}

/// Write `bytes` to `path` atomically: readers see the old file or the new one, never half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = tmp_sibling(path);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The temporary name used by [`write_atomic`] (and by checkpoint writers).
pub fn tmp_sibling(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Resolve `x.json` to whichever of `x.json` / `x.json.gz` exists.
pub fn resolve_maybe_gz(path: &Path) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    gz.exists().then_some(gz)
}

/// Read a file's bytes, decompressing if its name ends in `.gz`. A truncated or
/// corrupt gzip stream is an error naming the file.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let real = resolve_maybe_gz(path).ok_or_else(|| {
        Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "not found (looked for it plain and as .gz)"))
    })?;
    let bytes = std::fs::read(&real).map_err(|e| Error::io(&real, e))?;
    if real.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out).map_err(|e| {
            Error::io(&real, std::io::Error::new(e.kind(), format!("corrupt or truncated gzip: {e}")))
        })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Parse JSON from a plain or gzip-compressed file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read_maybe_gz(path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json { path: path.to_path_buf(), msg: e.to_string() })
}

/// Serialise to pretty JSON and write atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Json { path: path.to_path_buf(), msg: e.to_string() })?;
    write_atomic(path, text.as_bytes())
}

/// Where external data lives: `REPRO_DATA` (set by `cargo xtask`), else the
/// reference mirror `../shared/data` beside the checkout.
pub fn data_root() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("REPRO_DATA") {
        return Some(PathBuf::from(d));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.parent()?.join("shared/data");
    here.is_dir().then_some(here)
}

/// Run a third-party parser that can panic on malformed input, turning a panic into an error
/// naming `path`. Found by the loader property tests: parquet 57's thrift footer decoder
/// (`Option::unwrap` on a corrupt footer) and tokenizers 0.21's decoder deserialiser
/// (`expect("Helper")` on a truncated `decoder` object).
pub fn guard_parser<T>(path: &Path, what: &str, parse: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).unwrap_or_else(|panic| {
        let msg = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
        Err(Error::invalid(path.display().to_string(), format!("is not a readable {what} (its parser failed: {msg}); it may be truncated or corrupt")))
    })
}

/// Read a TOML config file into `T` (whose serde attributes reject unknown keys); a missing file
/// or a parse error (unknown key, wrong type, missing field) is an error naming the file.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    toml::from_str(&text).map_err(|e| Error::Config { path: path.to_path_buf(), msg: e.to_string() })
}

/// Read a TOML config ([`read_toml`]: a wrong key is an error naming it and the file), then check
/// it with `validate`, whose error is reported under "invalid config <path>". A paper's
/// `MiniConfig::load` is this one call.
pub fn load_config<T: serde::de::DeserializeOwned, E: Into<anyhow::Error>>(path: &Path, validate: impl FnOnce(&T) -> std::result::Result<(), E>) -> anyhow::Result<T> {
    use anyhow::Context;
    let cfg: T = read_toml(path)?;
    validate(&cfg).map_err(Into::into).with_context(|| format!("invalid config {}", path.display()))?;
    Ok(cfg)
}

/// For config tests: load `file` with its key `key` misspelt as `typo` (written to a scratch
/// folder) and check that the error names the misspelt key; returns the error's text.
pub fn assert_typo_named<T>(file: &Path, key: &str, typo: &str, load: impl FnOnce(&Path) -> anyhow::Result<T>) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(text.contains(key), "{} has no `{key}` to misspell", file.display());
    let dir = tempfile::tempdir().expect("a scratch folder");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace(key, typo)).expect("writing the misspelt config");
    let e = match load(&bad) {
        Ok(_) => panic!("{} with `{key}` misspelt `{typo}` loaded", file.display()),
        Err(e) => format!("{e:#}"),
    };
    assert!(e.contains(typo), "the error does not name `{typo}`: {e}");
    e
}

/// A config's paths that start with `.` are relative to the config file's folder: rewrite them
/// so (hub ids and absolute paths stay as they are).
pub fn rebase_relative(config: &Path, paths: &mut [&mut String]) {
    let base = config.parent().unwrap_or(Path::new("."));
    for p in paths.iter_mut() {
        if p.starts_with('.') {
            **p = base.join(p.as_str()).display().to_string();
        }
    }
}

/// A fetched data file or folder, `rel` under the data root (its first component is the dataset,
/// e.g. `alpaca_eval/notebooks/benchmarks.csv`), stored plain or as `.gz`. Missing data is an
/// error naming the path and the command that fetches it. Returns the path as named (readers
/// such as [`read_maybe_gz`] find the `.gz` themselves).
pub fn fetched(rel: impl AsRef<Path>) -> Result<PathBuf> {
    let rel = rel.as_ref();
    let dataset = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    let how = format!("fetch it with `cargo xtask fetch {dataset}` (`cargo xtask test` fetches every dataset and sets REPRO_DATA)");
    let Some(root) = data_root() else {
        return Err(Error::invalid(rel.display().to_string(), format!("is missing: there is no data folder (REPRO_DATA is unset and no ../shared/data mirror); {how}")));
    };
    let path = root.join(rel);
    if path.exists() || resolve_maybe_gz(&path).is_some() {
        Ok(path)
    } else {
        Err(Error::invalid(path.display().to_string(), format!("is missing; {how}")))
    }
}

/// [`fetched`] for tests: panics with its message, so a test that needs data fails (and says
/// how to fetch it) instead of passing without it.
#[track_caller]
pub fn require_fetched(rel: impl AsRef<Path>) -> PathBuf {
    match fetched(rel) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fetched_data_names_the_file_and_the_fetch_command() {
        let e = fetched("alpaca_eval/no/such/file.json").unwrap_err().to_string();
        assert!(e.contains("no/such/file.json") && e.contains("cargo xtask fetch alpaca_eval"), "{e}");
        let p = std::panic::catch_unwind(|| require_fetched("wildbench/none.json")).unwrap_err();
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("wildbench/none.json") && msg.contains("cargo xtask fetch wildbench"), "{msg}");
    }
}
