//! `cargo xtask serve <checkpoint folder or hub id>`: the project's model over the
//! OpenAI-compatible API; `--world-judge` serves the miniature world's judges instead.

use anyhow::{bail, Context, Result};
use clap::Parser;
use shared::api::backend::{ModelBackend, ModelLimits};
use shared::api::server::{Backend, ServeConfig, Server};
use shared::api::world_judge::{JudgeTemplates, WorldJudge};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "serve", about = "Serve a checkpoint (or the world's judge) over the OpenAI-compatible API")]
struct Args {
    /// A checkpoint folder (config.json, tokenizer.json, *.safetensors) or a hub id owner/name[@rev].
    checkpoint: Option<String>,
    /// Address to bind; 127.0.0.1 unless told otherwise (e.g. 0.0.0.0:8000 to serve the network).
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// The model id clients use (default: the folder name or hub id).
    #[arg(long)]
    name: Option<String>,
    /// Require this bearer token (default: the REPRO_SERVE_API_KEY variable when set, else open).
    #[arg(long)]
    api_key: Option<String>,
    /// `cpu` or `cuda`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// libtorch CPU threads.
    #[arg(long)]
    threads: Option<i32>,
    #[arg(long, default_value_t = 16)]
    max_batch: usize,
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    #[arg(long, default_value_t = 512)]
    max_new_tokens: usize,
    /// Serve the miniature world's judges (AlpacaEval and WildBench prompts) instead of a model.
    #[arg(long)]
    world_judge: bool,
    /// Fetched data (for the judge templates; default: REPRO_DATA or the mirror).
    #[arg(long)]
    data: Option<PathBuf>,
}

fn main() -> Result<()> {
    let a = Args::parse();
    if let Some(t) = a.threads {
        shared::device::set_threads(t);
    }
    let api_key = a.api_key.clone().or_else(|| std::env::var("REPRO_SERVE_API_KEY").ok().filter(|k| !k.is_empty()));
    let backend: Box<dyn Backend> = if a.world_judge {
        let data = a.data.clone().or_else(shared::io::data_root).context("no data folder: pass --data or run `cargo xtask fetch alpaca_eval_annotator`")?;
        let templates = JudgeTemplates::from_data(&data);
        if templates.alpaca_eval.is_none() && templates.wildbench_pairwise.is_none() {
            bail!("no judge templates under {}: run `cargo xtask fetch alpaca_eval_annotator` and `cargo xtask fetch wildbench_templates`", data.display());
        }
        let world = shared::world::World::new(shared::world::WorldConfig::default())?;
        Box::new(WorldJudge::new(world, a.name.as_deref().unwrap_or("world-judge"), templates)?)
    } else {
        let spec = a.checkpoint.clone().context("give a checkpoint folder or hub id (or --world-judge)")?;
        let device = shared::device::resolve(&a.device)?;
        let name = a.name.clone().unwrap_or_else(|| spec.trim_end_matches('/').rsplit('/').next().unwrap_or(&spec).to_string());
        let limits = ModelLimits { max_new_tokens: a.max_new_tokens, ..Default::default() };
        eprintln!("loading {spec} on {}", a.device);
        Box::new(ModelBackend::load(&spec, device, &name, limits).with_context(|| format!("loading {spec}"))?)
    };
    let models = backend.models();
    let cfg = ServeConfig { addr: a.addr.clone(), api_key: api_key.clone(), max_body_bytes: a.max_body_bytes, max_batch: a.max_batch, ..Default::default() };
    let server = Server::start(cfg, backend)?;
    eprintln!("serving {models:?} at {} ({})", server.url(), if api_key.is_some() { "bearer token required" } else { "no token" });
    server.wait();
    Ok(())
}
