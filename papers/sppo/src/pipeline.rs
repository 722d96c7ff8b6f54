//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`): for each seed,
//! the shared harness ([`shared::nash`]: the world's cached SFT base `π_0`, the nash-mini
//! general preference `P(y ≻ y') = σ(6(q − q') + 1.5 R(st, st') + 0.5 tanh((|y| − |y'|)/8))`,
//! three disjoint prompt splits, the evaluation) runs every method of the config: SPPO's recipe
//! ([`crate::recipe`]) and its objective ([`crate::loss`]) on the shared on-policy loop, three
//! iterations against the frozen `π_t`. Iteration 1 samples `π_0` once, so every method trains on
//! identical pairs there; later iterations are on-policy for each method.
//!
//! Each seed's iterates live under `<runs>/<scale>-<hash of config and seed>/<method>/iter-<t>/`;
//! a rerun loads the finished iterations and continues after the last one.
//!
//! The config, one seed of the run and the driver are the family's (`shared::nash::family`);
//! what is this paper's is how one method of the config becomes a harness method:

use crate::recipe::SppoRecipe;
use shared::nash::Method;

/// One method of a config (K samples per prompt, trained by `train`), for the harness; the
/// paper-scale path builds its method with the same function.
pub fn method(samples: usize, m: &crate::config::Method, train: shared::train::TrainConfig) -> Method<'static> {
    Method { name: m.name.clone(), train, objective: m.objective.build(), recipe: Box::new(SppoRecipe { samples, objective: m.objective.clone() }) }
}
