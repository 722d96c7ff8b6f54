//! `cargo xtask bench api`: the OpenAI-compatible server and the judge path, timed end to end
//! (wall clock over whole workloads, printed as a table; not criterion, since the quantity is
//! throughput under concurrency).
//!
//! 1. Server throughput in completion tokens/s at 1, 4 and 16 concurrent clients, against
//!    one-at-a-time in-process generation (and batched in-process generation for reference), on
//!    the miniature world's base architecture (d = 96, 3 layers, 4 heads; seeded random weights,
//!    T = 1, up to 56 new tokens per request, world prompts).
//! 2. A full mini AlpacaEval (300 prompts) judged through the served world judge with upstream's
//!    annotator template: cold cache vs warm cache.

use shared::api::alpaca_judge::{AlpacaJudge, AnnotatorConfig, Comparison};
use shared::api::backend::{ModelBackend, ModelLimits};
use shared::api::sampler::world_test_checkpoint;
use shared::api::server::{ServeConfig, Server};
use shared::api::types::CompletionRequest;
use shared::api::world_judge::{alpaca_configs_dir, JudgeTemplates, WorldJudge};
use shared::api::{Client, ClientConfig};
use shared::model::generate::{generate, GenerateConfig};
use shared::model::pretrained::Pretrained;
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{World, WorldConfig};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

const REQUESTS: usize = 64;
const MAX_TOKENS: usize = 56;

fn wanted(filter: &Option<String>, name: &str) -> bool {
    filter.as_deref().map_or(true, |f| name.contains(f) || "api".contains(f))
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if let Some(f) = &filter {
        if !["api/serve_throughput", "api/mini_alpaca_eval"].iter().any(|n| n.contains(f.as_str())) && !"api".contains(f.as_str()) {
            return;
        }
    }
    std::env::set_var("REPRO_QUIET", "1");
    shared::device::set_threads(2);
    let world = World::new(WorldConfig::default()).unwrap();
    let prompts: Vec<String> = world.eval_prompts().iter().take(REQUESTS).map(|x| x.text()).collect();
    let mut rows: Vec<(String, String)> = vec![];

    if wanted(&filter, "api/serve_throughput") {
        let dir = tempfile::tempdir().unwrap();
        world_test_checkpoint(dir.path(), 96, 3, 4, 128, 0).unwrap();
        let spec = dir.path().to_str().unwrap();
        // In process, one request at a time (measured before and after the server runs, after a
        // warm-up, because the machine is shared: both numbers are printed).
        let p = Pretrained::load(spec, tch::Device::Cpu).unwrap();
        let tok = WorldTokenizer::new().unwrap();
        let gen = GenerateConfig { max_new_tokens: MAX_TOKENS, temperature: 1.0, top_p: 1.0, stop_tokens: vec![tok.eos], seed: 0 };
        let ids: Vec<Vec<i64>> = prompts.iter().map(|x| tok.encode_prompt(x).unwrap()).collect();
        let one_at_a_time = || {
            let t0 = Instant::now();
            let mut n_tok = 0;
            for (i, x) in ids.iter().enumerate() {
                let g = generate(&p.model, std::slice::from_ref(x), tok.pad, &GenerateConfig { seed: i as u64, ..gen.clone() }).unwrap();
                n_tok += g[0].len();
            }
            (n_tok as f64 / t0.elapsed().as_secs_f64(), n_tok)
        };
        let _ = generate(&p.model, &ids[..4], tok.pad, &gen).unwrap();
        let (one, n_tok) = one_at_a_time();
        rows.push(("in-process, one request at a time".into(), format!("{one:.0} tokens/s ({n_tok} tokens)")));
        let t0 = Instant::now();
        let mut n_tok = 0;
        for (c, chunk) in ids.chunks(16).enumerate() {
            let g = generate(&p.model, chunk, tok.pad, &GenerateConfig { seed: c as u64, ..gen.clone() }).unwrap();
            n_tok += g.iter().map(Vec::len).sum::<usize>();
        }
        rows.push(("in-process, batches of 16 (reference)".into(), format!("{:.0} tokens/s", n_tok as f64 / t0.elapsed().as_secs_f64())));

        let be = ModelBackend::load(spec, tch::Device::Cpu, "mini", ModelLimits::default()).unwrap();
        let server = Server::start(ServeConfig { addr: "127.0.0.1:0".into(), max_batch: 16, ..Default::default() }, Box::new(be)).unwrap();
        let client = Client::new(ClientConfig { base_url: server.url(), model: "mini".into(), api_key_env: "REPRO_BENCH_NO_KEY".into(), max_concurrency: 16, max_retries: 0, ..Default::default() }).unwrap();
        for conc in [1usize, 4, 16] {
            let next = AtomicUsize::new(0);
            let tokens = AtomicU64::new(0);
            let t0 = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..conc {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= REQUESTS {
                            break;
                        }
                        let req = CompletionRequest { prompt: serde_json::json!(ids[i]), max_tokens: Some(MAX_TOKENS), temperature: Some(1.0), ..Default::default() };
                        let r = client.completion(&req).unwrap();
                        tokens.fetch_add(r.usage.unwrap().completion_tokens, Ordering::SeqCst);
                    });
                }
            });
            let secs = t0.elapsed().as_secs_f64();
            let tps = tokens.load(Ordering::SeqCst) as f64 / secs;
            rows.push((format!("server, {conc} concurrent client(s)"), format!("{tps:.0} tokens/s ({:.2}x one-at-a-time in-process; {:.1} ms/request)", tps / one, 1e3 * secs / REQUESTS as f64 * conc as f64)));
        }
        server.shutdown();
        let (again, _) = one_at_a_time();
        rows.push(("in-process, one request at a time (again, after)".into(), format!("{again:.0} tokens/s")));
        drop(p);
    }

    if wanted(&filter, "api/mini_alpaca_eval") {
        let data = shared::io::data_root().expect("no data: run `cargo xtask fetch alpaca_eval_annotator`");
        let judge = WorldJudge::new(world.clone(), "world-judge", JudgeTemplates::from_data(&data)).unwrap();
        let server = Server::start(ServeConfig { addr: "127.0.0.1:0".into(), ..Default::default() }, Box::new(judge)).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let bench = shared::world::alpaca::MiniAlpacaEval::new(&world);
        let items: Vec<Comparison> = bench
            .prompts
            .iter()
            .zip(&bench.baseline)
            .map(|(x, b)| Comparison { instruction: x.text(), output_1: b.clone(), generator_1: "baseline".into(), output_2: world.gold(x), generator_2: "gold".into(), dataset: "mini".into() })
            .collect();
        // Cold: an empty cache (the mini set repeats a few prompts, so a few calls hit the cache
        // already); warm: the same run again.
        for label in ["cold cache", "warm cache"] {
            let client = Client::new(ClientConfig { base_url: server.url(), api_key_env: "REPRO_BENCH_NO_KEY".into(), max_concurrency: 8, cache_dir: Some(cache.path().into()), ..Default::default() }).unwrap();
            let cfg = AnnotatorConfig::load(&alpaca_configs_dir(&data), "weighted_alpaca_eval_gpt4_turbo").expect("run `cargo xtask fetch alpaca_eval_annotator`");
            let aj = AlpacaJudge::new(cfg, &client, Some("world-judge")).unwrap();
            let t0 = Instant::now();
            let ann = aj.annotate(&items).unwrap();
            let secs = t0.elapsed().as_secs_f64();
            let prefs: Vec<f64> = ann.iter().map(|a| a["preference"].as_f64().unwrap() - 1.0).collect();
            let s = client.stats();
            rows.push((
                format!("mini AlpacaEval (300) via the served world judge, {label}"),
                format!("{secs:.2} s; {} calls sent, {} cached; WR {:.1}", s.sent, s.cached, 100.0 * prefs.iter().sum::<f64>() / prefs.len() as f64),
            ));
        }
        server.shutdown();
    }

    println!("\n{:<62} result", "api benchmark");
    for (k, v) in rows {
        println!("{k:<62} {v}");
    }
}
