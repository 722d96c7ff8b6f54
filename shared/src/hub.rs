//! Hugging Face hub access: hub ids through hf-hub and the standard cache (offline works), or a local folder.
//!
//! A model is named either by a local folder (always accepted, never touches the network) or by a
//! hub id `owner/name` with an optional `@revision`. Hub files come from the standard cache
//! (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`), so a cache filled by
//! Python's `huggingface_hub` is reused; missing files are downloaded unless `HF_HUB_OFFLINE` is set.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where a model's files come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Local(PathBuf),
    Hub { repo: String, revision: String, cache: PathBuf, offline: bool },
}

/// Hub settings normally read from the environment (explicit for tests).
#[derive(Debug, Clone, PartialEq)]
pub struct HubSettings {
    pub cache: PathBuf,
    pub offline: bool,
}

impl HubSettings {
    /// `HF_HUB_CACHE` / `HF_HOME` / home folder for the cache; `HF_HUB_OFFLINE` for offline mode.
    pub fn from_env() -> Result<Self> {
        let cache = if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
            PathBuf::from(p)
        } else if let Some(p) = std::env::var_os("HF_HOME") {
            PathBuf::from(p).join("hub")
        } else if let Some(h) = std::env::var_os("HOME") {
            PathBuf::from(h).join(".cache/huggingface/hub")
        } else {
            return Err(Error::invalid("HF cache", "none of HF_HUB_CACHE, HF_HOME, HOME is set; set HF_HUB_CACHE"));
        };
        let offline = std::env::var("HF_HUB_OFFLINE")
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false);
        Ok(Self { cache, offline })
    }
}

/// Resolve `spec` (a folder, or a hub id `owner/name[@revision]`) with settings from the environment.
pub fn resolve(spec: &str) -> Result<Source> {
    let looks_local = spec.starts_with('/') || spec.starts_with('.') || spec.starts_with('~') || Path::new(spec).exists();
    if looks_local {
        return resolve_with(spec, &HubSettings { cache: PathBuf::new(), offline: true });
    }
    resolve_with(spec, &HubSettings::from_env()?)
}

/// Resolve `spec` with explicit hub settings.
pub fn resolve_with(spec: &str, settings: &HubSettings) -> Result<Source> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Source::Local(path.to_path_buf()));
    }
    if spec.starts_with('/') || spec.starts_with('.') || spec.starts_with('~') || path.exists() {
        return Err(Error::invalid(spec, "is not a folder; give a model folder (config.json, tokenizer.json, *.safetensors) or a hub id owner/name"));
    }
    let (repo, revision) = match spec.split_once('@') {
        Some((r, rev)) => (r, rev),
        None => (spec, "main"),
    };
    let valid = !repo.is_empty()
        && repo.split('/').count() <= 2
        && repo.split('/').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        && !revision.is_empty();
    if !valid {
        return Err(Error::invalid(spec, "is neither an existing folder nor a hub id of the form owner/name[@revision]"));
    }
    Ok(Source::Hub { repo: repo.into(), revision: revision.into(), cache: settings.cache.clone(), offline: settings.offline })
}

impl Source {
    /// A short name for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Local(p) => p.display().to_string(),
            Source::Hub { repo, revision, .. } => format!("{repo}@{revision}"),
        }
    }

    /// The local path of `name`, downloading it (hub, online) if needed; an error says how to provide it.
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        self.optional_file(name)?.ok_or_else(|| self.missing(name))
    }

    fn missing(&self, name: &str) -> Error {
        match self {
            Source::Local(dir) => Error::invalid(
                format!("{}/{name}", dir.display()),
                format!("is missing; copy {name} of the model into {}", dir.display()),
            ),
            Source::Hub { repo, revision, cache, offline: true } => Error::invalid(
                format!("{repo}@{revision}: {name}"),
                format!(
                    "is not in the Hugging Face cache {} and HF_HUB_OFFLINE is set; run `huggingface-cli download {repo} {name}` where there is network, or unset HF_HUB_OFFLINE, or pass a local folder",
                    cache.display()
                ),
            ),
            Source::Hub { repo, revision, .. } => Error::invalid(
                format!("{repo}@{revision}: {name}"),
                "does not exist in the repository (or could not be downloaded); check the id, or pass a local folder holding the file",
            ),
        }
    }

    /// Like [`Source::file`] but `Ok(None)` when the file does not exist.
    pub fn optional_file(&self, name: &str) -> Result<Option<PathBuf>> {
        match self {
            Source::Local(dir) => {
                let p = dir.join(name);
                Ok(p.exists().then_some(p))
            }
            Source::Hub { repo, revision, cache, offline } => {
                if let Some(p) = cached_file(cache, repo, revision, name) {
                    return Ok(Some(p));
                }
                if *offline {
                    return Ok(None);
                }
                let quiet = std::env::var_os("REPRO_QUIET").is_some();
                let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(cache.clone()))
                    .with_progress(!quiet)
                    .build()
                    .map_err(|e| Error::invalid("hf-hub", e.to_string()))?;
                let r = hf_hub::Repo::with_revision(repo.clone(), hf_hub::RepoType::Model, revision.clone());
                match api.repo(r).get(name) {
                    Ok(p) => Ok(Some(p)),
                    Err(e) if e.to_string().contains("404") => Ok(None),
                    Err(e) => Err(Error::invalid(
                        format!("{repo}@{revision}: {name}"),
                        format!("download failed ({e}); check the network and HF_TOKEN for gated models, or set HF_HUB_OFFLINE=1 to use the cache only, or pass a local folder"),
                    )),
                }
            }
        }
    }

    /// The safetensors weight files (single or sharded).
    pub fn weight_files(&self) -> Result<Vec<PathBuf>> {
        if let Source::Local(dir) = self {
            return crate::model::weights::weight_files(dir);
        }
        if let Some(index) = self.optional_file("model.safetensors.index.json")? {
            #[derive(serde::Deserialize)]
            struct Index {
                weight_map: std::collections::BTreeMap<String, String>,
            }
            let idx: Index = crate::io::read_json(&index)?;
            let shards: std::collections::BTreeSet<String> = idx.weight_map.into_values().collect();
            return shards.iter().map(|s| self.file(s)).collect();
        }
        Ok(vec![self.file("model.safetensors")?])
    }
}

/// A file of a *dataset* repository: `spec` is a local folder laid out like the repository, or a
/// hub dataset id `owner/name[@revision]` read through the standard cache
/// (`datasets--owner--name/...`), downloaded with `RepoType::Dataset` unless `HF_HUB_OFFLINE` is set.
pub fn dataset_file(spec: &str, name: &str) -> Result<PathBuf> {
    let src = resolve(spec)?;
    let (repo, revision, cache, offline) = match &src {
        Source::Local(dir) => {
            let p = dir.join(name);
            return if p.exists() {
                Ok(p)
            } else {
                Err(Error::invalid(format!("{}/{name}", dir.display()), "is missing; the dataset folder must hold the repository's files at their paths (e.g. data/train-*.parquet)"))
            };
        }
        Source::Hub { repo, revision, cache, offline } => (repo, revision, cache, *offline),
    };
    if let Some(p) = cached_in(cache, "datasets", repo, revision, name) {
        return Ok(p);
    }
    let what = format!("dataset {repo}@{revision}: {name}");
    if offline {
        return Err(Error::invalid(what, format!("is not in the Hugging Face cache {} and HF_HUB_OFFLINE is set; run `huggingface-cli download --repo-type dataset {repo} {name}` where there is network, or pass a local folder", cache.display())));
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(cache.clone()))
        .with_progress(std::env::var_os("REPRO_QUIET").is_none())
        .build()
        .map_err(|e| Error::invalid("hf-hub", e.to_string()))?;
    let r = hf_hub::Repo::with_revision(repo.clone(), hf_hub::RepoType::Dataset, revision.clone());
    api.repo(r).get(name).map_err(|e| {
        Error::invalid(what, format!("download failed ({e}); check the dataset id and file name, the network and HF_TOKEN, or pass a local folder"))
    })
}

/// A file of the standard cache layout: `models--owner--name/snapshots/<commit>/<file>`, the commit
/// read from `refs/<revision>` unless the revision is itself a commit hash.
fn cached_file(cache: &Path, repo: &str, revision: &str, name: &str) -> Option<PathBuf> {
    cached_in(cache, "models", repo, revision, name)
}

/// [`cached_file`] for a repository kind (`models` or `datasets`).
fn cached_in(cache: &Path, kind: &str, repo: &str, revision: &str, name: &str) -> Option<PathBuf> {
    let root = cache.join(format!("{kind}--{}", repo.replace('/', "--")));
    let commit = if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
        revision.to_string()
    } else {
        std::fs::read_to_string(root.join("refs").join(revision)).ok()?.trim().to_string()
    };
    let p = root.join("snapshots").join(commit).join(name);
    p.exists().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_cache() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let root = dir.path().join("models--acme--tiny");
        std::fs::create_dir_all(root.join("refs")).unwrap();
        std::fs::write(root.join("refs/main"), commit).unwrap();
        let snap = root.join("snapshots").join(commit);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        dir
    }

    #[test]
    fn local_folder_is_accepted_and_missing_files_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let s = resolve(dir.path().to_str().unwrap()).unwrap();
        assert!(matches!(s, Source::Local(_)));
        assert!(s.file("config.json").unwrap().ends_with("config.json"));
        let e = s.file("tokenizer.json").unwrap_err().to_string();
        assert!(e.contains("tokenizer.json") && e.contains("missing"), "{e}");
        assert!(s.optional_file("generation_config.json").unwrap().is_none());
    }

    #[test]
    fn offline_hub_ids_read_the_standard_cache() {
        let cache = fake_cache();
        let settings = HubSettings { cache: cache.path().to_path_buf(), offline: true };
        let s = resolve_with("acme/tiny", &settings).unwrap();
        assert!(s.file("config.json").unwrap().to_string_lossy().contains("snapshots"));
        let e = s.file("tokenizer.json").unwrap_err().to_string();
        assert!(e.contains("acme/tiny@main") && e.contains("tokenizer.json") && e.contains("HF_HUB_OFFLINE"), "{e}");
        let pinned = resolve_with("acme/tiny@0123456789abcdef0123456789abcdef01234567", &settings).unwrap();
        assert!(pinned.file("config.json").is_ok());
        assert!(resolve_with("acme/tiny@v2", &settings).unwrap().file("config.json").is_err());
    }

    #[test]
    fn dataset_files_come_from_a_folder_or_the_datasets_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/train.parquet"), b"x").unwrap();
        assert!(dataset_file(dir.path().to_str().unwrap(), "data/train.parquet").is_ok());
        let e = dataset_file(dir.path().to_str().unwrap(), "data/test.parquet").unwrap_err().to_string();
        assert!(e.contains("data/test.parquet") && e.contains("missing"), "{e}");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let root = dir.path().join("datasets--acme--prefs");
        std::fs::create_dir_all(root.join("refs")).unwrap();
        std::fs::write(root.join("refs/main"), commit).unwrap();
        std::fs::create_dir_all(root.join("snapshots").join(commit).join("data")).unwrap();
        std::fs::write(root.join("snapshots").join(commit).join("data/train.parquet"), b"x").unwrap();
        assert!(cached_in(dir.path(), "datasets", "acme/prefs", "main", "data/train.parquet").is_some());
        assert!(cached_in(dir.path(), "models", "acme/prefs", "main", "data/train.parquet").is_none());
    }

    #[test]
    fn bad_specs_are_errors() {
        let settings = HubSettings { cache: PathBuf::from("/nonexistent"), offline: true };
        assert!(resolve_with("./no/such/folder", &settings).is_err());
        assert!(resolve_with("a/b/c", &settings).is_err());
        assert!(resolve_with("bad id", &settings).is_err());
    }
}
