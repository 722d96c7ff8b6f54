//! An OpenAI-compatible HTTP server: `GET /v1/models`, `POST /v1/chat/completions`,
//! `POST /v1/completions` (and `GET /health`), in front of a [`Backend`].
//!
//! Design: a small synchronous HTTP server (`tiny_http`) with a pool of connection threads and
//! **one worker thread that owns the backend** (the model and its libtorch state). Connection
//! threads check the bearer token, the body size, the JSON and the model name, answer what is
//! wrong with a 4xx and an OpenAI-style error body, and queue the rest. The worker takes the
//! first queued request, waits a few milliseconds for more (up to `max_batch`), and hands the
//! batch to the backend, which runs it as one batched generation with the KV cache. A request
//! arriving while a batch runs waits for the next batch (no continuous batching). A panic in the
//! backend answers the batch with a 500 and the server goes on; bad input never reaches a panic.

use super::types::{ChatRequest, CompletionRequest, ErrorBody};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::io::Read;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// `127.0.0.1:8000` by default; `0.0.0.0:PORT` only when asked for.
    pub addr: String,
    /// Bearer token every request must carry (None = open).
    pub api_key: Option<String>,
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Requests per batch, and how long the worker waits to fill one.
    pub max_batch: usize,
    pub batch_wait_ms: u64,
    /// Connection threads (the most requests waiting at once on the HTTP side).
    pub http_threads: usize,
    /// Queued requests beyond this get 503.
    pub queue: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig { addr: "127.0.0.1:8000".into(), api_key: None, max_body_bytes: 1 << 20, max_batch: 16, batch_wait_ms: 5, http_threads: 32, queue: 256 }
    }
}

/// A validated request's payload.
#[derive(Debug, Clone)]
pub enum Work {
    Chat(ChatRequest),
    Completion(CompletionRequest),
}

/// What the backend sends back for one request: one JSON answer, or a stream of server-sent
/// event payloads closed by `End`.
#[derive(Debug, Clone)]
pub enum Reply {
    Json(u16, Value),
    Chunk(Value),
    End,
}

/// A queued request and where its answer goes.
pub struct Job {
    pub work: Work,
    pub reply: Sender<Reply>,
}

impl Job {
    pub fn answer(&self, status: u16, v: Value) {
        let _ = self.reply.send(Reply::Json(status, v));
    }
    pub fn fail(&self, status: u16, e: ErrorBody) {
        self.answer(status, serde_json::to_value(e).unwrap_or(Value::Null));
    }
}

/// What stands behind the API: a model, or the miniature world's judge.
pub trait Backend: Send {
    /// The model ids served (`/v1/models`); requests naming another get 404.
    fn models(&self) -> Vec<String>;
    /// Serve a batch: every job must get a `Json` reply or a stream ending in `End`.
    fn run(&mut self, jobs: Vec<Job>);
}

pub fn invalid(message: impl Into<String>, param: Option<&str>) -> ErrorBody {
    ErrorBody::new("invalid_request_error", None, param, message)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Bind and start serving `backend` (port 0 picks a free port: see [`Server::addr`]).
    pub fn start(cfg: ServeConfig, backend: Box<dyn Backend>) -> Result<Server> {
        let listener = std::net::TcpListener::bind(&cfg.addr).map_err(|e| Error::invalid(format!("serve address {}", cfg.addr), format!("cannot listen: {e}")))?;
        no_delay(&listener);
        let http = tiny_http::Server::from_listener(listener, None).map_err(|e| Error::invalid(format!("serve address {}", cfg.addr), format!("cannot serve: {e}")))?;
        let addr = http.server_addr().to_ip().ok_or_else(|| Error::invalid("serve address", "not an IP address"))?;
        let http = Arc::new(http);
        let stop = Arc::new(AtomicBool::new(false));
        let models = backend.models();
        let (tx, rx) = mpsc::sync_channel::<Job>(cfg.queue.max(1));
        let mut threads = vec![];
        let (max_batch, wait) = (cfg.max_batch.max(1), Duration::from_millis(cfg.batch_wait_ms));
        // The worker runs libtorch with the caller's CPU thread count (a per-thread setting).
        let torch_threads = tch::get_num_threads();
        threads.push(
            std::thread::Builder::new()
                .name("model-worker".into())
                .spawn(move || {
                    tch::set_num_threads(torch_threads);
                    worker(backend, rx, max_batch, wait)
                })
                .map_err(|e| Error::Other(e.to_string()))?,
        );
        let shared = Arc::new(Shared { cfg: cfg.clone(), models, tx });
        for i in 0..cfg.http_threads.max(1) {
            let (http, stop, shared) = (http.clone(), stop.clone(), shared.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || {
                        while !stop.load(Ordering::SeqCst) {
                            let Ok(req) = http.recv() else { break };
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                            if catch_unwind(AssertUnwindSafe(|| handle(req, &shared))).is_err() {
                                eprintln!("serve: a connection thread recovered from a panic (the request got no answer)");
                            }
                        }
                    })
                    .map_err(|e| Error::Other(e.to_string()))?,
            );
        }
        Ok(Server { addr, http, stop, threads })
    }

    /// The API root, e.g. `http://127.0.0.1:8000/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Serve until the process ends.
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Stop accepting connections and let the threads end.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.threads.len() {
            self.http.unblock();
        }
        // The worker ends when the connection threads drop their queue handles.
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// TCP_NODELAY on the listening socket (Linux passes it on to accepted connections): small
/// JSON answers written in two pieces would otherwise wait ~40 ms for delayed ACKs.
fn no_delay(listener: &std::net::TcpListener) {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: a valid socket fd and a correctly sized option value.
        unsafe {
            libc::setsockopt(listener.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY, &one as *const _ as *const libc::c_void, std::mem::size_of::<libc::c_int>() as libc::socklen_t);
        }
    }
}

struct Shared {
    cfg: ServeConfig,
    models: Vec<String>,
    tx: SyncSender<Job>,
}

fn worker(mut backend: Box<dyn Backend>, rx: Receiver<Job>, max_batch: usize, wait: Duration) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let deadline = Instant::now() + wait;
        while batch.len() < max_batch {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let replies: Vec<Sender<Reply>> = batch.iter().map(|j| j.reply.clone()).collect();
        let (n, t0) = (batch.len(), Instant::now());
        let ok = catch_unwind(AssertUnwindSafe(|| backend.run(batch))).is_ok();
        if std::env::var_os("REPRO_SERVE_LOG").is_some() {
            eprintln!("serve: batch of {n} request(s) in {:.1} ms", 1e3 * t0.elapsed().as_secs_f64());
        }
        if !ok {
            let e = ErrorBody::new("server_error", Some("internal_error"), None, "the model worker failed on this batch (a bug: please report the request); the server goes on");
            for r in replies {
                let _ = r.send(Reply::Json(500, serde_json::to_value(&e).unwrap_or(Value::Null)));
            }
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header names and ASCII values")
}

fn respond_json(req: tiny_http::Request, status: u16, v: &Value) {
    let r = tiny_http::Response::from_string(v.to_string()).with_status_code(status).with_header(header("Content-Type", "application/json"));
    let _ = req.respond(r);
}

fn respond_error(req: tiny_http::Request, status: u16, e: ErrorBody) {
    respond_json(req, status, &serde_json::to_value(e).unwrap_or(Value::Null));
}

/// A `Read` over a reply channel that writes server-sent events (`data: {...}\n\n`, then `data: [DONE]`).
struct EventStream {
    rx: Receiver<Reply>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for EventStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.pos = 0;
            self.buf = match self.rx.recv() {
                Ok(Reply::Chunk(v)) => format!("data: {v}\n\n").into_bytes(),
                Ok(Reply::Json(_, v)) => format!("data: {v}\n\n").into_bytes(),
                Ok(Reply::End) | Err(_) => {
                    self.done = true;
                    b"data: [DONE]\n\n".to_vec()
                }
            };
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn handle(mut req: tiny_http::Request, s: &Shared) {
    let path = req.url().split('?').next().unwrap_or("").trim_end_matches('/').to_string();
    let method = req.method().as_str().to_ascii_uppercase();
    if path == "/health" {
        return respond_json(req, 200, &json!({"status": "ok"}));
    }
    if let Some(key) = &s.cfg.api_key {
        let given = req.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.as_str().to_string());
        if given.as_deref() != Some(&format!("Bearer {key}")) {
            let msg = if given.is_none() { "no API key given: send `Authorization: Bearer <key>`" } else { "incorrect API key" };
            return respond_error(req, 401, ErrorBody::new("invalid_request_error", Some("invalid_api_key"), None, msg));
        }
    }
    let route = match (method.as_str(), path.as_str()) {
        ("GET", "/v1/models") | ("GET", "/models") => {
            let data: Vec<Value> = s.models.iter().map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "preference-papers"})).collect();
            return respond_json(req, 200, &json!({"object": "list", "data": data}));
        }
        ("POST", "/v1/chat/completions") | ("POST", "/chat/completions") => "chat",
        ("POST", "/v1/completions") | ("POST", "/completions") => "completion",
        (_, "/v1/models" | "/v1/chat/completions" | "/v1/completions") => {
            return respond_error(req, 405, invalid(format!("method {method} is not allowed on {path}"), None));
        }
        _ => return respond_error(req, 404, ErrorBody::new("invalid_request_error", Some("unknown_url"), None, format!("unknown URL {path}; this server has /v1/models, /v1/chat/completions, /v1/completions"))),
    };
    let max = s.cfg.max_body_bytes;
    if req.body_length().is_some_and(|n| n > max) {
        return respond_error(req, 413, ErrorBody::new("invalid_request_error", Some("request_too_large"), None, format!("the request body is larger than this server's limit of {max} bytes")));
    }
    let mut body = vec![];
    if let Err(e) = req.as_reader().take(max as u64 + 1).read_to_end(&mut body) {
        return respond_error(req, 400, invalid(format!("could not read the request body: {e}"), None));
    }
    if body.len() > max {
        return respond_error(req, 413, ErrorBody::new("invalid_request_error", Some("request_too_large"), None, format!("the request body is larger than this server's limit of {max} bytes")));
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return respond_error(req, 400, invalid("the request body must be a JSON object", None)),
        Err(e) => return respond_error(req, 400, invalid(format!("the request body is not valid JSON: {e}"), None)),
    };
    let work = match route {
        "chat" => serde_json::from_value::<ChatRequest>(v).map(Work::Chat),
        _ => serde_json::from_value::<CompletionRequest>(v).map(Work::Completion),
    };
    let work = match work {
        Ok(w) => w,
        Err(e) => return respond_error(req, 400, invalid(format!("malformed request: {e}"), None)),
    };
    let (model, stream) = match &work {
        Work::Chat(c) => (c.model.clone(), c.stream.unwrap_or(false)),
        Work::Completion(c) => (c.model.clone(), c.stream.unwrap_or(false)),
    };
    if !s.models.contains(&model) {
        return respond_error(
            req,
            404,
            ErrorBody::new("invalid_request_error", Some("model_not_found"), Some("model"), format!("the model {model:?} does not exist here; this server serves {:?}", s.models)),
        );
    }
    let (tx, rx) = mpsc::channel();
    match s.tx.try_send(Job { work, reply: tx }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return respond_error(req, 503, ErrorBody::new("server_error", Some("overloaded"), None, "the request queue is full; retry later")),
        Err(TrySendError::Disconnected(_)) => return respond_error(req, 500, ErrorBody::new("server_error", None, None, "the model worker has stopped")),
    }
    match rx.recv() {
        Ok(Reply::Json(status, v)) => respond_json(req, status, &v),
        Ok(first @ Reply::Chunk(_)) if stream => {
            let (ftx, frx) = mpsc::channel();
            let _ = ftx.send(first);
            // Forward the rest of the stream behind the first chunk.
            std::thread::spawn(move || {
                while let Ok(r) = rx.recv() {
                    let end = matches!(r, Reply::End);
                    if ftx.send(r).is_err() || end {
                        break;
                    }
                }
            });
            let body = EventStream { rx: frx, buf: vec![], pos: 0, done: false };
            let r = tiny_http::Response::new(
                tiny_http::StatusCode(200),
                vec![header("Content-Type", "text/event-stream"), header("Cache-Control", "no-cache")],
                body,
                None,
                None,
            );
            let _ = req.respond(r);
        }
        Ok(_) | Err(_) => respond_error(req, 500, ErrorBody::new("server_error", None, None, "the model worker gave no answer")),
    }
}
