//! A content-addressed on-disk cache of API calls: the key is the sha256 of the endpoint, the
//! request body (model and every option included) and an optional namespace; the entry is the
//! request and the response as JSON, written atomically under `<dir>/<key[..2]>/<key>.json`.
//!
//! So a rerun of an evaluation costs nothing, and an interrupted one resumes where it stopped:
//! every finished call is on disk, the next run finds it. The base URL is not in the key: the
//! same model name at another address is the same judge (give different judges different names,
//! or a namespace). A corrupt entry (e.g. a disk that filled up) is treated as missing.

use crate::error::Result;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
    pub namespace: String,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>, namespace: &str) -> Self {
        Cache { dir: dir.into(), namespace: namespace.to_string() }
    }

    /// The key of one call: sha256 over namespace, endpoint and the body's JSON (object keys in
    /// sorted order, so the same request always hashes the same).
    pub fn key(&self, endpoint: &str, body: &Value) -> String {
        let mut h = Sha256::new();
        h.update(self.namespace.as_bytes());
        h.update(b"\n");
        h.update(endpoint.as_bytes());
        h.update(b"\n");
        h.update(canonical(body).as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The cached response, if a readable entry exists.
    pub fn get(&self, endpoint: &str, body: &Value) -> Option<Value> {
        let p = self.path(&self.key(endpoint, body));
        let bytes = std::fs::read(&p).ok()?;
        let entry: Value = serde_json::from_slice(&bytes).ok()?;
        entry.get("response").cloned()
    }

    pub fn put(&self, endpoint: &str, body: &Value, response: &Value) -> Result<()> {
        let p = self.path(&self.key(endpoint, body));
        let entry = serde_json::json!({"endpoint": endpoint, "request": body, "response": response});
        crate::io::write_atomic(&p, entry.to_string().as_bytes())
    }

    /// Number of entries (for reports and tests).
    pub fn len(&self) -> usize {
        count_json(&self.dir)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn count_json(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_json(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "json"))
            }
        })
        .sum()
}

/// JSON with object keys sorted at every level (serde_json's default map is already sorted;
/// this makes it explicit and independent of that feature).
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k]))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_request_same_key_any_key_order() {
        let c = Cache::new("/tmp/x", "");
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0});
        let b: Value = serde_json::from_str(r#"{"temperature":0.0,"messages":[{"content":"hi","role":"user"}],"model":"m"}"#).unwrap();
        assert_eq!(c.key("/v1/chat/completions", &a), c.key("/v1/chat/completions", &b));
        assert_ne!(c.key("/v1/chat/completions", &a), c.key("/v1/completions", &a));
        assert_ne!(c.key("/v1/chat/completions", &a), Cache::new("/tmp/x", "other").key("/v1/chat/completions", &a));
    }

    #[test]
    fn round_trip_and_corrupt_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path(), "ns");
        let req = json!({"model": "m"});
        assert!(c.get("/e", &req).is_none());
        c.put("/e", &req, &json!({"ok": 1})).unwrap();
        assert_eq!(c.get("/e", &req).unwrap(), json!({"ok": 1}));
        assert_eq!(c.len(), 1);
        std::fs::write(c.path(&c.key("/e", &req)), b"{trunc").unwrap();
        assert!(c.get("/e", &req).is_none());
    }
}
