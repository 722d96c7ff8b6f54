//! Prompt forms beyond plain answering that a paper's SFT base must first learn, with their
//! demonstrations drawn from the world, and the cached base that has learned them.
//!
//! | form | prompt text | demonstration | papers |
//! |---|---|---|---|
//! | `improve` | `x <prev> y⁻ <fb> kind <improve>` | a revision that scores higher than the bad `y⁻` | DRIFT's guided positives |
//! | `judge` | `<judge> x <resp> y <score>` | the score token `<Sk>`, k = the 5-point additive rubric of `y` ([`rubric`]), levels balanced | the self-rewarding judge (EFT data) |
//! | `refine` | `x <prev> y_l <refine>` | the gold answer `y_w` as a rewrite of a worse `y_l`, each paired with the direct target `x → y_w` | EVOLVE's SFT stage (Eq. 4) |
//!
//! A base with forms is the default cached base ([`super::base::ensure`]) fine-tuned further on a
//! mixture of plain demonstrations (so it keeps answering) and form demonstrations; it is cached in
//! `checkpoints/sft-forms-<key>/`, the key hashing the default base's key and the [`FormsConfig`],
//! so a paper's base never collides with the default one and the default one is never retrained.

use super::base::{self, Base, BaseConfig};
use super::demos::demonstrate;
use super::demos::DemoConfig;
use super::oracle::{ErrorKind, Grade};
use super::{Prompt, World};
use crate::error::{Error, Result};
use crate::model::Llama;
use crate::train::sft::{self, SftExample};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use tch::nn::VarStore;
use tch::Device;

/// A prompt form the base can be taught.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// DRIFT: improve a response the user complained about.
    Improve,
    /// Self-rewarding: score a response on the 5-point additive rubric (evaluation fine-tuning).
    Judge,
    /// EVOLVE: rewrite a previous (worse) answer after the reserved `<refine>` token.
    Refine,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormsConfig {
    pub forms: Vec<Form>,
    /// Demonstrations per form (and as many plain ones, replayed so the base keeps answering).
    pub demos: usize,
    /// Optimiser steps of the extra fine-tuning (batch and schedule as the base's, at `lr`).
    pub steps: u64,
    pub lr: f64,
    /// The previous response inside a form's prompt is cut to this many characters, so prompt and
    /// answer fit the tiny model's context.
    pub max_prev_chars: usize,
}

impl FormsConfig {
    pub fn validate(&self) -> Result<()> {
        if self.forms.is_empty() || self.demos == 0 || self.steps == 0 {
            return Err(Error::invalid("forms", "need ≥ 1 form, demos > 0 and steps > 0"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("forms.lr", format!("must be > 0, got {}", self.lr)));
        }
        if self.max_prev_chars == 0 {
            return Err(Error::invalid("forms.max_prev_chars", "must be > 0"));
        }
        Ok(())
    }
}

/// The first `n` characters of `y` (the world writes ASCII, so characters are tokens).
pub fn clip(y: &str, n: usize) -> String {
    y.chars().take(n).collect()
}

/// The user's complaint about `error`, as the simulated users write it (`<fb> not-sorted`).
pub fn feedback(error: ErrorKind) -> String {
    let e = if error == ErrorKind::Ok { ErrorKind::BadFormat } else { error };
    format!("<fb> {}", e.name())
}

/// DRIFT's guided prompt: the original prompt, the complained-about response (clipped), the
/// feedback and the instruction to improve.
pub fn improve_prompt(x: &Prompt, prev: &str, feedback: &str, max_prev_chars: usize) -> String {
    format!("{}<prev>{}{}<improve>", x.text(), clip(prev, max_prev_chars), feedback)
}

/// One `improve` demonstration on `x`: a bad demonstration `y⁻` (oracle below the users'
/// complaint threshold), its feedback, and a revision drawn until it scores higher than `y⁻`
/// (the gold answer after 8 misses). None when no bad demonstration came up in 8 draws.
pub fn improve_demo<R: Rng>(world: &World, x: &Prompt, max_prev_chars: usize, rng: &mut R) -> Option<(String, String)> {
    let bad = (0..8).map(|_| demonstrate(x, &world.cfg.demos, rng).response).find(|y| world.oracle.score(x, y) < world.users.cfg.tau_dsat)?;
    let g = world.oracle.grade(x, &bad);
    let better = (0..8).map(|_| demonstrate(x, &world.cfg.demos, rng).response).find(|y| world.oracle.score(x, y) > g.score).unwrap_or_else(|| world.gold(x));
    Some((improve_prompt(x, &bad, &feedback(g.error), max_prev_chars), better))
}

/// EVOLVE's refinement prompt `x <prev> y_prev <refine>` (the `<refine>` token is the spec's
/// template `z`; the previous answer clipped to `max_prev_chars`). Only the latest answer is shown.
pub fn refine_prompt(x: &Prompt, prev: &str, max_prev_chars: usize) -> String {
    format!("{}<prev>{}<refine>", x.text(), clip(prev, max_prev_chars))
}

/// One EVOLVE SFT pair on `x` (spec, Miniature "Data"): `y_w` the oracle-correct answer, `y_l` a
/// demonstration (the judge mixture: partly wrong, wrong, verbose) scoring below it. Returns
/// `(y_w, y_l)`; None when no worse demonstration came up in 8 draws.
pub fn refine_pair<R: Rng>(world: &World, x: &Prompt, rng: &mut R) -> Option<(String, String)> {
    let yw = world.gold(x);
    let sw = world.oracle.score(x, &yw);
    let mix = judge_demo_mixture();
    let yl = (0..8).map(|_| demonstrate(x, &mix, rng).response).find(|y| world.oracle.score(x, y) < sw)?;
    Some((yw, yl))
}

/// The 5-point additive rubric of the self-rewarding judge on the oracle's grade (Yuan et al.'s
/// rubric made checkable): +1 the answer parses; +1 ≥ 50% of the items right; +1 ≥ 75%; +1 all
/// right; +1 all right, every format skill met and no filler. 0 when it does not parse.
pub fn rubric(g: &Grade) -> u8 {
    if g.parsed.items.is_empty() {
        return 0;
    }
    1 + u8::from(g.content >= 0.5) + u8::from(g.content >= 0.75) + u8::from(g.content >= 1.0) + u8::from(g.correct && g.fillers == 0)
}

/// The score token of a rubric value: `<S1>`..`<S5>` (0, an answer that does not parse, clamps to `<S1>`).
pub fn score_token(points: u8) -> String {
    format!("<S{}>", points.clamp(1, 5))
}

/// The judge prompt: `<judge> x <resp> y <score>` (the response clipped to `max_chars`).
pub fn judge_prompt(x: &Prompt, y: &str, max_chars: usize) -> String {
    format!("<judge>{}<resp>{}<score>", x.text(), clip(y, max_chars))
}

/// The responses EFT demonstrations are written about: the world's demonstration mixture shifted
/// toward partly wrong, wrong and shirker answers, so that every rubric level comes up.
pub fn judge_demo_mixture() -> DemoConfig {
    DemoConfig { p_correct: 0.35, p_partial: 0.4, p_wrong: 0.25, p_closing: 0.3, p_verbose: 0.4, shirker_fraction: 0.15 }
}

/// `n` EFT demonstrations `(judge prompt, score token)` with the five score levels balanced (as
/// many of each as the draws allow in `50·n` tries; the rest filled by whatever comes up).
pub fn judge_demos<R: Rng>(world: &World, n: usize, max_chars: usize, rng: &mut R) -> Vec<(String, String)> {
    let mix = judge_demo_mixture();
    let per_level = n.div_ceil(5);
    let mut counts = [0usize; 5];
    let mut out = vec![];
    let mut tries = 0;
    while out.len() < n {
        tries += 1;
        let x = world.train_prompts(1, rng).remove(0);
        let y = demonstrate(&x, &mix, rng).response;
        let k = rubric(&world.oracle.grade(&x, &y)).clamp(1, 5);
        if counts[k as usize - 1] < per_level || tries > 50 * n {
            counts[k as usize - 1] += 1;
            out.push((judge_prompt(&x, &y, max_chars), score_token(k)));
        }
    }
    out
}

/// The extra fine-tuning data: per form `demos` form demonstrations, plus `demos` plain ones.
pub fn forms_data(world: &World, base: &Base, cfg: &FormsConfig, seed: u64) -> Result<Vec<SftExample>> {
    let tok = &base.tok;
    let mut rng = super::rng(seed, "sft-forms-demos");
    let mut out = vec![];
    for form in &cfg.forms {
        let start = out.len();
        match form {
            Form::Judge => {
                for (p, y) in judge_demos(world, cfg.demos, cfg.max_prev_chars, &mut rng) {
                    out.push(SftExample { prompt: tok.encode_prompt(&p)?, response: tok.encode_response(&y)? });
                }
            }
            Form::Refine => {
                // L_SFT (Eq. 4): each pair gives the direct target and the refine target; `demos`
                // counts pairs, so this form adds 2·demos examples.
                while out.len() - start < 2 * cfg.demos {
                    let x = world.train_prompts(1, &mut rng).remove(0);
                    if let Some((yw, yl)) = refine_pair(world, &x, &mut rng) {
                        out.push(SftExample { prompt: tok.encode_prompt(&x.text())?, response: tok.encode_response(&yw)? });
                        out.push(SftExample { prompt: tok.encode_prompt(&refine_prompt(&x, &yl, cfg.max_prev_chars))?, response: tok.encode_response(&yw)? });
                    }
                }
            }
            Form::Improve => {
                while out.len() - start < cfg.demos {
                    let x = world.train_prompts(1, &mut rng).remove(0);
                    if let Some((p, y)) = improve_demo(world, &x, cfg.max_prev_chars, &mut rng) {
                        out.push(SftExample { prompt: tok.encode_prompt(&p)?, response: tok.encode_response(&y)? });
                    }
                }
            }
        }
    }
    out.extend(base::sft_data(world, tok, cfg.demos, seed ^ 0xf0f0)?);
    Ok(out)
}

/// The cache key of a base with forms: the default base's folder name and the forms config.
pub fn cache_key(default_dir: &Path, cfg: &FormsConfig) -> String {
    let mut h = Sha256::new();
    h.update(default_dir.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default().as_bytes());
    h.update(serde_json::to_string(cfg).expect("serialisable").as_bytes());
    format!("{:x}", h.finalize())[..12].to_string()
}

/// The default base for (world, `base_cfg`, seed), fine-tuned on `forms` (cached; resumes).
pub fn ensure(world: &World, base_cfg: &BaseConfig, forms: &FormsConfig, seed: u64, root: &Path, device: Device) -> Result<Base> {
    forms.validate()?;
    let b = base::ensure(world, base_cfg, seed, root, device)?;
    let dir = root.join(format!("sft-forms-{}", cache_key(&b.dir, forms)));
    let weights = dir.join("model.safetensors");
    let mut vs = VarStore::new(device);
    let model = Llama::new(&vs.root(), b.model.config())?;
    if dir.join("done.json").exists() {
        vs.load(&weights).map_err(|e| Error::invalid(weights.display().to_string(), format!("cached base unreadable ({e}); delete {} to retrain", dir.display())))?;
        return Ok(Base { vs, model, tok: b.tok, dir, trained: false, report: None });
    }
    vs.copy(&b.vs).map_err(|e| Error::Other(format!("copying the default base: {e}")))?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    crate::io::write_json(&dir.join("forms.json"), forms)?;
    let data = forms_data(world, &b, forms, seed)?;
    let mut cfg = base_cfg.sft.clone();
    cfg.train.steps = Some(forms.steps);
    cfg.train.schedule.lr = forms.lr;
    cfg.train.seed = seed;
    let report = sft::train(&model, &mut vs, &data, b.tok.pad, &cfg, &dir)?;
    crate::model::weights::save(&vs, &weights)?;
    crate::io::write_json(&dir.join("done.json"), &serde_json::json!({ "default_base": b.dir.file_name().map(|s| s.to_string_lossy().to_string()), "steps": report.steps, "final_loss": report.final_loss, "seconds": report.seconds }))?;
    let _ = std::fs::remove_dir_all(dir.join("ckpt"));
    Ok(Base { vs, model, tok: b.tok, dir, trained: b.trained, report: Some(report) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldConfig;

    #[test]
    fn improve_demos_revise_a_bad_answer_upward() {
        let world = World::new(WorldConfig::default()).unwrap();
        let mut rng = crate::world::rng(3, "t");
        let mut n = 0;
        for x in world.train_prompts(60, &mut rng.clone()) {
            if let Some((p, y)) = improve_demo(&world, &x, 32, &mut rng) {
                n += 1;
                assert!(p.starts_with(&x.text()) && p.contains("<prev>") && p.contains("<fb> ") && p.ends_with("<improve>"), "{p}");
                let prev = p.split("<prev>").nth(1).unwrap().split("<fb>").next().unwrap();
                assert!(prev.chars().count() <= 32);
                assert!(world.oracle.score(&x, &y) > 0.0);
            }
        }
        assert!(n > 10, "only {n} of 60 prompts gave an improve demonstration");
    }

    #[test]
    fn judge_demos_cover_every_level_and_score_by_the_rubric() {
        let world = World::new(WorldConfig::default()).unwrap();
        let tok = crate::world::tokenizer::WorldTokenizer::new().unwrap();
        let demos = judge_demos(&world, 200, 56, &mut crate::world::rng(5, "t"));
        assert_eq!(demos.len(), 200);
        for k in 1..=5 {
            let n = demos.iter().filter(|(_, y)| *y == format!("<S{k}>")).count();
            assert!(n >= 30, "level {k}: {n} of 200");
        }
        for (p, y) in &demos {
            assert!(p.starts_with("<judge>") && p.contains("<resp>") && p.ends_with("<score>"), "{p}");
            assert_eq!(tok.encode(y).unwrap().len(), 1, "{y} is one token");
            assert!(tok.encode_prompt(p).unwrap().len() + 2 <= 128, "{p} fits the tiny model's context");
        }
    }

    #[test]
    fn refine_pairs_rewrite_a_worse_answer_into_gold() {
        let world = World::new(WorldConfig::default()).unwrap();
        let tok = crate::world::tokenizer::WorldTokenizer::new().unwrap();
        let mut rng = crate::world::rng(7, "t");
        let mut n = 0;
        for x in world.train_prompts(60, &mut rng.clone()) {
            if let Some((yw, yl)) = refine_pair(&world, &x, &mut rng) {
                n += 1;
                assert!(world.oracle.score(&x, &yl) < world.oracle.score(&x, &yw));
                let p = refine_prompt(&x, &yl, 40);
                assert!(p.starts_with(&x.text()) && p.ends_with("<refine>"), "{p}");
                let ids = tok.encode_prompt(&p).unwrap();
                assert_eq!(ids[ids.len() - 2], tok.id("<refine>").unwrap(), "the reserved token ends the prompt");
            }
        }
        assert!(n > 30, "only {n} of 60 prompts gave a refine pair");
    }

    #[test]
    fn a_bad_forms_config_is_named() {
        let c = FormsConfig { forms: vec![], demos: 1, steps: 1, lr: 1e-3, max_prev_chars: 8 };
        assert!(c.validate().unwrap_err().to_string().contains("form"));
    }
}
