//! The cached SFT base: the tiny shared Llama trained once per configuration on the world's
//! demonstrations and reused by every paper. It lives in `checkpoints/sft-base-<key>/` where the
//! key hashes the world's version, the world config and the base config; a folder with
//! `done.json` is complete and is loaded instead of retrained. An interrupted run resumes from
//! its checkpoint in the same folder.

use super::tokenizer::WorldTokenizer;
use super::{World, WorldConfig, WORLD_VERSION};
use crate::error::{Error, Result};
use crate::model::{Llama, LlamaConfig};
use crate::train::schedule::Schedule;
use crate::train::sft::{self, LossNorm, SftConfig, SftExample};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::Device;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TinyModel {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseConfig {
    pub model: TinyModel,
    /// Demonstrations drawn (seeded) for SFT.
    pub demos: usize,
    pub sft: SftConfig,
    /// libtorch CPU threads.
    pub threads: i32,
}

impl BaseConfig {
    /// The committed miniature base (about 2.5 minutes on an idle 2-core CPU).
    pub fn mini() -> Self {
        BaseConfig {
            model: TinyModel { hidden_size: 96, intermediate_size: 256, num_hidden_layers: 3, num_attention_heads: 4, max_position_embeddings: 128 },
            demos: 20_000,
            sft: SftConfig {
                train: TrainConfig {
                    steps: Some(3000),
                    log_every: 25,
                    checkpoint_every: 200,
                    keep_checkpoints: 1,
                    ..TrainConfig::new(32, 32, Schedule::cosine(3e-3, 0.05))
                },
                loss_norm: LossNorm::TokenMean,
            },
            threads: 2,
        }
    }

    /// The smoke base: the same pipeline in seconds (for tests).
    pub fn smoke() -> Self {
        let mut c = Self::mini();
        c.model = TinyModel { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 128 };
        c.demos = 512;
        c.sft.train.steps = Some(30);
        c.sft.train.batch_size = 16;
        c.sft.train.micro_batch = 8;
        c.sft.train.log_every = 5;
        c.sft.train.checkpoint_every = 10;
        c
    }

    pub fn for_scale(scale: crate::cli::Scale) -> Self {
        match scale {
            crate::cli::Scale::Smoke => Self::smoke(),
            _ => Self::mini(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.sft.validate()?;
        if self.demos == 0 {
            return Err(Error::invalid("base.demos", "must be > 0"));
        }
        self.llama_config(1).validate()
    }

    /// The Hugging Face-style config of the tiny model for a vocabulary of `vocab` tokens.
    pub fn llama_config(&self, vocab: usize) -> LlamaConfig {
        let m = &self.model;
        serde_json::from_value(serde_json::json!({
            "model_type": "llama",
            "vocab_size": vocab,
            "hidden_size": m.hidden_size,
            "intermediate_size": m.intermediate_size,
            "num_hidden_layers": m.num_hidden_layers,
            "num_attention_heads": m.num_attention_heads,
            "rms_norm_eps": 1e-5,
            "max_position_embeddings": m.max_position_embeddings,
            "tie_word_embeddings": true,
        }))
        .expect("a complete llama config")
    }
}

/// The cache key: the world's version, both configs and the seed.
pub fn cache_key(world: &WorldConfig, base: &BaseConfig, seed: u64) -> String {
    let mut h = Sha256::new();
    h.update(WORLD_VERSION.as_bytes());
    h.update(world.to_toml().as_bytes());
    h.update(serde_json::to_string(base).expect("serialisable").as_bytes());
    h.update(seed.to_le_bytes());
    format!("{:x}", h.finalize())[..12].to_string()
}

/// Where cached bases live: `REPRO_CHECKPOINTS`, else `checkpoints/` at the workspace root.
pub fn checkpoints_root() -> PathBuf {
    if let Ok(d) = std::env::var("REPRO_CHECKPOINTS") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(|p| p.join("checkpoints")).unwrap_or_else(|| PathBuf::from("checkpoints"))
}

/// A loaded base: its variables, the model, the tokenizer and where it lives.
pub struct Base {
    pub vs: VarStore,
    pub model: Llama,
    pub tok: WorldTokenizer,
    pub dir: PathBuf,
    /// Whether this call trained it (false: loaded from the cache).
    pub trained: bool,
    pub report: Option<crate::train::Summary>,
}

#[derive(Serialize, Deserialize)]
struct Done {
    key: String,
    world_version: String,
    steps: u64,
    final_loss: f64,
    seconds: f64,
}

/// Tokenised demonstrations for the base.
pub fn sft_data(world: &World, tok: &WorldTokenizer, n: usize, seed: u64) -> Result<Vec<SftExample>> {
    let demos = world.demos(n, &mut super::rng(seed, "sft-base-demos"));
    demos.iter().map(|d| Ok(SftExample { prompt: tok.encode_prompt(&d.prompt.text())?, response: tok.encode_response(&d.response)? })).collect()
}

/// The default world and its cached base for a scale: what every paper's miniature starts from.
pub fn world_and_base(scale: crate::cli::Scale, seed: u64, device: Device) -> Result<(World, Base)> {
    let world = World::new(WorldConfig::default())?;
    eprintln!("==> SFT base ({} scale; cached after the first run)", scale.name());
    let base = ensure(&world, &BaseConfig::for_scale(scale), seed, &checkpoints_root(), device)?;
    Ok((world, base))
}

/// Load the cached base for (world, base config, seed), training it first if needed.
pub fn ensure(world: &World, cfg: &BaseConfig, seed: u64, root: &Path, device: Device) -> Result<Base> {
    cfg.validate()?;
    let key = cache_key(&world.cfg, cfg, seed);
    let dir = root.join(format!("sft-base-{key}"));
    let tok = WorldTokenizer::new()?;
    let lcfg = cfg.llama_config(tok.vocab_size());
    crate::device::seed_torch(seed);
    let mut vs = VarStore::new(device);
    let model = Llama::new(&vs.root(), &lcfg)?;
    let weights = dir.join("model.safetensors");
    if dir.join("done.json").exists() {
        vs.load(&weights).map_err(|e| Error::invalid(weights.display().to_string(), format!("cached base unreadable ({e}); delete {} to retrain", dir.display())))?;
        return Ok(Base { vs, model, tok, dir, trained: false, report: None });
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    crate::io::write_atomic(&dir.join("world.toml"), world.cfg.to_toml().as_bytes())?;
    crate::io::write_json(&dir.join("base.json"), cfg)?;
    crate::io::write_json(&dir.join("config.json"), &lcfg)?;
    let tj = tok.tok.to_string(true).map_err(|e| Error::Other(format!("serialising the tokenizer: {e}")))?;
    crate::io::write_atomic(&dir.join("tokenizer.json"), tj.as_bytes())?;
    let data = sft_data(world, &tok, cfg.demos, seed)?;
    let mut sft_cfg = cfg.sft.clone();
    sft_cfg.train.seed = seed; // the data order follows the run's seed
    let report = sft::train(&model, &mut vs, &data, tok.pad, &sft_cfg, &dir)?;
    crate::model::weights::save(&vs, &weights)?;
    let done = Done { key, world_version: WORLD_VERSION.into(), steps: report.steps, final_loss: report.final_loss, seconds: report.seconds };
    crate::io::write_json(&dir.join("done.json"), &done)?;
    // The resume checkpoint is no longer needed once the final weights are written.
    let _ = std::fs::remove_dir_all(dir.join("ckpt"));
    Ok(Base { vs, model, tok, dir, trained: true, report: Some(report) })
}
