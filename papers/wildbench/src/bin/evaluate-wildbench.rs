//! `cargo xtask evaluate wildbench --tasks FILE --model-outputs FILE --reference NAME=FILE ...`:
//! WB-Score and WB-Reward of a model through an OpenAI-compatible judge with upstream's
//! templates; per-record files in upstream's layout under `--out`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use shared::api::{Client, ClientConfig};
use std::path::PathBuf;
use wildbench::groups::MacroWeights;
use wildbench::judge::{load_outputs, load_tasks, Judge, Templates};
use wildbench::prompts::MAX_WORDS;
use wildbench::reward::{from_records, mixture, Margin};
use wildbench::score::ChecklistScorer;

#[derive(Parser)]
#[command(name = "evaluate-wildbench", about = "WildBench (WB-Score, WB-Reward) of a model's outputs through an OpenAI-compatible judge")]
struct Args {
    /// Tasks: JSON array or JSON lines of {session_id, conversation_input, checklist} (HF allenai/WildBench v2).
    #[arg(long)]
    tasks: PathBuf,
    /// The model's outputs: JSON array of {session_id, output}.
    #[arg(long)]
    model_outputs: PathBuf,
    #[arg(long)]
    model: String,
    /// Reference models for WB-Reward, as NAME=FILE (repeat; upstream uses gpt-4-turbo-2024-04-09,
    /// claude-3-haiku-20240307, Llama-2-70b-chat-hf). None: WB-Score only.
    #[arg(long = "reference")]
    references: Vec<String>,
    #[arg(long, default_value = "https://api.openai.com/v1")]
    judge_url: String,
    #[arg(long, default_value = "gpt-4-turbo-2024-04-09")]
    judge_model: String,
    #[arg(long, default_value = "OPENAI_API_KEY")]
    api_key_env: String,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The length penalty K of WB-Reward (-1 = none).
    #[arg(long, default_value_t = 500)]
    k: i64,
    /// Words of each text shown to the judge (-1 = no cut, as v2.0625).
    #[arg(long, default_value_t = MAX_WORDS as i64)]
    max_words: i64,
    #[arg(long, default_value = "runs/api-cache")]
    cache: PathBuf,
    #[arg(long, default_value = "results/evaluate/wildbench")]
    out: PathBuf,
    #[arg(long)]
    data: Option<PathBuf>,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let data = a.data.clone().or_else(shared::io::data_root).context("no data folder: pass --data or run `cargo xtask fetch wildbench_templates`")?;
    let tasks = load_tasks(&a.tasks)?;
    let outputs = load_outputs(&a.model_outputs)?;
    let client = Client::new(ClientConfig { base_url: a.judge_url.clone(), api_key_env: a.api_key_env.clone(), max_concurrency: a.concurrency, cache_dir: Some(a.cache.clone()), ..Default::default() })?;
    let judge = Judge { client: &client, model: a.judge_model.clone(), max_words: (a.max_words >= 0).then_some(a.max_words as usize), templates: Templates::load(&data)? };
    let eval_dir = format!("eval={}", a.judge_model);

    let scored = judge.score(&tasks, &outputs, &a.model)?;
    let path = a.out.join("score.v2").join(&eval_dir).join(format!("{}.json", a.model));
    shared::io::write_json(&path, &scored.records)?;
    let s = ChecklistScorer { weights: MacroWeights::current() }.summarize_records(&scored.records, None)?;
    println!("{}: WB-Score {:.2} (mean score {:.3} over {} records, {} answers unparsable), avg length {:.1}", a.model, 10.0 * s.adjusted, s.score, s.total, scored.dropped.len(), s.avg_len);

    let mut rewards = vec![];
    for r in &a.references {
        let Some((name, file)) = r.split_once('=') else { bail!("--reference takes NAME=FILE, got {r:?}") };
        let refs = load_outputs(&PathBuf::from(file))?;
        let judged = judge.pairwise(&tasks, (&a.model, &outputs), (name, &refs))?;
        let path = a.out.join("pairwise.v2").join(&eval_dir).join(format!("ref={name}")).join(format!("{}.json", a.model));
        shared::io::write_json(&path, &judged.records)?;
        let res = from_records(&judged.records, name, Margin::from_k(a.k), None)?.context("the model was compared with itself")?;
        println!("  vs {name}: WB-Reward (K={}) {:+.2}  counts {:?}, {} answers unparsable", a.k, 100.0 * res.reward(), res.counts, judged.dropped.len());
        rewards.push(res.reward());
    }
    if !rewards.is_empty() {
        println!("  mixture of rewards: {:+.2}", 100.0 * mixture(&rewards));
    }
    println!("(group-level numbers need the task categories, not in the task file given)\n{}", client.summary());
    println!("records under {}", a.out.display());
    Ok(())
}
