//! Frozen references: any model whose log-probs an objective's log-ratios are taken against (the
//! initial policy, the previous iterate, a DPO model for token rewards, ...), named by role.
//!
//! A reference's log-probs of a dataset are computed once, without gradients, before training,
//! and cached on disk as `<cache_dir>/ref-<key>.json`; the key hashes a cheap fingerprint of the
//! weights ([`fingerprint`]), the tokenizer id, every token id of the (truncated) examples and
//! whether per-token values were asked for. So the reference model need not be held in memory
//! while training, a rerun reads the cache, and a change of model or data never reuses stale
//! values. A mixture of references (INPO's geometric mix of the initial and the previous policy)
//! is computed by its objective from the cached log-probs of each.

use super::example::Example;
use super::scoring::score_all;
use crate::error::{Error, Result};
use crate::model::Llama;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

/// A frozen model lent to the trainer under a role name.
#[derive(Clone, Copy)]
pub struct Frozen<'a> {
    pub model: &'a Llama,
    pub vs: &'a VarStore,
}

/// One role's log-probs of every example (aligned with the training examples).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefLogps {
    pub key: String,
    /// `[n][K]` summed response log-probs.
    pub seq: Vec<Vec<f64>>,
    /// `[n][K][len]` per-token log-probs (when asked for).
    #[serde(default)]
    pub tokens: Option<Vec<Vec<Vec<f32>>>>,
}

/// Cached log-probs by role.
pub type References = BTreeMap<String, RefLogps>;

/// A cheap and sufficient fingerprint of a model's weights: per variable, its name, shape and
/// dtype, its sum and sum of squares (one device reduction each) and a strided sample of at most
/// 64 values, bit for bit. Two different trained models do not collide in practice; the cost is
/// independent of the host (no copy of the weights).
pub fn fingerprint(vs: &VarStore) -> String {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (name, t) in vars {
        h.update(name.as_bytes());
        h.update(format!("{:?}{:?}", t.size(), t.kind()).as_bytes());
        let flat = t.detach().flatten(0, -1);
        let n = flat.size()[0];
        let f = flat.to_kind(Kind::Double);
        for v in [f.sum(Kind::Double).double_value(&[]), f.square().sum(Kind::Double).double_value(&[])] {
            h.update(v.to_le_bytes());
        }
        let step = (n / 64).max(1);
        let sample = flat.slice(0, 0, n, step).to_kind(Kind::Double).to_device(tch::Device::Cpu);
        if let Ok(v) = Vec::<f64>::try_from(&sample) {
            for x in v {
                h.update(x.to_le_bytes());
            }
        }
    }
    format!("{:x}", h.finalize())
}

/// The cache key of a reference's log-probs of `examples`.
pub fn cache_key(weights: &str, examples: &[Example], k: usize, token_level: bool, tokenizer_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(weights.as_bytes());
    h.update(tokenizer_id.as_bytes());
    h.update([token_level as u8]);
    h.update((k as u64).to_le_bytes());
    for e in examples {
        for seq in std::iter::once(&e.prompt).chain(&e.responses[..k.min(e.responses.len())]) {
            h.update((seq.len() as u64).to_le_bytes());
            for id in seq {
                h.update(id.to_le_bytes());
            }
        }
    }
    format!("{:x}", h.finalize())
}

/// Log-probs of the first `k` responses of every example under `frozen`, read from
/// `cache_dir` or computed in micro-batches of `micro` (no gradients) and cached there.
/// `examples` must already be truncated as training will see them.
#[allow(clippy::too_many_arguments)]
pub fn logps(frozen: Frozen, examples: &[Example], k: usize, micro: usize, token_level: bool, pad: i64, tokenizer_id: &str, cache_dir: &Path, role: &str) -> Result<RefLogps> {
    let key = cache_key(&fingerprint(frozen.vs), examples, k, token_level, tokenizer_id);
    let path = cache_dir.join(format!("ref-{}.json", &key[..24]));
    if path.exists() {
        match crate::io::read_json::<RefLogps>(&path) {
            Ok(c) if c.key == key && c.seq.len() == examples.len() => return Ok(c),
            Ok(_) => {}
            Err(e) => eprintln!("    note: recomputing the unreadable reference cache {} ({e})", path.display()),
        }
    }
    let (seq, tokens) = score_all(frozen.model, examples, k, micro, token_level, pad, role)?;
    if let Some((i, _)) = seq.iter().enumerate().find(|(_, v)| v.iter().any(|x| !x.is_finite())) {
        return Err(Error::invalid(format!("reference `{role}`"), format!("non-finite log-prob for example {i}: check the reference weights")));
    }
    let out = RefLogps { key, seq, tokens };
    crate::io::write_json(&path, &out)?;
    Ok(out)
}

/// The cached log-probs of every role `roles` names, each computed from the model lent under
/// that role. A role without a model is an error naming it.
#[allow(clippy::too_many_arguments)]
pub fn for_roles(roles: &[String], models: &BTreeMap<String, Frozen>, examples: &[Example], k: usize, micro: usize, token_level: bool, pad: i64, tokenizer_id: &str, cache_dir: &Path) -> Result<References> {
    let mut out = References::new();
    for role in roles {
        let frozen = models.get(role).ok_or_else(|| Error::invalid("trainer", format!("the objective needs a `{role}` reference model and none was given")))?;
        out.insert(role.clone(), logps(*frozen, examples, k, micro, token_level, pad, tokenizer_id, cache_dir, role)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tiny;

    #[test]
    fn cached_once_reused_and_keyed_by_weights_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let (vs, m) = tiny::model(&tiny::config("llama", 30, 16, 32, 1, 2), 0);
        let data = vec![Example::pair(vec![1, 2], vec![3, 4], vec![5]), Example::pair(vec![6], vec![7], vec![8, 9])];
        let f = Frozen { model: &m, vs: &vs };
        let a = logps(f, &data, 2, 1, false, 0, "t", dir.path(), "reference").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let b = logps(f, &data, 2, 2, false, 0, "t", dir.path(), "reference").unwrap();
        assert_eq!(a, b, "read back from the cache");
        let mut other = data.clone();
        other[0].responses[0].push(3);
        assert_ne!(logps(f, &other, 2, 1, false, 0, "t", dir.path(), "reference").unwrap().key, a.key);
        let (vs2, m2) = tiny::model(&tiny::config("llama", 30, 16, 32, 1, 2), 1);
        assert_ne!(fingerprint(&vs2), fingerprint(&vs));
        let c = logps(Frozen { model: &m2, vs: &vs2 }, &data, 2, 1, false, 0, "t", dir.path(), "reference").unwrap();
        assert_ne!(c.seq, a.seq);
        // A corrupt cache file is recomputed, not trusted.
        let p = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        std::fs::write(&p, b"{broken").unwrap();
        let keys: Vec<String> = [a.key.clone(), c.key.clone()].into();
        let again = logps(if p.to_string_lossy().contains(&a.key[..24]) { f } else { Frozen { model: &m2, vs: &vs2 } }, &data, 2, 1, false, 0, "t", dir.path(), "reference").unwrap();
        assert!(keys.contains(&again.key));
        let missing = for_roles(&["initial".to_string()], &BTreeMap::new(), &data, 2, 1, false, 0, "t", dir.path()).unwrap_err().to_string();
        assert!(missing.contains("`initial`"), "{missing}");
    }
}
