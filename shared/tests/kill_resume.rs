//! A run killed with SIGKILL at a random step and started again ends with the same weights and
//! the same logs as an uninterrupted run: SFT, pairwise preference training and the on-policy
//! loop, each at smoke size on a tiny model.
//!
//! The test binary re-runs itself as a child (`REPRO_KILL_CHILD=<kind>:<dir>`), the parent waits
//! until the child has logged the chosen step, kills it with SIGKILL (mid-step, maybe mid-write),
//! then runs the same call in-process in the same folder (it resumes from the last checkpoint) and
//! compares with an uninterrupted run in a fresh folder. The step is drawn at random and printed;
//! `REPRO_KILL_STEP=<n>` replays a given one.

use shared::model::generate::GenerateConfig;
use shared::model::tiny;
use shared::objectives::dpo::Dpo;
use shared::train::iterate::{self, GroupAnnotator, IterateConfig, Reference};
use shared::train::pairs::PairRule;
use shared::train::pairwise::{self, Pair};
use shared::train::schedule::Schedule;
use shared::train::sft::{self, LossNorm, SftConfig, SftExample};
use shared::train::TrainConfig;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tch::nn::VarStore;

const KINDS: [&str; 3] = ["sft", "pairwise", "onpolicy"];

fn train_cfg(steps_or_epochs: (Option<u64>, usize)) -> TrainConfig {
    let mut c = TrainConfig::new(4, 2, Schedule::cosine(1e-2, 0.1)).truncating(24, 12);
    (c.steps, c.epochs, c.seed, c.checkpoint_every, c.keep_checkpoints) = (steps_or_epochs.0, steps_or_epochs.1, 5, 1, 2);
    c
}

/// Run one kind of training in `dir` (resuming whatever is there); the final weights.
fn run_kind(kind: &str, dir: &Path) -> VarStore {
    tch::set_num_threads(1);
    let (mut vs, m) = tiny::model(&tiny::config("llama", 24, 16, 32, 1, 2), 9);
    match kind {
        "sft" => {
            let data: Vec<SftExample> = (0..12i64).map(|i| SftExample { prompt: vec![1, 2 + i % 5], response: (0..2 + i % 4).map(|k| 3 + (i + k) % 20).collect() }).collect();
            let cfg = SftConfig { train: train_cfg((Some(30), 1)), loss_norm: LossNorm::TokenMean };
            sft::train(&m, &mut vs, &data, 0, &cfg, dir).unwrap();
        }
        "pairwise" => {
            let pairs: Vec<Pair> = (0..10i64).map(|i| Pair { prompt: vec![1, 2 + i % 6], chosen: (0..2 + i % 3).map(|k| 3 + (i * k) % 20).collect(), rejected: (0..3).map(|k| 4 + (i + k) % 19).collect() }).collect();
            let (rvs, rm) = tiny::model(&tiny::config("llama", 24, 16, 32, 1, 2), 9);
            let dpo = Dpo::new(0.1);
            let cfg = train_cfg((None, 6));
            let r = pairwise::reference_for(&dpo, &rm, &rvs, &pairs, &cfg, "kill-test", &dir.join("reference")).unwrap();
            pairwise::train(&m, &mut vs, &dpo, &pairs, r.as_ref(), &cfg, &dir.join("train")).unwrap();
        }
        "onpolicy" => {
            let mut annotator = GroupAnnotator {
                prompts: (0..3).map(|t| (1..9).map(|i| vec![1 + t, i]).collect()).collect(),
                samples: 4,
                prompts_per_batch: 8,
                gen: GenerateConfig { max_new_tokens: 5, temperature: 1.0, top_p: 1.0, stop_tokens: vec![], seed: 3 },
                rule: PairRule::BestVsWorst,
                pad: 0,
                seed: 2,
                decode: |ids: &[i64]| ids.iter().map(|i| format!("{i} ")).collect::<String>(),
                score: |_, _, ys: &[String]| Ok(ys.iter().map(|y| y.matches("7 ").count() as f64 - 0.1 * y.len() as f64).collect()),
            };
            let cfg = IterateConfig { iterations: 3, reference: Reference::Previous, train: train_cfg((None, 3)), seed_per_iteration: true };
            iterate::run(&m, &mut vs, &mut annotator, &Dpo::new(0.1), &cfg, 0, "kill-test", dir).unwrap();
        }
        other => panic!("unknown kind {other}"),
    }
    vs
}

/// Optimiser steps logged so far under `dir` (every `metrics.csv` below it, header excluded).
fn steps_logged(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|f| f == "metrics.csv") {
                n += std::fs::read_to_string(&p).map(|t| t.lines().count().saturating_sub(1)).unwrap_or(0);
            }
        }
    }
    n
}

/// Every `metrics.csv` and iteration record under `dir`, timing columns removed, by path.
fn logs(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                stack.push(p);
            } else if name == "metrics.csv" {
                let text = std::fs::read_to_string(&p).unwrap();
                let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
                let keep: Vec<usize> = (0..header.len()).filter(|&i| header[i] != "tokens_per_s").collect();
                let t: String = text.lines().map(|l| keep.iter().map(|&i| l.split(',').nth(i).unwrap_or("")).collect::<Vec<_>>().join(",") + "\n").collect();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), t));
            } else if name == "done.json" {
                let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                for k in ["seconds", "resumed"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                let train = v["train"].as_object_mut().unwrap();
                for k in ["seconds", "tokens", "resumed_from"] {
                    train.remove(k);
                }
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), v.to_string()));
            }
        }
    }
    out.sort();
    out
}

/// The child side: run the training named in `REPRO_KILL_CHILD` (the parent kills it).
#[test]
fn child() {
    if let Ok(spec) = std::env::var("REPRO_KILL_CHILD") {
        let (kind, dir) = spec.split_once(':').unwrap();
        run_kind(kind, Path::new(dir));
    }
}

#[test]
fn killed_at_a_random_step_and_resumed_equals_uninterrupted() {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    for kind in KINDS {
        let straight_dir = tempfile::tempdir().unwrap();
        let straight = run_kind(kind, straight_dir.path());
        let total = steps_logged(straight_dir.path());
        assert!(total >= 6, "{kind}: {total} steps");
        let at = std::env::var("REPRO_KILL_STEP").ok().and_then(|s| s.parse().ok()).unwrap_or(1 + (seed as usize + kind.len() * 7919) % (total - 1));
        eprintln!("{kind}: killing the run after step {at} of {total} (replay with REPRO_KILL_STEP={at})");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child", "--exact", "--nocapture", "--test-threads", "1"])
            .env("REPRO_KILL_CHILD", format!("{kind}:{}", dir.path().display()))
            .spawn()
            .unwrap();
        let started = Instant::now();
        while steps_logged(dir.path()) < at {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{kind}: the child ended ({status}) before step {at}");
            }
            assert!(started.elapsed() < Duration::from_secs(300), "{kind}: the child did not reach step {at}");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let resumed = run_kind(kind, dir.path());
        let (a, b) = (straight.variables(), resumed.variables());
        for (name, t) in &a {
            assert!(t.equal(&b[name]), "{kind} (killed after step {at}): weight {name} differs after resuming");
        }
        assert_eq!(logs(straight_dir.path()), logs(dir.path()), "{kind} (killed after step {at}): logs differ");
    }
}
