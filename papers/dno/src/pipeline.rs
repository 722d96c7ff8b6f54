//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`): for each seed,
//! the shared harness ([`shared::nash`]: the world's cached SFT base `π_0`, the teacher, three
//! disjoint prompt splits, the evaluation) runs every method of the config: DNO's recipe
//! ([`crate::recipe`]: rubric annotation of 5 students + gold, the variant's pair rule, replay)
//! and its objective ([`crate::loss`]: DPO against `π_t`) on the shared on-policy loop. Iteration
//! 1 samples `π_0` once and annotates with one label stream, so every variant's iteration-1
//! candidates and scores are identical; later iterations are on-policy for each method.
//!
//! The config, one seed of the run and the driver are the family's (`shared::nash::family`);
//! what is this paper's is how one method of the config becomes a harness method:

use crate::recipe::DnoRecipe;
use shared::nash::Method;

/// One method of a config (K student samples per prompt, trained by `train`), for the harness;
/// the paper-scale path builds its method with the same function.
pub fn method(samples: usize, m: &crate::config::Method, train: shared::train::TrainConfig) -> Method<'static> {
    Method { name: m.name.clone(), train, objective: m.objective.build(), recipe: Box::new(DnoRecipe::new(samples, m.recipe.clone())) }
}
