//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`): for each seed,
//! the shared harness ([`shared::nash`]: the world's cached SFT base `π_0`, three disjoint prompt
//! splits, the evaluation) runs every method of the config on the shared on-policy loop: INPO's
//! recipe ([`crate::recipe`]: K = 8 samples, one tournament or reward-model pair per prompt) and
//! objective ([`crate::loss`]: the square loss against `π_ref^(τ/η) π_t^(1−τ/η)`, reading the
//! engine's `"initial"` and `"previous"` references), the iterative-DPO baseline on the same
//! pairs, and SPPO with its own recipe and loss (the sppo crate) on the same samples. Iteration 1
//! samples `π_0` once and labels with one stream, so every method sees identical samples there
//! and methods with the same rule train on identical pairs.
//!
//! The config, one seed of the run and the driver are the family's (`shared::nash::family`);
//! what is this paper's is how one method of the config becomes a harness method:

use crate::loss::Objective;
use crate::recipe::{InpoRecipe, Pairs};
use shared::nash::{Method, Recipe};

/// One method of a config (K samples per prompt, trained by `train`), for the harness; the
/// paper-scale path builds its method with the same function.
pub fn method(samples: usize, m: &crate::config::Method, train: shared::train::TrainConfig) -> Method<'static> {
    let recipe: Box<dyn Recipe> = match (&m.objective, m.pairs) {
        (Objective::Sppo(s), _) => Box::new(sppo::recipe::SppoRecipe { samples, objective: sppo::loss::Objective::Sppo(s.clone()) }),
        (_, pairs) => Box::new(InpoRecipe { samples, pairs }),
    };
    debug_assert!(m.pairs != Pairs::Sppo || matches!(m.objective, Objective::Sppo(_)));
    Method { name: m.name.clone(), train, objective: m.objective.build(), recipe }
}
