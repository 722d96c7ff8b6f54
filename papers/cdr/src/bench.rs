//! The miniature RewardBench (spec "Miniature reproduction" 2): held-out prompts of the world,
//! a correct answer against a worse one, the oracle confirming which is better. Scored as
//! RewardBench scores (`crate::rewardbench::correct`: strict `>`, a tie is wrong); a section's
//! score is its items' accuracy (its subsets weighted by their item counts) and the overall score
//! is the plain mean of the sections.
//!
//! | section | prompts | chosen | rejected |
//! |---|---|---|---|
//! | Chat | text families | correct | another payload's answer, same style and verbosity |
//! | Chat Hard | text families | correct, plain style | a one-character defect or one skill dropped, in the oracle's preferred style and longer |
//! | Reasoning | sort, count, add | correct | one or two digits changed, same style |
//!
//! The world has no refusal family, so there is no Safety section: three sections, not four.
//! The items are fixed (one constant stream), so every seed scores the same items.

use crate::config::BenchConfig;
use anyhow::Result;
use shared::model::Llama;
use shared::train::{scoring, Example};
use shared::world::demos::{correct_spec, corrupt_for};
use shared::world::response::FILLERS;
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{rng, Family, Prompt, World};
use rand::Rng;

/// The router of the miniature: a task family's domain is known exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Domain {
    /// Exact-answer arithmetic families (sort, count, add): the paper's REASONING.
    Reasoning,
    /// Text families (reverse, upper, repeat, list, describe): the paper's CHAT.
    Chat,
}

pub fn route(f: Family) -> Domain {
    match f {
        Family::Sort | Family::Count | Family::Add => Domain::Reasoning,
        _ => Domain::Chat,
    }
}

/// The sections in table order.
pub const SECTIONS: [&str; 3] = ["Chat", "Chat Hard", "Reasoning"];

#[derive(Clone, Debug)]
pub struct Item {
    /// Index into [`SECTIONS`].
    pub section: usize,
    pub prompt: Prompt,
    pub chosen: String,
    pub rejected: String,
}

/// Build the fixed items: `cfg` items per section from the held-out prompt stream past the mini
/// AlpacaEval's prompts; an item is kept only when the oracle scores chosen above rejected.
pub fn items(world: &World, cfg: &BenchConfig) -> Vec<Item> {
    let want = [cfg.chat, cfg.chat_hard, cfg.reasoning];
    let skip = world.cfg.eval.size;
    let mut r = rng(0xbe7c4, "cdr-mini-rewardbench");
    let mut have = [0usize; 3];
    let mut out = vec![];
    let mut n = skip + 4 * want.iter().sum::<usize>();
    let mut next = skip;
    while have.iter().zip(&want).any(|(h, w)| h < w) {
        let prompts = world.held_out_prompts(n);
        for x in &prompts[next..] {
            let section = match route(x.family) {
                Domain::Reasoning => 2,
                Domain::Chat if have[0] * want[1] <= have[1] * want[0] && have[0] < want[0] => 0,
                Domain::Chat => 1,
            };
            let section = if section == 1 && have[1] >= want[1] { 0 } else { section };
            if have[section] >= want[section] {
                continue;
            }
            let (chosen, rejected) = make(world, x, section, &mut r);
            if world.oracle.score(x, &chosen) > world.oracle.score(x, &rejected) {
                have[section] += 1;
                out.push(Item { section, prompt: x.clone(), chosen, rejected });
            }
        }
        next = n;
        n *= 2;
    }
    out
}

fn make<R: Rng>(world: &World, x: &Prompt, section: usize, r: &mut R) -> (String, String) {
    let good = correct_spec(x, 0.3, 0.3, r);
    match section {
        0 => {
            let other = Prompt { family: x.family, payload: shared::world::task::sample_payload(x.family, r), skills: vec![] };
            let items = other.random_answer_items(r);
            let mut bad = good.clone();
            bad.items = if x.content_score(&items) >= 1.0 { corrupt_for(x, &items, r) } else { items };
            (good.render(), bad.render())
        }
        1 => {
            let mut plain = good.clone();
            (plain.preamble, plain.closing, plain.fillers) = (0, false, vec![]);
            let mut bad = good.clone();
            if !bad.apply.is_empty() && r.gen_bool(0.5) {
                let k = r.gen_range(0..bad.apply.len());
                bad.apply.remove(k);
            } else {
                bad.items = corrupt_for(x, &good.items, r);
            }
            bad.preamble = world.cfg.oracle.preferred_style;
            bad.fillers = vec![r.gen_range(0..FILLERS.len())];
            while bad.render().len() <= plain.render().len() && bad.fillers.len() < 4 {
                bad.fillers.push(r.gen_range(0..FILLERS.len()));
            }
            (plain.render(), bad.render())
        }
        _ => {
            let mut bad = good.clone();
            bad.items = corrupt_for(x, &good.items, r);
            (good.render(), bad.render())
        }
    }
}

/// The routed customisation as coded for the paper's Llama-3 data (`vanilla_domain` system,
/// `fs_domain_icl` user turn): Chat prompts are left as they are; a Reasoning prompt gets an
/// exemplar block in its user turn: a fresh prompt of the same family with a good and a bad
/// answer, then the query and the cue, in the world's lower-case words
/// (`user: <x'> good: <y+> bad: <y-> user: <x> good:`). No system turn: the world has none.
/// Exemplars are drawn from one fixed stream, so every seed scores the same texts.
pub fn routed_prompts(world: &World, items: &[Item]) -> Vec<Option<String>> {
    let mut r = rng(0xe8e, "cdr-exemplars");
    items
        .iter()
        .map(|it| {
            if route(it.prompt.family) != Domain::Reasoning {
                return None;
            }
            let ex = loop {
                let x = world.sample_prompt(&mut r);
                if x.family == it.prompt.family && x.text() != it.prompt.text() {
                    break x;
                }
            };
            let (good, bad) = make(world, &ex, 2, &mut r);
            Some(format!("user: {} good: {good} bad: {bad} user: {} good:", ex.text(), it.prompt.text()))
        })
        .collect()
}

/// The items as (prompt, chosen, rejected) token pairs.
pub fn examples(items: &[Item], tok: &WorldTokenizer) -> Result<Vec<Example>> {
    items.iter().map(|it| Ok(Example::pair(tok.encode_prompt(&it.prompt.text())?, tok.encode_response(&it.chosen)?, tok.encode_response(&it.rejected)?))).collect()
}

/// A model's summed response log-probs of every example's responses, and the response lengths
/// (tokens, the closing EOS included), `micro` examples per forward pass. The sum covers the
/// response tokens only: the last prompt token's log-prob, which the released echo-based code
/// adds, is the same for both answers to one prompt and cancels in every ranking.
pub fn logps(model: &Llama, data: &[Example], k: usize, micro: usize, pad: i64) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::with_capacity(data.len());
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(micro.max(1)) {
        let s = tch::no_grad(|| scoring::score(model, data, chunk, k, false, pad))?;
        let v = Vec::<f64>::try_from(s.seq.to_kind(tch::Kind::Double).contiguous().view([-1]))?;
        out.extend(v.chunks(k).map(|c| c.to_vec()));
    }
    Ok(out)
}

/// Accuracy per section of a reward on the items: `reward(i, j)` is item i's reward of
/// response j (0 chosen, 1 rejected); `items` are (section, item index) pairs.
pub fn section_accuracy(items: impl Iterator<Item = (usize, usize)>, reward: impl Fn(usize, usize) -> f64) -> [Option<f64>; 3] {
    let mut hit = [0.0; 3];
    let mut n = [0usize; 3];
    for (s, i) in items {
        n[s] += 1;
        if crate::rewardbench::correct(reward(i, 0), reward(i, 1)) {
            hit[s] += 1.0;
        }
    }
    std::array::from_fn(|s| (n[s] > 0).then(|| hit[s] / n[s] as f64))
}

/// The overall score: the plain mean of the sections present.
pub fn overall(sections: &[Option<f64>; 3]) -> f64 {
    let v: Vec<f64> = sections.iter().flatten().copied().collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::world::WorldConfig;

    #[test]
    fn items_fill_every_section_and_the_oracle_prefers_every_chosen_answer() {
        let world = World::new(WorldConfig::default()).unwrap();
        let cfg = BenchConfig { chat: 10, chat_hard: 12, reasoning: 9 };
        let v = items(&world, &cfg);
        let count = |s| v.iter().filter(|i| i.section == s).count();
        assert_eq!((count(0), count(1), count(2)), (10, 12, 9));
        assert!(v.iter().all(|i| world.oracle.score(&i.prompt, &i.chosen) > world.oracle.score(&i.prompt, &i.rejected)));
        assert!(v.iter().all(|i| (i.section == 2) == (route(i.prompt.family) == Domain::Reasoning)));
        assert!(v.iter().all(|i| shared::world::is_held_out(&i.prompt)));
        // Chat Hard: the rejected answer is the longer one.
        assert!(v.iter().filter(|i| i.section == 1).all(|i| i.rejected.len() > i.chosen.len()), "{:?}", v.iter().filter(|i| i.section == 1).map(|i| (&i.chosen, &i.rejected)).collect::<Vec<_>>());
    }

    #[test]
    fn sections_count_ties_wrong_and_overall_is_the_mean_of_sections() {
        // item: (section, reward chosen, reward rejected)
        let r = [(0, 1.0, 0.0), (0, 0.0, 0.0), (1, 2.0, 3.0), (2, 1.0, 0.5), (2, 0.2, 0.1), (2, 0.0, 1.0)];
        let acc = section_accuracy(r.iter().enumerate().map(|(i, x)| (x.0, i)), |i, j| if j == 0 { r[i].1 } else { r[i].2 });
        assert_eq!(acc, [Some(0.5), Some(0.0), Some(2.0 / 3.0)]);
        assert!((overall(&acc) - (0.5 + 0.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!(overall(&[None, None, None]).is_nan());
    }
}
