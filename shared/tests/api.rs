//! The OpenAI-compatible API end to end, on 127.0.0.1 only: `serve`'s model backend against the
//! in-process generation it wraps, bad requests and what they return, the client's retries and
//! cache against a flaky server, the samplers, the official `openai` Python client, and the whole
//! AlpacaEval annotator path (upstream's template and config, HTTP, log-prob parsing,
//! annotations.json, win rate, LC, leaderboard row) against the world's judge behind the API.

use serde_json::{json, Value};
use shared::api::alpaca_judge::{leaderboard_csv, upstream_switch, AlpacaJudge, AnnotatorConfig, Comparison};
use shared::api::backend::{ModelBackend, ModelLimits};
use shared::api::sampler::{world_test_checkpoint, InProcess, ManagedServer, Sampler, ServerSampler};
use shared::api::server::{ServeConfig, Server};
use shared::api::types::{ChatMessage, ChatRequest, CompletionRequest};
use shared::api::world_judge::{alpaca_configs_dir, JudgeTemplates, WorldJudge};
use shared::api::{Client, ClientConfig};
use shared::model::generate::{generate, GenerateConfig};
use shared::model::pretrained::Pretrained;
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{World, WorldConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A tiny world checkpoint (seeded random weights) in a temp folder.
fn checkpoint() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    world_test_checkpoint(dir.path(), 32, 1, 2, 96, 11).unwrap();
    dir
}

fn serve_model(dir: &Path, api_key: Option<&str>) -> Server {
    let be = ModelBackend::load(dir.to_str().unwrap(), tch::Device::Cpu, "tiny", ModelLimits { max_new_tokens: 48, ..Default::default() }).unwrap();
    let cfg = ServeConfig { addr: "127.0.0.1:0".into(), api_key: api_key.map(String::from), max_body_bytes: 64 * 1024, http_threads: 8, ..Default::default() };
    Server::start(cfg, Box::new(be)).unwrap()
}

fn client(url: &str) -> Client {
    Client::new(ClientConfig { base_url: url.into(), model: "tiny".into(), api_key_env: "REPRO_TEST_NO_KEY".into(), max_retries: 0, ..Default::default() }).unwrap()
}

/// Raw HTTP: (status, body) for any bytes, so malformed requests can be sent.
fn raw(url: &str, path: &str, body: &[u8], token: Option<&str>) -> (u16, Value) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let mut req = agent.post(&format!("{}{path}", url.trim_end_matches("/v1"))).set("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.send_bytes(body) {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(c, r)) => (c, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("transport error: {e}"),
    }
}

fn data_dir() -> PathBuf {
    let d = shared::io::data_root().expect("no data folder: run `cargo xtask fetch all` (or set REPRO_DATA)");
    let cfg = alpaca_configs_dir(&d).join("weighted_alpaca_eval_gpt4_turbo/configs.yaml");
    assert!(cfg.exists(), "missing {}: run `cargo xtask fetch alpaca_eval_annotator` (needs PyPI) and set REPRO_DATA to datasets/.cache", cfg.display());
    d
}

#[test]
fn served_greedy_text_is_in_process_generation_and_bad_requests_get_openai_errors() {
    let dir = checkpoint();
    let server = serve_model(dir.path(), None);
    let url = server.url();
    let c = client(&url);
    assert_eq!(c.models().unwrap(), vec!["tiny".to_string()]);

    // Greedy completion from token ids == the model's own generate, token for token.
    let p = Pretrained::load(dir.path().to_str().unwrap(), tch::Device::Cpu).unwrap();
    let tok = WorldTokenizer::new().unwrap();
    let ids = tok.encode_prompt("reverse cat").unwrap();
    let gen = GenerateConfig { max_new_tokens: 12, temperature: 0.0, top_p: 1.0, stop_tokens: vec![tok.eos], seed: 0 };
    let want = generate(&p.model, std::slice::from_ref(&ids), tok.pad, &gen).unwrap().remove(0);
    let want: Vec<i64> = want.into_iter().filter(|t| *t != tok.eos).collect();
    let r = c
        .completion(&CompletionRequest { prompt: json!(ids), max_tokens: Some(12), temperature: Some(0.0), logprobs: Some(2), return_tokens_as_token_ids: Some(true), ..Default::default() })
        .unwrap();
    let got: Vec<i64> = r.choices[0].logprobs.as_ref().unwrap().tokens.iter().map(|t| t.strip_prefix("token_id:").unwrap().parse().unwrap()).collect();
    assert_eq!(got, want);
    assert_eq!(r.choices[0].text, tok.decode_response(&want));
    let lp = r.choices[0].logprobs.as_ref().unwrap();
    assert!(lp.token_logprobs.iter().all(|l| l.unwrap() <= 0.0) && lp.top_logprobs.iter().all(|t| t.as_ref().unwrap().len() == 2));
    assert_eq!(r.usage.unwrap().prompt_tokens, ids.len() as u64);

    // Chat in the world's prompt format gives the same text; n samples; echo with log-probs.
    let chat = c.chat(&ChatRequest { messages: vec![ChatMessage::new("user", "reverse cat")], max_tokens: Some(12), temperature: Some(0.0), logprobs: Some(true), top_logprobs: Some(3), ..Default::default() }).unwrap();
    assert_eq!(chat.choices[0].message.content.as_deref(), Some(r.choices[0].text.as_str()));
    assert_eq!(chat.choices[0].logprobs.as_ref().unwrap().content.as_ref().unwrap().len(), want.len());
    let many = c.chat(&ChatRequest { messages: vec![ChatMessage::new("user", "add 2 3")], n: Some(3), max_tokens: Some(5), seed: Some(1), ..Default::default() }).unwrap();
    assert_eq!(many.choices.len(), 3);
    let echo = c.completion(&CompletionRequest { prompt: json!(ids), max_tokens: Some(0), echo: Some(true), logprobs: Some(0), ..Default::default() }).unwrap();
    let e = echo.choices[0].logprobs.as_ref().unwrap();
    assert_eq!((e.tokens.len(), e.token_logprobs[0], e.token_logprobs.iter().skip(1).all(|l| l.is_some())), (ids.len(), None, true));

    // Streaming: server-sent events whose deltas join to the non-streamed text.
    let agent = ureq::AgentBuilder::new().build();
    let body = json!({"model": "tiny", "messages": [{"role": "user", "content": "reverse cat"}], "max_tokens": 12, "temperature": 0, "stream": true});
    let text = agent.post(&format!("{url}/chat/completions")).send_json(body).unwrap().into_string().unwrap();
    let mut joined = String::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if line == "[DONE]" {
            break;
        }
        let v: Value = serde_json::from_str(line).unwrap();
        joined.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
    }
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert_eq!(joined, r.choices[0].text);

    // Bad requests: each a 4xx with an OpenAI error body, and the server keeps serving.
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", "/v1/chat/completions", b"{\"model\": \"tiny\", \"messages\": [".to_vec(), 400, "not valid JSON"),
        ("unknown model", "/v1/chat/completions", br#"{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}"#.to_vec(), 404, "does not exist"),
        ("missing field", "/v1/chat/completions", br#"{"model":"tiny"}"#.to_vec(), 400, "missing field `messages`"),
        ("oversized prompt", "/v1/completions", serde_json::to_vec(&json!({"model": "tiny", "prompt": "x".repeat(200), "max_tokens": 4})).unwrap(), 400, "maximum context length"),
        ("body over the limit", "/v1/completions", vec![b' '; 70 * 1024], 413, "larger than"),
        ("bad temperature", "/v1/chat/completions", br#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"temperature":-1}"#.to_vec(), 400, "temperature"),
        ("token id outside the vocabulary", "/v1/completions", br#"{"model":"tiny","prompt":[1, 99999]}"#.to_vec(), 400, "vocabulary"),
        ("not an object", "/v1/completions", b"[1,2]".to_vec(), 400, "JSON object"),
        ("unknown URL", "/v1/embeddings", b"{}".to_vec(), 404, "unknown URL"),
    ];
    for (what, path, body, status, needle) in cases {
        let (s, v) = raw(&url, path, &body, None);
        let msg = v["error"]["message"].as_str().unwrap_or("");
        assert_eq!(s, status, "{what}: {v}");
        assert!(msg.contains(needle) && v["error"]["type"].is_string(), "{what}: {v}");
    }
    assert_eq!(c.models().unwrap().len(), 1, "still serving after the bad requests");
    server.shutdown();

    // A bearer token: missing or wrong -> 401.
    let server = serve_model(dir.path(), Some("s3cret"));
    let ok = br#"{"model":"tiny","prompt":"reverse cat","max_tokens":2}"#;
    assert_eq!(raw(&server.url(), "/v1/completions", ok, None).0, 401);
    let (s, v) = raw(&server.url(), "/v1/completions", ok, Some("wrong"));
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("invalid_api_key")));
    assert_eq!(raw(&server.url(), "/v1/completions", ok, Some("s3cret")).0, 200);
    server.shutdown();
}

#[test]
fn client_retries_on_429_with_retry_after_then_caches() {
    // A server that answers 429 (Retry-After: 0) twice, then 200.
    let http = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = http.server_addr().to_ip().unwrap();
    let handle = std::thread::spawn(move || {
        for i in 0..3 {
            let req = http.recv().unwrap();
            let (code, body) = if i < 2 { (429, r#"{"error":{"message":"slow down","type":"rate_limit"}}"#) } else { (200, r#"{"id":"x","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#) };
            let r = tiny_http::Response::from_string(body).with_status_code(code).with_header(tiny_http::Header::from_bytes(&b"Retry-After"[..], &b"0"[..]).unwrap());
            req.respond(r).unwrap();
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let c = Client::new(ClientConfig { base_url: format!("http://{addr}/v1"), model: "m".into(), api_key_env: "REPRO_TEST_NO_KEY".into(), max_retries: 3, backoff_s: 5.0, backoff_max_s: 5.0, cache_dir: Some(cache.path().into()), price_prompt_per_mtok: 1e6, ..Default::default() }).unwrap();
    let req = ChatRequest { messages: vec![ChatMessage::new("user", "hello")], ..Default::default() };
    let t0 = std::time::Instant::now();
    assert_eq!(c.chat(&req).unwrap().choices[0].message.content.as_deref(), Some("hi"));
    assert!(t0.elapsed() < Duration::from_secs(4), "Retry-After: 0 must win over the 5 s backoff");
    handle.join().unwrap();
    // The server is gone: the same request is answered from the cache.
    assert_eq!(c.chat(&req).unwrap().choices[0].message.content.as_deref(), Some("hi"));
    let s = c.stats();
    assert_eq!((s.sent, s.cached, s.retries, s.prompt_tokens, s.cached_prompt_tokens), (1, 1, 2, 3, 3));
    assert!(c.summary().contains("cost $3.0000"), "{}", c.summary());
    // A 4xx other than 429 is not retried; a dead server fails after the retries with the URL named.
    let dead = Client::new(ClientConfig { base_url: format!("http://{addr}/v1"), max_retries: 1, backoff_s: 0.0, backoff_max_s: 0.0, api_key_env: "REPRO_TEST_NO_KEY".into(), ..Default::default() }).unwrap();
    let e = dead.chat(&ChatRequest { model: "m".into(), ..req }).unwrap_err().to_string();
    assert!(e.contains(&addr.to_string()) && e.contains("2 attempts"), "{e}");
}

#[test]
fn samplers_in_process_and_through_servers_agree_when_greedy() {
    let dir = checkpoint();
    let p = Pretrained::load(dir.path().to_str().unwrap(), tch::Device::Cpu).unwrap();
    let tok = WorldTokenizer::new().unwrap();
    let prompts: Vec<Vec<i64>> = ["reverse cat", "add 2 3", "upper dog"].iter().map(|t| tok.encode_prompt(t).unwrap()).collect();
    let gen = GenerateConfig { max_new_tokens: 10, temperature: 0.0, top_p: 1.0, stop_tokens: vec![tok.eos], seed: 0 };
    let mut local = InProcess { model: &p.model, pad_id: tok.pad, prompts_per_batch: 2 };
    let want = local.sample(&prompts, 2, &gen).unwrap();
    let server = serve_model(dir.path(), None);
    let mut remote = ServerSampler::new(&server.url(), "tiny", 3).unwrap();
    assert_eq!(remote.sample(&prompts, 2, &gen).unwrap(), want);
    server.shutdown();
    // A server started on the checkpoint by the sampler itself (the per-iteration path).
    let serve = env!("CARGO_BIN_EXE_serve").to_string();
    let cmd = vec![serve, "{checkpoint}".into(), "--addr".into(), "127.0.0.1:{port}".into(), "--name".into(), "policy".into(), "--threads".into(), "1".into()];
    let mut managed = ManagedServer::new(cmd, "policy", 2, Duration::from_secs(120));
    assert!(managed.sample(&prompts, 1, &gen).is_err(), "nothing loaded yet");
    managed.load(dir.path()).unwrap();
    assert_eq!(managed.sample(&prompts, 2, &gen).unwrap(), want);
}

#[test]
fn the_official_openai_python_client_talks_to_serve() {
    let python = std::env::var("REPRO_PYTHON").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_string());
    let has = std::process::Command::new(&python).args(["-c", "import openai"]).output().is_ok_and(|o| o.status.success());
    assert!(has, "the `openai` Python package is missing from {python}: `cargo xtask test` installs it (or pip install openai==3.63.0)");
    let dir = checkpoint();
    let server = serve_model(dir.path(), Some("k"));
    let script = r#"
import json, sys, openai
c = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)
assert [m.id for m in c.models.list().data] == ["tiny"]
r = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "reverse cat"}], max_tokens=8, temperature=0, logprobs=True, top_logprobs=2)
out = {"chat": r.choices[0].message.content, "n_lp": len(r.choices[0].logprobs.content), "finish": r.choices[0].finish_reason}
t = c.completions.create(model="tiny", prompt="<bos>reverse cat<sep>", max_tokens=8, temperature=0)
out["completion"] = t.choices[0].text
s = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "reverse cat"}], max_tokens=8, temperature=0, stream=True)
out["stream"] = "".join(ch.choices[0].delta.content or "" for ch in s if ch.choices)
try:
    c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
except openai.NotFoundError as e:
    out["unknown_model"] = e.status_code
try:
    openai.OpenAI(base_url=sys.argv[1], api_key="wrong", max_retries=0).models.list()
except openai.AuthenticationError as e:
    out["wrong_key"] = e.status_code
print(json.dumps(out))
"#;
    let o = std::process::Command::new(&python).arg("-c").arg(script).arg(server.url()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["chat"], v["completion"]);
    assert_eq!(v["chat"], v["stream"]);
    assert!(v["n_lp"].as_u64().unwrap() >= 1 || v["finish"] == "stop", "{v}");
    assert_eq!((v["unknown_model"].as_u64(), v["wrong_key"].as_u64()), (Some(404), Some(401)));
    server.shutdown();
}

#[test]
fn alpaca_eval_annotator_end_to_end_against_the_worlds_judge() {
    let data = data_dir();
    let world = World::new(WorldConfig::default()).unwrap();
    let judge = WorldJudge::new(world.clone(), "world-judge", JudgeTemplates::from_data(&data)).unwrap();
    let server = Server::start(ServeConfig { addr: "127.0.0.1:0".into(), ..Default::default() }, Box::new(judge)).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let c = Client::new(ClientConfig { base_url: server.url(), api_key_env: "REPRO_TEST_NO_KEY".into(), max_concurrency: 4, cache_dir: Some(cache.path().into()), ..Default::default() }).unwrap();
    let cfg = AnnotatorConfig::load(&alpaca_configs_dir(&data), "weighted_alpaca_eval_gpt4_turbo").unwrap();
    assert_eq!((cfg.model_name.as_str(), cfg.top_logprobs, cfg.numerator_token.as_str()), ("gpt-4-1106-preview", 5, "m"));
    let aj = AlpacaJudge::new(cfg, &c, Some("world-judge")).unwrap();

    // The mini AlpacaEval: the model answers with the gold response on even prompts, a long
    // wrong one on odd prompts; the baseline is the world's fixed baseline.
    let bench = shared::world::alpaca::MiniAlpacaEval::new(&world);
    let n = 60;
    let outputs: Vec<String> = bench.prompts[..n].iter().enumerate().map(|(i, x)| if i % 2 == 0 { world.gold(x) } else { "a very long and wrong answer indeed".into() }).collect();
    let items: Vec<Comparison> = (0..n)
        .map(|i| Comparison { instruction: bench.prompts[i].text(), output_1: bench.baseline[i].clone(), generator_1: "baseline".into(), output_2: outputs[i].clone(), generator_2: "gold-or-long".into(), dataset: "mini".into() })
        .collect();
    let ann = aj.annotate(&items).unwrap();
    assert_eq!(ann.len(), n);
    let mut switched = 0;
    let mut want_wr = 0.0;
    for (i, a) in ann.iter().enumerate() {
        let x = &bench.prompts[i];
        let sw = upstream_switch(&items[i].instruction, 0);
        switched += sw as usize;
        assert_eq!(a["is_switched_outputs"], sw);
        // preference - 1 = P(model ≻ baseline) in the order the judge was shown.
        let want = if sw { world.judge.prob(x, &outputs[i], &bench.baseline[i]) } else { 1.0 - world.judge.prob(x, &bench.baseline[i], &outputs[i]) };
        let got = a["preference"].as_f64().unwrap() - 1.0;
        want_wr += 100.0 * want / n as f64;
        assert!((got - want).abs() < 1e-9, "row {i}: {got} vs {want}");
        assert_eq!((a["output_1"].as_str(), a["annotator"].as_str()), (Some(bench.baseline[i].as_str()), Some("weighted_alpaca_eval_gpt4_turbo")));
    }
    assert!(switched > 10 && switched < 50, "the swap coin is fair: {switched} of {n}");
    // annotations.json is read back by the project's loader, then raw WR, LC and a leaderboard row.
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("results/gold-or-long/weighted_alpaca_eval_gpt4_turbo/annotations.json");
    shared::io::write_json(&path, &ann).unwrap();
    let loaded = shared::eval::alpaca_eval::load_annotations(out.path(), "gold-or-long").unwrap();
    let raw = loaded.win_rate().unwrap();
    let lc = shared::world::alpaca::length_controlled_win_rate(&loaded.win_probs().into_iter().map(Option::unwrap).collect::<Vec<_>>(), &loaded.delta_len()).unwrap();
    let (lc, lc_se) = lc;
    assert!((raw.win_rate - want_wr).abs() < 1e-9 && lc.is_finite() && lc > 0.0 && lc < 100.0, "WR {} (want {want_wr}), LC {lc}", raw.win_rate);
    let row = shared::eval::alpaca_eval::LeaderboardRow {
        model: "gold-or-long".into(), win_rate: raw.win_rate, standard_error: raw.standard_error, n_wins: raw.n_wins, n_wins_base: raw.n_wins_base, n_draws: raw.n_draws,
        n_total: raw.n_total, discrete_win_rate: raw.discrete_win_rate, mode: "minimal".into(), avg_length: loaded.avg_length(), length_controlled_winrate: Some(lc), lc_standard_error: Some(lc_se),
    };
    let csv = leaderboard_csv(&[row]);
    let lb = out.path().join("leaderboard.csv");
    std::fs::write(&lb, &csv).unwrap();
    assert_eq!(shared::eval::alpaca_eval::load_leaderboard(&lb).unwrap()[0].n_total, n);
    // A rerun costs nothing: every call comes from the cache, same annotations.
    let sent = c.stats().sent;
    assert_eq!(sent, n as u64);
    let again = aj.annotate(&items).unwrap();
    assert_eq!(c.stats().sent, sent);
    assert_eq!(c.stats().cached, n as u64);
    for (a, b) in ann.iter().zip(&again) {
        assert_eq!(a["preference"], b["preference"]);
    }
    server.shutdown();
}

/// The on-policy loop sampling through a server that is restarted on each iterate (vLLM's place
/// at paper scale; the project's `serve` here): iteration t's server serves exactly π_t, and the
/// loop trains on what came back over HTTP.
#[test]
fn on_policy_loop_samples_each_iterate_through_a_managed_server() {
    use shared::model::LlamaConfig;
    use shared::objectives::dpo::Dpo;
    use shared::train::iterate::{run, GroupAnnotator, IterateConfig, Reference};
    use shared::train::pairs::PairRule;
    use shared::train::schedule::Schedule;
    use shared::train::served::{Servable, Served};
    use shared::train::TrainConfig;
    let ck = checkpoint();
    let mut p = Pretrained::load(ck.path().to_str().unwrap(), tch::Device::Cpu).unwrap();
    let tok = WorldTokenizer::new().unwrap();
    let prompts: Vec<Vec<i64>> = ["reverse cat", "add 2 3", "upper dog", "sort b a c"].iter().map(|t| tok.encode_prompt(t).unwrap()).collect();
    let inner = GroupAnnotator {
        prompts: vec![prompts.clone(), prompts],
        samples: 4,
        prompts_per_batch: 4,
        gen: GenerateConfig { max_new_tokens: 8, temperature: 1.0, top_p: 1.0, stop_tokens: vec![tok.eos], seed: 5 },
        rule: PairRule::BestVsWorst,
        pad: tok.pad,
        seed: 1,
        decode: |ids: &[i64]| format!("{ids:?}"),
        // Longer is better: any score that separates samples will do here.
        score: |_, _, ys: &[String]| Ok(ys.iter().map(|y| y.len() as f64).collect()),
    };
    let out = tempfile::tempdir().unwrap();
    let servable = Servable {
        config: LlamaConfig::from_file(ck.path().join("config.json")).unwrap(),
        tokenizer_json: std::fs::read_to_string(ck.path().join("tokenizer.json")).unwrap(),
        tokenizer_config: None,
        initial: ck.path().join("model.safetensors"),
        run_dir: out.path().to_path_buf(),
    };
    let serve = env!("CARGO_BIN_EXE_serve").to_string();
    let cmd = vec![serve, "{checkpoint}".into(), "--addr".into(), "127.0.0.1:{port}".into(), "--name".into(), "policy".into(), "--threads".into(), "1".into()];
    let sampler = Box::new(ManagedServer::new(cmd, "policy", 2, Duration::from_secs(120)));
    let mut annotator = Served { inner, sampler, servable };
    let train = TrainConfig { seed: 1, ..TrainConfig::new(4, 2, Schedule::cosine(1e-2, 0.0)).truncating(64, 32) };
    let cfg = IterateConfig { iterations: 2, reference: Reference::Previous, train, seed_per_iteration: false };
    let records = run(&p.model, &mut p.vs, &mut annotator, &Dpo::new(0.1), &cfg, tok.pad, "world", out.path()).unwrap();
    assert!(records.len() == 2 && records.iter().all(|r| r.examples > 0), "{records:?}");
    let bytes = |path: PathBuf| std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Iteration 1 sampled π_0 (the checkpoint), iteration 2 sampled π_1 (iteration 1's iterate).
    assert_eq!(bytes(out.path().join("iter-1/policy/model.safetensors")), bytes(ck.path().join("model.safetensors")));
    assert_eq!(bytes(out.path().join("iter-2/policy/model.safetensors")), bytes(out.path().join("iter-1/model.safetensors")));
    assert_ne!(bytes(out.path().join("iter-1/model.safetensors")), bytes(ck.path().join("model.safetensors")), "iteration 1 trained");
    assert!(annotator.sampler.describe().contains("iter-2/policy"), "{}", annotator.sampler.describe());
}
