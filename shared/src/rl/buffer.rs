//! PAR's replay buffer (spec "PPO step as implemented", step 6): processed rollout batches go
//! into a buffer of `capacity` batches; until it is full nothing is trained; afterwards each new
//! batch replaces a uniformly random stored batch and the **evicted** (older) batch is the one
//! trained on, so updates use data up to `capacity` rollouts stale. Capacity 0 or 1 is the
//! standard on-policy loop (every batch is trained on at once).

use super::rollout::Rollout;
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayBuffer {
    pub capacity: usize,
    pub batches: Vec<Vec<Rollout>>,
}

impl ReplayBuffer {
    pub fn new(capacity: usize) -> Self {
        ReplayBuffer { capacity, batches: vec![] }
    }

    /// Push a processed batch; returns the batch to train on, if any.
    pub fn push<R: Rng>(&mut self, batch: Vec<Rollout>, rng: &mut R) -> Option<Vec<Rollout>> {
        if self.capacity <= 1 {
            return Some(batch);
        }
        if self.batches.len() < self.capacity {
            self.batches.push(batch);
            return None;
        }
        let i = rng.gen_range(0..self.capacity);
        Some(std::mem::replace(&mut self.batches[i], batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn batch(tag: usize) -> Vec<Rollout> {
        vec![Rollout { prompt: tag, ..Default::default() }]
    }

    #[test]
    fn fills_then_trains_on_evicted_older_batches() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut b = ReplayBuffer::new(4);
        for t in 0..4 {
            assert!(b.push(batch(t), &mut rng).is_none(), "the first 4 rollouts only fill the buffer");
        }
        let mut seen = vec![];
        for t in 4..40 {
            let out = b.push(batch(t), &mut rng).expect("a full buffer always returns a batch");
            let tag = out[0].prompt;
            assert!(tag < t && t - tag >= 1, "an older batch comes out");
            seen.push(tag);
            assert_eq!(b.batches.len(), 4);
        }
        // Every one of the first four batches is eventually evicted, each exactly once.
        let mut all: Vec<usize> = seen.iter().copied().chain(b.batches.iter().map(|x| x[0].prompt)).collect();
        all.sort();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        let mut direct = ReplayBuffer::new(1);
        assert_eq!(direct.push(batch(9), &mut rng).unwrap()[0].prompt, 9);
    }
}
