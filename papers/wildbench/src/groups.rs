//! The five task groups of WildBench, the tag → group map, and the weighted macro average
//! (spec §2 and §4.2): `macro = Σ_g w_g·x_g / Σ_g w_g`, where the sum runs over the groups
//! present while the denominator keeps every weight.

use shared::{Error, Result};
use std::collections::BTreeMap;

pub const CREATIVE: &str = "Creative Tasks";
pub const PLANNING: &str = "Planning & Reasoning";
pub const MATH: &str = "Math & Data Analysis";
pub const INFO: &str = "Information/Advice seeking";
pub const CODING: &str = "Coding & Debugging";

/// The five groups in the order the leaderboard prints them.
pub const GROUPS: [&str; 5] = [CREATIVE, PLANNING, MATH, INFO, CODING];

/// The group of one of the 12 task tags (upstream `task_group_new`).
pub fn group_of_tag(tag: &str) -> Option<&'static str> {
    Some(match tag {
        "Information seeking" | "Advice seeking" => INFO,
        "Reasoning" | "Planning" => PLANNING,
        "Math" | "Data Analysis" => MATH,
        "Coding & Debugging" => CODING,
        "Creative Writing" | "Editing" | "Brainstorming" | "Role playing" | "Others" => CREATIVE,
        _ => return None,
    })
}

/// The set of groups of a session: {primary} ∪ secondary tags, each group once.
pub fn groups_of_session(primary: &str, secondary: &[String]) -> Result<Vec<&'static str>> {
    let mut out = vec![];
    for tag in std::iter::once(primary).chain(secondary.iter().map(|s| s.as_str())) {
        let g = group_of_tag(tag)
            .ok_or_else(|| Error::invalid(format!("task tag {tag:?}"), "not one of the 12 WildBench tags"))?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

/// Named weights for a macro average over categories. Generic: the miniature world's
/// checklist judge can build its own with other category names.
#[derive(Debug, Clone, PartialEq)]
pub struct MacroWeights {
    pub weights: Vec<(String, f64)>,
}

impl MacroWeights {
    pub fn new(weights: &[(&str, f64)]) -> Self {
        MacroWeights { weights: weights.iter().map(|(g, w)| (g.to_string(), *w)).collect() }
    }
    /// Weights since 2024-06-26 (HEAD tables): sum 4.75.
    pub fn current() -> Self {
        Self::new(&[(CREATIVE, 0.5), (PLANNING, 1.25), (MATH, 1.0), (INFO, 0.75), (CODING, 1.25)])
    }
    /// Weights of the paper-era tables (history/8ed3a40): Coding 1.0, sum 4.5.
    pub fn paper_era() -> Self {
        Self::new(&[(CREATIVE, 0.5), (PLANNING, 1.25), (MATH, 1.0), (INFO, 0.75), (CODING, 1.0)])
    }
    pub fn total(&self) -> f64 {
        self.weights.iter().map(|(_, w)| w).sum()
    }
    /// `Σ_g w_g·x_g / Σ_all w`: an absent category adds 0 and keeps its weight in the denominator.
    /// A category without a weight is an error (it would be silently dropped otherwise).
    pub fn macro_avg(&self, per_group: &BTreeMap<String, f64>) -> Result<f64> {
        for g in per_group.keys() {
            if !self.weights.iter().any(|(n, _)| n == g) {
                return Err(Error::invalid(format!("category {g:?}"), "has no macro weight"));
            }
        }
        let num: f64 = self.weights.iter().filter_map(|(g, w)| per_group.get(g).map(|x| w * x)).sum();
        Ok(num / self.total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_task_macro_vector() {
        let r: BTreeMap<String, f64> =
            [(CREATIVE, 0.2), (PLANNING, 0.1), (MATH, -0.3), (INFO, 0.4), (CODING, 0.0)].iter().map(|(g, x)| (g.to_string(), *x)).collect();
        let m = MacroWeights::current().macro_avg(&r).unwrap();
        assert!((m - 0.225 / 4.75).abs() < 1e-15, "{m}");
        assert!((m * 100.0 - 4.7368).abs() < 1e-4);
    }

    #[test]
    fn sessions_count_once_per_group() {
        let g = groups_of_session("Reasoning", &["Planning".into(), "Math".into(), "Reasoning".into()]).unwrap();
        assert_eq!(g, vec![PLANNING, MATH]);
        assert!(groups_of_session("Cooking", &[]).is_err());
    }

    #[test]
    fn unknown_category_is_an_error() {
        let r: BTreeMap<String, f64> = [("Poetry".to_string(), 1.0)].into();
        assert!(MacroWeights::current().macro_avg(&r).is_err());
    }
}
