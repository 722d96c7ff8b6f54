//! What a training batch holds: one prompt, one to K responses, named per-example side data and
//! optional per-token weights. Pairs are `K = 2` (chosen, rejected); SPPO's targets, DNO's
//! margins, LCPO's posterior weights ride along as side data; TGDPO's token rewards as token
//! weights. Every id is a token id of the model's tokenizer (the prompt already rendered with its
//! chat template).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub prompt: Vec<i64>,
    /// One or more responses; for pairs `[chosen, rejected]`.
    pub responses: Vec<Vec<i64>>,
    /// Named scalars an objective reads (`target_w`, `weight`, ...); see [`super::Needs::side`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub side: BTreeMap<String, f64>,
    /// Per-token weights, one vector per response, each as long as its response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_weights: Option<Vec<Vec<f32>>>,
}

impl Example {
    pub fn new(prompt: Vec<i64>, responses: Vec<Vec<i64>>) -> Self {
        Example { prompt, responses, ..Default::default() }
    }

    /// A preference pair: responses `[chosen, rejected]`.
    pub fn pair(prompt: Vec<i64>, chosen: Vec<i64>, rejected: Vec<i64>) -> Self {
        Self::new(prompt, vec![chosen, rejected])
    }

    /// Add a named side value.
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.side.insert(name.to_string(), value);
        self
    }

    /// Check the example is trainable; `index` names it in errors.
    pub fn validate(&self, index: usize) -> Result<()> {
        let what = || format!("training example {index}");
        if self.prompt.is_empty() {
            return Err(Error::invalid(what(), "empty prompt: the first response token has no context (add a BOS token)"));
        }
        if self.responses.is_empty() {
            return Err(Error::invalid(what(), "no responses"));
        }
        if let Some(k) = self.responses.iter().position(|r| r.is_empty()) {
            return Err(Error::invalid(what(), format!("response {k} is empty: nothing to score; drop this example")));
        }
        if let Some((name, v)) = self.side.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::invalid(what(), format!("side value `{name}` is {v}")));
        }
        if let Some(w) = &self.token_weights {
            if w.len() != self.responses.len() || w.iter().zip(&self.responses).any(|(w, r)| w.len() != r.len()) {
                return Err(Error::invalid(what(), "token weights must have one value per response token"));
            }
        }
        Ok(())
    }
}

/// A hash of token-id sequences, for [`super::engine::Step::data_key`].
pub fn data_key<'a>(seqs: impl Iterator<Item = &'a Vec<i64>>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for s in seqs {
        h.update((s.len() as u64).to_le_bytes());
        for id in s {
            h.update(id.to_le_bytes());
        }
    }
    format!("{:x}", h.finalize())
}

/// The [`data_key`] of examples: token ids, side values and token weights.
pub fn examples_key(examples: &[Example]) -> String {
    let mut parts = vec![data_key(examples.iter().flat_map(|e| std::iter::once(&e.prompt).chain(&e.responses)))];
    for e in examples {
        parts.push(format!("{:?}{:?}", e.side, e.token_weights.as_ref().map(|w| w.len())));
    }
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(parts.concat().as_bytes()))
}

/// TRL's truncation (also the SimPO and SPPO repositories'), for any number of responses: when
/// `prompt + longest response > max_length`, keep the *last* `max_prompt_length` prompt tokens;
/// if still too long, cut every response to `max_length − max_prompt_length` tokens (they then
/// lose their EOS). Empty prompts or responses are errors naming the example.
pub fn truncate(ex: &Example, index: usize, max_length: usize, max_prompt_length: usize) -> Result<Example> {
    ex.validate(index)?;
    let mut e = ex.clone();
    let longest = e.responses.iter().map(Vec::len).max().unwrap_or(0);
    if e.prompt.len() + longest > max_length {
        let cut = e.prompt.len().saturating_sub(max_prompt_length);
        e.prompt.drain(..cut);
    }
    if e.prompt.len() + longest > max_length {
        let keep = max_length - max_prompt_length;
        for r in e.responses.iter_mut() {
            r.truncate(keep);
        }
        if let Some(ws) = e.token_weights.as_mut() {
            for w in ws.iter_mut() {
                w.truncate(keep);
            }
        }
    }
    Ok(e)
}

/// Every example truncated under `(max_length, max_prompt_length)` when given, else validated.
pub fn truncate_all(examples: &[Example], max_length: Option<usize>, max_prompt_length: Option<usize>) -> Result<Vec<Example>> {
    examples
        .iter()
        .enumerate()
        .map(|(i, e)| match (max_length, max_prompt_length) {
            (Some(ml), Some(mpl)) => truncate(e, i, ml, mpl),
            _ => e.validate(i).map(|_| e.clone()),
        })
        .collect()
}

/// KTO's KL sample: each example gets one more response, the first response of the next example
/// (its prompt with a mismatched answer, as TRL builds it). Call after truncation.
pub fn with_mismatched(examples: &[Example]) -> Vec<Example> {
    let n = examples.len();
    examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e.responses.push(examples[(i + 1) % n].responses[0].clone());
            if let Some(w) = e.token_weights.as_mut() {
                w.push(vec![1.0; e.responses.last().map_or(0, Vec::len)]);
            }
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_trl_style_for_any_number_of_responses() {
        let e = Example::new((0..10).collect(), vec![(100..108).collect(), vec![7, 8], vec![1; 5]]);
        let t = truncate(&e, 0, 12, 4).unwrap(); // 10 + 8 > 12: keep the last 4 prompt tokens; 4 + 8 fits
        assert_eq!((t.prompt.clone(), t.responses[0].len()), (vec![6, 7, 8, 9], 8));
        let t = truncate(&e, 0, 10, 4).unwrap(); // still too long: every response cut to 6
        assert_eq!(t.responses, vec![(100..106).collect::<Vec<i64>>(), vec![7, 8], vec![1; 5]]);
        assert_eq!(truncate(&e, 0, 100, 50).unwrap(), e);
    }

    #[test]
    fn bad_examples_are_named() {
        let e = Example::pair(vec![1], vec![2], vec![]);
        let err = truncate(&e, 7, 12, 4).unwrap_err().to_string();
        assert!(err.contains("example 7") && err.contains("response 1 is empty"), "{err}");
        assert!(Example::pair(vec![], vec![2], vec![3]).validate(0).unwrap_err().to_string().contains("empty prompt"));
        assert!(Example::pair(vec![1], vec![2], vec![3]).with("t", f64::NAN).validate(0).is_err());
        let mut w = Example::pair(vec![1], vec![2, 3], vec![3]);
        w.token_weights = Some(vec![vec![1.0], vec![1.0]]);
        assert!(w.validate(0).unwrap_err().to_string().contains("token weights"));
    }

    #[test]
    fn mismatched_sample_is_the_next_examples_first_response() {
        let ex = vec![Example::pair(vec![1], vec![2], vec![3]), Example::pair(vec![4], vec![5], vec![6])];
        let m = with_mismatched(&ex);
        assert_eq!(m[0].responses, vec![vec![2], vec![3], vec![5]]);
        assert_eq!(m[1].responses[2], vec![2]);
    }
}
