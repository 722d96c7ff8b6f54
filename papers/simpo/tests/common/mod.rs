//! What the TRL parity tests share: the runner's Python (with the pinned TRL), per-step metrics of
//! both trainers, tiny chat pairs.

#![allow(dead_code)]

use shared::data::preference::PreferencePair;
use shared::tokenize::chat::Message;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python `cargo xtask test` set up (`REPRO_PYTHON`), else the workspace's `.venv`; it must
/// have the pinned TRL, else the test fails saying how to get it.
pub fn python() -> PathBuf {
    let py = std::env::var_os("REPRO_PYTHON").map(PathBuf::from).unwrap_or_else(|| crate_dir().join("../../.venv/bin/python"));
    let out = Command::new(&py).args(["-c", "import trl, transformers, accelerate; print(trl.__version__, transformers.__version__)"]).output();
    match out {
        Ok(o) if o.status.success() => {
            let v = String::from_utf8_lossy(&o.stdout).to_string();
            assert!(v.starts_with("1.16.0 5.24.0"), "{} has trl/transformers {v}; the parity tests need trl 1.16.0 and transformers 5.24.0: run `cargo xtask test` (it installs them)", py.display());
        }
        _ => panic!(
            "no Python with TRL at {} (REPRO_PYTHON): run the suite with `cargo xtask test`, which installs trl==1.16.0, transformers==5.24.0, accelerate==1.16.0 into .venv",
            py.display()
        ),
    }
    py
}

/// Run `python args...` in `dir`, offline; panics with the tail of its output when it fails.
pub fn run_python(dir: &Path, args: &[&str]) {
    let t = std::time::Instant::now();
    let out = Command::new(python())
        .args(args)
        .current_dir(dir)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        .env("TQDM_DISABLE", "1")
        .env("TOKENIZERS_PARALLELISM", "false")
        .output()
        .expect("starting Python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let tail: String = text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "python {args:?} failed:\n{tail}");
    eprintln!("python {args:?}: {:.1} s", t.elapsed().as_secs_f64());
}

/// One optimiser step's numbers.
#[derive(Clone, Copy, Debug)]
pub struct StepRow {
    pub loss: f64,
    pub grad_norm: f64,
    pub lr: f64,
}

/// The Rust trainer's `metrics.csv`.
pub fn rust_metrics(path: &Path) -> Vec<StepRow> {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (l, g, r) = (col("loss"), col("grad_norm"), col("lr"));
    rd.records().map(|x| x.unwrap()).map(|x| StepRow { loss: x[l].parse().unwrap(), grad_norm: x[g].parse().unwrap(), lr: x[r].parse().unwrap() }).collect()
}

/// TRL's `metrics.jsonl` written by the exported `train.py`.
pub fn trl_metrics(path: &Path) -> Vec<StepRow> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| StepRow { loss: v["loss"].as_f64().unwrap(), grad_norm: v["grad_norm"].as_f64().unwrap(), lr: v["learning_rate"].as_f64().unwrap() })
        .collect()
}

/// Largest per-step differences (loss, relative gradient norm, lr) between two runs of equal length.
pub fn max_step_diffs(a: &[StepRow], b: &[StepRow]) -> (f64, f64, f64) {
    assert_eq!(a.len(), b.len(), "step counts differ: {} vs {}", a.len(), b.len());
    a.iter().zip(b).fold((0.0, 0.0, 0.0), |(l, g, r), (x, y)| {
        (f64::max(l, (x.loss - y.loss).abs()), f64::max(g, (x.grad_norm - y.grad_norm).abs() / y.grad_norm.max(1e-12)), f64::max(r, (x.lr - y.lr).abs()))
    })
}

/// Sixteen chat pairs (one user turn each) with answers of different lengths.
pub fn chat_pairs() -> Vec<PreferencePair> {
    let qa = [
        ("Name three primary colours.", "Red, yellow and blue.", "Green, I think."),
        ("What is two plus two?", "Two plus two is four.", "Five."),
        ("Write a short poem about the sea.", "The sea is deep and the moon is bright.", "Sea."),
        ("Say hello.", "Hello there! How are you today?", "No."),
        ("Explain gravity in one sentence.", "Objects with mass attract each other.", "Things fall because they are heavy and the ground wants them."),
        ("Translate 'good morning' to French.", "Bonjour.", "Good morning in French is hola."),
        ("List three colours.", "Red, green, blue.", "Red."),
        ("Summarise: a cat finds a hat.", "A cat finds a hat, wears it, and is happy.", "A dog."),
        ("Give me a number.", "42.", "Sure, here is an answer with numbers 1, 2, 3 and 42."),
        ("Thank you!", "You are welcome.", "Thank you very much, goodbye!"),
        ("Is the moon bright?", "The moon is bright at night.", "The sea is deep."),
        ("What do waves do?", "Waves sing softly through the night.", "Nothing."),
        ("Be brief: what is a fox?", "A quick brown animal.", "The quick brown fox jumps over the lazy dog, which is a long way of saying nothing."),
        ("What colour is the sea?", "Blue, mostly.", "Red."),
        ("Count to three.", "1, 2, 3.", "1, 2, 3, 42."),
        ("How are you?", "Very well, thank you.", "Goodbye!"),
    ];
    qa.iter()
        .enumerate()
        .map(|(i, (q, c, r))| PreferencePair { prompt_id: format!("p{i}"), context: vec![Message::user(*q)], chosen: c.to_string(), rejected: r.to_string(), subset: None })
        .collect()
}
