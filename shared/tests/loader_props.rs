//! Property tests: every loader of outside data in `shared`, fed arbitrary bytes, truncated
//! prefixes of a valid file and lightly edited valid files, returns a value or an error naming
//! the file, and never panics (proptest turns a panic into a failing case and shrinks it).

mod props;

use props::{config, corrupted, corrupted_text, names};
use proptest::prelude::*;
use shared::eval::alpaca_eval as ae;
use shared::model::{weights, LlamaConfig, Llama};
use shared::tokenize::Tokenizer;
use shared::train::checkpoint::{self, TrainState};
use shared::train::optim::{AdamW, AdamWConfig};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const ANNOTATIONS: &str = r#"[
 {"instruction": "Name a colour.", "output_1": "Blue.", "output_2": "Red, like a rose.", "generator_1": "gpt4_1106_preview", "generator_2": "m", "preference": 1.72},
 {"instruction": "Add 2 and 3.", "output_1": "5", "output_2": "It is 5.", "generator_1": "gpt4_1106_preview", "generator_2": "m", "preference": null},
 {"instruction": "Say hi.", "output_1": "Hi!", "output_2": "Hello.", "generator_1": "gpt4_1106_preview", "generator_2": "m", "preference": 1.0}
]"#;

const OUTPUTS: &str = r#"[{"instruction": "Name a colour.", "output": "Blue.", "generator": "m"}, {"instruction": "Say hi.", "output": "Hi!", "generator": "m"}]"#;

const LEADERBOARD: &str = ",win_rate,standard_error,n_wins,n_wins_base,n_draws,n_total,discrete_win_rate,mode,avg_length,length_controlled_winrate,lc_standard_error
gpt4_1106_preview,50.0,0.0,0,0,805,805,50.0,minimal,2049,50.0,0.0
m,40.52977498461182,1.4,319,485,1,805,39.68,community,1825,44.65131348921881,0.8
old,10.0,0.9,80,725,0,805,9.9,verified,900,,
";

const WEIGHTS: &str = ",np.tanh(std_delta_len),instruction_difficulty,not_gamed_baseline.astype(float)
gpt4_1106_preview,0.0,0.0,0.0
m,-1.1778,0.5275,1.8226
";

const BENCHMARKS: &str = "Model,Arena Elo [Feb 2, 2024],LC AlpacaEval 2.0,AlpacaEval 2.0
GPT-4 Turbo,1251,50.0,50.0
Claude 2,,28.2,17.2
";

const DIFFICULTY: &str = "index,instruction_difficulty\n0,0.25\n1,-0.75\n2,1.5\n";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn alpaca_eval_annotations(bytes in corrupted_text(ANNOTATIONS), gz in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let plain = ae::annotations_path(dir.path(), "m");
        let file = if gz { PathBuf::from(format!("{}.gz", plain.display())) } else { plain };
        write(&file, &if gz { gzip(&bytes) } else { bytes });
        match ae::load_annotations(dir.path(), "m") {
            Ok(a) => {
                // What the pipelines do next with a loaded file must not panic either.
                let _ = (a.win_probs(), a.delta_len(), a.avg_length(), a.is_baseline_vs_itself());
                if let Err(e) = a.win_rate() {
                    names(&e, &file)?;
                }
            }
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn alpaca_eval_gzip_stream(bytes in corrupted(gzip(ANNOTATIONS.as_bytes()))) {
        let dir = tempfile::tempdir().unwrap();
        let file = PathBuf::from(format!("{}.gz", ae::annotations_path(dir.path(), "m").display()));
        write(&file, &bytes);
        if let Err(e) = ae::load_annotations(dir.path(), "m") {
            names(&e, &file)?;
        }
    }

    #[test]
    fn alpaca_eval_model_outputs(bytes in corrupted_text(OUTPUTS)) {
        let dir = tempfile::tempdir().unwrap();
        let file = ae::model_outputs_path(dir.path(), "m");
        write(&file, &bytes);
        if let Err(e) = ae::load_model_outputs(&file) {
            names(&e, &file)?;
        }
    }

    #[test]
    fn alpaca_eval_csv_files(lb in corrupted_text(LEADERBOARD), w in corrupted_text(WEIGHTS), b in corrupted_text(BENCHMARKS), d in corrupted_text(DIFFICULTY)) {
        let dir = tempfile::tempdir().unwrap();
        let (fl, fw, fb, fd) = (ae::leaderboard_path(dir.path()), ae::weights_path(dir.path()), ae::benchmarks_path(dir.path()), dir.path().join("instruction_difficulty.csv"));
        for (f, bytes) in [(&fl, &lb), (&fw, &w), (&fb, &b), (&fd, &d)] {
            write(f, bytes);
        }
        if let Err(e) = ae::load_leaderboard(&fl) { names(&e, &fl)?; }
        if let Err(e) = ae::load_glm_weights(&fw) { names(&e, &fw)?; }
        if let Err(e) = ae::load_benchmarks(&fb) { names(&e, &fb)?; }
        if let Err(e) = ae::load_instruction_difficulty(&fd) { names(&e, &fd)?; }
    }

    #[test]
    fn llama_config_json(bytes in corrupted_text(&std::fs::read_to_string(fixture("tiny-llama/config.json")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        write(&file, &bytes);
        match LlamaConfig::from_file(&file) {
            // A config that validates must build its model (small ones only: a digit edit can ask
            // for gigabytes, which is the caller's to refuse, not a malformed file).
            Ok(cfg) if cfg.vocab_size * cfg.hidden_size + cfg.num_hidden_layers * cfg.hidden_size * cfg.intermediate_size.max(cfg.hidden_size) < 4_000_000 && cfg.num_hidden_layers <= 16 => {
                let vs = VarStore::new(tch::Device::Cpu);
                if let Err(e) = Llama::new(&vs.root(), &cfg) {
                    prop_assert!(false, "config.json validated but the model does not build: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn tokenizer_json(bytes in corrupted(std::fs::read(fixture("tiny-llama/tokenizer.json")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokenizer.json");
        write(&file, &bytes);
        let cfg = fixture("tiny-llama/tokenizer_config.json");
        if let Err(e) = Tokenizer::from_files(&file, Some(&cfg), Some(&fixture("tiny-llama/chat_template.jinja"))) {
            names(&e, &file)?;
        }
    }

    #[test]
    fn tokenizer_config_and_chat_template(cfg in corrupted_text(&qwen2_config_with_template()),
                                          jinja in corrupted_text(&std::fs::read_to_string(fixture("tiny-llama/chat_template.jinja")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let (fc, fj) = (dir.path().join("tokenizer_config.json"), dir.path().join("chat_template.jinja"));
        write(&fc, &cfg);
        write(&fj, &jinja);
        // The Qwen2 config carries its template inline; the Llama one comes from the .jinja file.
        if let Err(e) = Tokenizer::from_files(&fixture("tiny-qwen2/tokenizer.json"), Some(&fc), None) {
            names(&e, &fc)?;
        }
        if let Err(e) = Tokenizer::from_files(&fixture("tiny-llama/tokenizer.json"), Some(&fixture("tiny-llama/tokenizer_config.json")), Some(&fj)) {
            names(&e, &fj)?;
        }
    }

    #[test]
    fn safetensors_single_file(bytes in corrupted(tiny_safetensors())) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.safetensors");
        write(&file, &bytes);
        let (vs, _m) = tiny_model();
        if let Err(e) = weights::load_into(&vs, std::slice::from_ref(&file), &[]) {
            names(&e, &file)?;
        }
    }

    #[test]
    fn safetensors_sharded_index(bytes in corrupted_text(SHARD_INDEX)) {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("model.safetensors.index.json");
        write(&index, &bytes);
        for n in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            write(&dir.path().join(n), b"");
        }
        if let Err(e) = weights::weight_files(dir.path()) {
            names(&e, &index)?;
        }
    }

    #[test]
    fn world_config_toml(bytes in corrupted_text(&shared::world::WorldConfig::default().to_toml())) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("world.toml");
        write(&file, &bytes);
        match shared::world::WorldConfig::load(&file) {
            Ok(cfg) => {
                if let Err(e) = cfg.families() {
                    prop_assert!(false, "a validated world config names an unknown family: {e}");
                }
            }
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn objective_toml_through_read_toml(bytes in corrupted_text("type = \"dpo\"\nbeta = 0.1\nlabel_smoothing = 0.0\n")) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("objective.toml");
        write(&file, &bytes);
        // read_toml parses; from_toml (what configs go through) also range-checks, naming the file.
        match shared::io::read_toml::<shared::objectives::ObjectiveConfig>(&file) {
            Ok(_) => {
                let text = std::fs::read_to_string(&file).unwrap();
                match shared::objectives::ObjectiveConfig::from_toml(&text, &file.display().to_string()) {
                    Ok(c) => { c.build().unwrap(); }
                    Err(e) => names(&e, &file)?,
                }
            }
            Err(e) => names(&e, &file)?,
        }
    }

    #[test]
    fn preference_parquet(bytes in corrupted(std::fs::read(fixture("ultrafeedback-tiny/data/test_prefs-00000-of-00001.parquet")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prefs.parquet");
        write(&file, &bytes);
        if let Err(e) = shared::data::preference::load_pairs(&file) {
            names(&e, &file)?;
        }
    }

    #[test]
    fn preference_jsonl(bytes in corrupted_text(PREFS_JSONL)) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prefs.jsonl");
        write(&file, &bytes);
        if let Err(e) = shared::data::preference::load_pairs(&file) {
            names(&e, &file)?;
        }
    }

    #[test]
    fn checkpoint_state_json(which in 0usize..4, bytes in corrupted_text(r#"{"state": {"step": 3, "examples_seen": 12, "seed": 7, "extra": {"k": 1}}, "model_sha256": "00", "optim_sha256": "00"}"#)) {
        let dir = tempfile::tempdir().unwrap();
        let (vs, mut opt) = tiny_trainee();
        let step = checkpoint::save(dir.path(), &vs, &opt, &TrainState { step: 3, examples_seen: 12, seed: 7, extra: serde_json::json!({"k": 1}) }, 1).unwrap();
        // Replace one file: state.json, `latest`, or a tensor file whose recorded hash is
        // updated to match (a corrupt file that passes the hash check).
        let file = match which {
            0 => step.join("state.json"),
            1 => dir.path().join("latest"),
            2 => step.join("model.safetensors"),
            _ => step.join("optim.safetensors"),
        };
        write(&file, &bytes);
        if which >= 2 {
            let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(step.join("state.json")).unwrap()).unwrap();
            let key = if which == 2 { "model_sha256" } else { "optim_sha256" };
            m[key] = sha256(&bytes).into();
            write(&step.join("state.json"), &serde_json::to_vec(&m).unwrap());
        }
        let mut vs = vs;
        let loaded = checkpoint::latest(dir.path()).and_then(|p| match p {
            Some(p) => checkpoint::load(&p, &mut vs, &mut opt).map(Some),
            None => Ok(None),
        });
        if let Err(e) = loaded {
            // The step folder's errors name the folder and the file within it.
            names(&e, &file).or_else(|_| names(&e, &step))?;
        }
    }
}

const SHARD_INDEX: &str = r#"{"metadata": {"total_size": 1024}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}}"#;

const PREFS_JSONL: &str = r#"{"prompt_id": "p1", "chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go"}]}
{"chosen": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "5"}], "rejected": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "6"}]}
"#;

/// The Qwen2 fixture's tokenizer_config.json with its chat template inline (as most hub
/// checkpoints ship it).
fn qwen2_config_with_template() -> String {
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture("tiny-qwen2/tokenizer_config.json")).unwrap()).unwrap();
    cfg["chat_template"] = std::fs::read_to_string(fixture("tiny-qwen2/chat_template.jinja")).unwrap().into();
    serde_json::to_string_pretty(&cfg).unwrap()
}

fn tiny_model() -> (VarStore, Llama) {
    shared::model::tiny::model(&shared::model::tiny::config("llama", 20, 8, 16, 1, 2), 0)
}

fn tiny_safetensors() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (vs, _m) = tiny_model();
    let p = dir.path().join("model.safetensors");
    weights::save(&vs, &p).unwrap();
    std::fs::read(p).unwrap()
}

fn tiny_trainee() -> (VarStore, AdamW) {
    let vs = VarStore::new(tch::Device::Cpu);
    let _w = vs.root().var("w", &[3], tch::nn::Init::Const(0.5));
    let opt = AdamW::new(&vs, AdamWConfig::default());
    (vs, opt)
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
