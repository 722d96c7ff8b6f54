//! WildBench judging end to end against the miniature world's judges behind a real HTTP server
//! on 127.0.0.1: upstream's templates (fetched), prompts filled as upstream does, the A/B coin,
//! the judge's JSON answers parsed with the project's parser, upstream-format records, and
//! WB-Score / WB-Reward from them, checked against the world's judges called directly.

use shared::api::server::{ServeConfig, Server};
use shared::api::world_judge::{wildbench_choice, world_checklist, JudgeTemplates, WorldJudge};
use shared::api::{Client, ClientConfig};
use shared::world::{World, WorldConfig};
use std::collections::HashMap;
use wildbench::groups::MacroWeights;
use wildbench::judge::{Judge, Templates};
use wildbench::prompts::{test_model_is_a, Task, Turn};
use wildbench::reward::{from_records, Margin};
use wildbench::score::{rescale, ChecklistScorer};

#[test]
fn wb_score_and_wb_reward_through_the_worlds_judge() {
    let data = shared::io::data_root().expect("no data: run `cargo xtask fetch all` and set REPRO_DATA=datasets/.cache");
    let templates = Templates::load(&data).unwrap();
    let world = World::new(WorldConfig::default()).unwrap();
    let jt = JudgeTemplates { wildbench_pairwise: Some(templates.pairwise.clone()), wildbench_score: Some(templates.score.clone()), ..Default::default() };
    let server = Server::start(ServeConfig { addr: "127.0.0.1:0".into(), ..Default::default() }, Box::new(WorldJudge::new(world.clone(), "world-judge", jt).unwrap())).unwrap();
    let client = Client::new(ClientConfig { base_url: server.url(), api_key_env: "REPRO_TEST_NO_KEY".into(), max_concurrency: 4, ..Default::default() }).unwrap();
    let judge = Judge { client: &client, model: "world-judge".into(), max_words: Some(1000), templates };

    let bench = shared::world::alpaca::MiniAlpacaEval::new(&world);
    let n = 40;
    let tasks: Vec<Task> = (0..n)
        .map(|i| Task { session_id: format!("s{i:03}"), conversation_input: vec![Turn { role: "user".into(), content: bench.prompts[i].text() }], checklist: world_checklist(&world, &bench.prompts[i]) })
        .collect();
    let ours: HashMap<String, String> = (0..n).map(|i| (tasks[i].session_id.clone(), if i % 3 == 0 { String::new() } else { world.gold(&bench.prompts[i]) })).collect();
    let base: HashMap<String, String> = (0..n).map(|i| (tasks[i].session_id.clone(), bench.baseline[i].clone())).collect();

    // WB-Score: every record's score is the world's checklist judge's, rounded.
    let scored = judge.score(&tasks, &ours, "gold").unwrap();
    assert!(scored.dropped.is_empty(), "{:?}", scored.dropped);
    for (r, i) in scored.records.iter().zip(0..n) {
        let want = world.checklist.score(&bench.prompts[i], &ours[&tasks[i].session_id]).round().clamp(1.0, 10.0);
        assert_eq!(r.value().unwrap(), want, "{}", r.session_id);
    }
    let s = ChecklistScorer { weights: MacroWeights::current() }.summarize_records(&scored.records, None).unwrap();
    assert_eq!(s.total, n);
    assert!((s.adjusted - rescale(s.score)).abs() < 1e-12);

    // WB-Reward: sides from upstream's coin, choices from the world's pairwise judge.
    let judged = judge.pairwise(&tasks, ("gold", &ours), ("baseline", &base)).unwrap();
    assert!(judged.dropped.is_empty());
    let sides = test_model_is_a(n);
    for ((r, i), test_a) in judged.records.iter().zip(0..n).zip(&sides) {
        assert_eq!(r.model_a, if *test_a { "gold" } else { "baseline" });
        let x = &bench.prompts[i];
        let (a, b) = if *test_a { (&ours[&tasks[i].session_id], &base[&tasks[i].session_id]) } else { (&base[&tasks[i].session_id], &ours[&tasks[i].session_id]) };
        let want = wildbench_choice(world.judge.prob(x, a, b));
        assert_eq!(r.parsed_result.as_ref().unwrap()["choice"], want, "{}", r.session_id);
    }
    let res = from_records(&judged.records, "baseline", Margin::from_k(500), None).unwrap().unwrap();
    // Empty outputs (every third task) are skipped by the reward, as upstream skips them.
    assert_eq!(res.counts.counted() as usize, n - (0..n).filter(|i| i % 3 == 0).count());
    assert!(res.reward() > 0.0, "gold answers beat the partial-oracle baseline: {}", res.reward());

    // The command itself (`cargo xtask evaluate wildbench` runs this binary).
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: &serde_json::Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let tasks_file = write("tasks.json", &serde_json::to_value(&tasks).unwrap());
    let outs = |m: &HashMap<String, String>| serde_json::Value::Array(tasks.iter().map(|t| serde_json::json!({"session_id": t.session_id, "output": m[&t.session_id]})).collect());
    let (ours_file, base_file) = (write("ours.json", &outs(&ours)), write("base.json", &outs(&base)));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_evaluate-wildbench"))
        .args(["--data", data.to_str().unwrap(), "--judge-url", &server.url(), "--judge-model", "world-judge", "--api-key-env", "REPRO_TEST_NO_KEY", "--model", "gold"])
        .arg("--tasks").arg(&tasks_file)
        .arg("--model-outputs").arg(&ours_file)
        .arg(format!("--reference=baseline={}", base_file.display()))
        .arg("--cache").arg(dir.path().join("cache"))
        .arg("--out").arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("WB-Score {:.2}", 10.0 * s.adjusted)), "{stdout}");
    assert!(stdout.contains(&format!("WB-Reward (K=500) {:+.2}", 100.0 * res.reward())), "{stdout}");
    assert!(dir.path().join("out/score.v2/eval=world-judge/gold.json").exists());
    assert!(dir.path().join("out/pairwise.v2/eval=world-judge/ref=baseline/gold.json").exists());
    server.shutdown();
}
