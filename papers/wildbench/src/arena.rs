//! Correlation with Chatbot Arena (paper §4.2, Table 3): Pearson on the top-6 models by
//! Arena Elo and on all of them, Spearman (average ranks) and Kendall τ-b, between the
//! Arena Elo and each metric. The paper's Table 2/3 values are hand-typed copies shipped
//! in `data/` (they are not upstream files).

use shared::eval::correlation::{kendall_tau_b, pearson, spearman};
use shared::{Error, Result};

/// How many of the highest-Elo models `P-Cor_top` uses.
pub const TOP: usize = 6;

const TABLE2: &str = include_str!("../data/table2.csv");
const TABLE3: &str = include_str!("../data/table3.csv");

/// One row of the paper's Table 2 (rewards ×100, WB-Score ×10; `None` = not reported).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Table2Row {
    pub rank: u32,
    pub model: String,
    pub model_id: String,
    pub mix: Option<f64>,
    pub gpt4t: Option<f64>,
    pub haiku: Option<f64>,
    pub llama: Option<f64>,
    pub wb_score: Option<f64>,
    pub arena_elo: Option<f64>,
    pub arena_hard: Option<f64>,
    pub ae2_lc: Option<f64>,
    pub ae2_wr: Option<f64>,
}

/// One row of the paper's Table 3.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Table3Row {
    pub metric: String,
    pub baseline: String,
    #[serde(rename = "K")]
    pub k: String,
    pub p_cor_top: Option<f64>,
    pub p_cor_all: Option<f64>,
    pub s_cor_all: Option<f64>,
    pub k_cor_all: Option<f64>,
}

fn read_csv<T: serde::de::DeserializeOwned>(text: &str, name: &str) -> Result<Vec<T>> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<std::result::Result<Vec<T>, _>>()
        .map_err(|e| Error::Csv { path: format!("papers/wildbench/data/{name}").into(), msg: e.to_string() })
}
pub fn table2() -> Result<Vec<Table2Row>> {
    read_csv(TABLE2, "table2.csv")
}
pub fn table3() -> Result<Vec<Table3Row>> {
    read_csv(TABLE3, "table3.csv")
}

/// The four statistics of one metric against Elo: [P-top, P-all, S-all, K-all].
/// `elo` must be sorted in descending order (so the first [`TOP`] are the top models).
pub fn stats(elo: &[f64], metric: &[f64]) -> [Option<f64>; 4] {
    let t = TOP.min(elo.len());
    [pearson(&elo[..t], &metric[..t]), pearson(elo, metric), spearman(elo, metric), kendall_tau_b(elo, metric)]
}

/// The models of a correlation panel, sorted by Elo, highest first (stable).
#[derive(Debug, Clone)]
pub struct Panel {
    pub ids: Vec<String>,
    pub elo: Vec<f64>,
}

impl Panel {
    /// From (id, elo) pairs, keeping their order among equal Elo.
    pub fn new(mut models: Vec<(String, f64)>) -> Panel {
        models.sort_by(|a, b| b.1.total_cmp(&a.1));
        Panel { ids: models.iter().map(|m| m.0.clone()).collect(), elo: models.iter().map(|m| m.1).collect() }
    }
}

/// The paper's 14-model panel: Table-2 rows with Elo, ArenaHard, AE2-LC and AE2-WR.
pub fn paper_panel(t2: &[Table2Row]) -> Vec<&Table2Row> {
    let mut rows: Vec<&Table2Row> =
        t2.iter().filter(|r| r.arena_elo.is_some() && r.arena_hard.is_some() && r.ae2_lc.is_some() && r.ae2_wr.is_some()).collect();
    rows.sort_by(|a, b| b.arena_elo.unwrap().total_cmp(&a.arena_elo.unwrap()));
    rows
}

/// A metric of the paper's Table 3 computed from Table 2: (metric, baseline, K, values over the panel).
pub fn paper_metrics(panel: &[&Table2Row]) -> Result<Vec<(&'static str, &'static str, &'static str, Vec<f64>)>> {
    let col = |f: &dyn Fn(&Table2Row) -> Option<f64>, name: &str| -> Result<Vec<f64>> {
        panel.iter().map(|r| f(r).ok_or_else(|| Error::invalid(format!("table2.csv row {}", r.model), format!("no {name} value")))).collect()
    };
    let mix = col(&|r| Some((r.gpt4t? + r.haiku? + r.llama?) / 3.0), "reward")?;
    Ok(vec![
        ("Arena-Hard", "", "", col(&|r| r.arena_hard, "arena_hard")?),
        ("AlpacaEval2-LC", "", "", col(&|r| r.ae2_lc, "ae2_lc")?),
        ("AlpacaEval2", "", "", col(&|r| r.ae2_wr, "ae2_wr")?),
        ("WB-Score", "", "", col(&|r| r.wb_score, "wb_score")?),
        ("WB-Reward", "mix", "inf", mix),
        ("WB-Reward", "llama", "inf", col(&|r| r.llama, "llama")?),
        ("WB-Reward", "gpt4t", "inf", col(&|r| r.gpt4t, "gpt4t")?),
        ("WB-Reward", "haiku", "inf", col(&|r| r.haiku, "haiku")?),
    ])
}

/// Round half away from zero to 3 decimals, as the paper prints.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_panel_is_the_14_models_of_section_4_6() {
        let t2 = table2().unwrap();
        assert_eq!(t2.len(), 29);
        let p = paper_panel(&t2);
        let ids: Vec<&str> = p.iter().map(|r| r.model_id.as_str()).collect();
        assert_eq!(ids.len(), 14);
        assert_eq!(
            &ids[..6],
            &["gpt-4-turbo-2024-04-09", "claude-3-opus-20240229", "Meta-Llama-3-70B-Instruct", "claude-3-sonnet-20240229", "mistral-large-2402", "Meta-Llama-3-8B-Instruct"]
        );
    }

    /// Every cell of Table 3 that Table 2 determines is reproduced to 3 decimals.
    #[test]
    fn table3_from_table2_matches_the_paper() {
        let t2 = table2().unwrap();
        let t3 = table3().unwrap();
        let panel = paper_panel(&t2);
        let elo: Vec<f64> = panel.iter().map(|r| r.arena_elo.unwrap()).collect();
        let mut checked = 0;
        for (metric, base, k, vals) in paper_metrics(&panel).unwrap() {
            let got = stats(&elo, &vals);
            let want = t3.iter().find(|r| r.metric == metric && r.baseline == base && r.k == k).unwrap();
            for (g, w) in got.iter().zip([want.p_cor_top, want.p_cor_all, want.s_cor_all, want.k_cor_all]) {
                if let Some(w) = w {
                    assert_eq!(round3(g.unwrap()), w, "{metric} {base} {k}: {g:?} vs {w}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 4 * 5 + 3 * 3);
        // The spec's spot value: mix top-6 = 0.98446.
        let mix = &paper_metrics(&panel).unwrap()[4].3;
        assert!((stats(&elo, mix)[0].unwrap() - 0.98446).abs() < 5e-6);
    }
}
