//! Unit tests of the world: generation, parsing, the oracle, judges, users, demos, tokenizer.

use super::judge::{cyclic_r, PairwiseConfig};
use super::response::{parse, ResponseSpec};
use super::task::Payload;
use super::tokenizer::WorldTokenizer;
use super::*;
use std::path::Path;

fn world() -> World {
    World::new(WorldConfig::default()).unwrap()
}

fn sort_prompt(skills: Vec<Skill>) -> Prompt {
    Prompt { family: Family::Sort, payload: Payload::Sort { nums: vec![52, 9, 71, 3] }, skills }
    // (generated sort prompts have three numbers; four keep the partial-credit cases rich)
}

#[test]
fn prompt_text_and_answers() {
    let x = sort_prompt(vec![Skill::Commas, Skill::Bang]);
    assert_eq!(x.text(), "sort 52 9 71 3 +comma +bang");
    assert_eq!(x.answer_items(), vec!["3", "9", "52", "71"]);
    let c = Prompt { family: Family::Count, payload: Payload::Count { letter: 'a', word: "banana".into() }, skills: vec![] };
    assert_eq!(c.answer_items(), vec!["3"]);
    for s in [Skill::Caps, Skill::Bang, Skill::Numbered, Skill::Boxed, Skill::Commas, Skill::MaxWords(4)] {
        assert_eq!(Skill::from_tag(&s.tag()), Some(s));
    }
    assert_eq!(Skill::from_tag("+maxw"), None);
}

#[test]
fn partial_credit() {
    let x = sort_prompt(vec![]);
    let items = |s: &str| parse(s).items;
    assert_eq!(x.content_score(&items("3 9 52 71")), 1.0);
    assert_eq!(x.content_score(&items("3 9 71 52")), 0.5);
    assert_eq!(x.content_score(&items("3 9 52")), 0.75);
    let add = Prompt { family: Family::Add, payload: Payload::Add { a: 23, b: 45 }, skills: vec![] };
    assert_eq!(add.content_score(&items("68")), 1.0);
    assert_eq!(add.content_score(&items("69")), 0.5);
    let count = Prompt { family: Family::Count, payload: Payload::Count { letter: 'a', word: "banana".into() }, skills: vec![] };
    assert_eq!(count.content_score(&items("2")), 0.5);
    assert_eq!(count.content_score(&items("x")), 0.0);
    let list = Prompt { family: Family::List, payload: Payload::List { category: "fruit".into(), n: 3 }, skills: vec![] };
    assert_eq!(list.content_score(&items("kiwi fig plum")), 1.0);
    assert_eq!(list.content_score(&items("kiwi kiwi cat")), 1.0 / 3.0);
    assert!((list.content_score(&items("kiwi fig plum pear")) - 0.75).abs() < 1e-12);
    let rev = Prompt { family: Family::Reverse, payload: Payload::Reverse { word: "plant".into() }, skills: vec![] };
    assert_eq!(rev.content_score(&items("tnalp")), 1.0);
    assert_eq!(rev.content_score(&items("TNALP")), 1.0);
    assert!((rev.content_score(&items("tnalq")) - 0.8).abs() < 1e-12);
}

#[test]
fn render_and_parse_are_inverse() {
    let spec = ResponseSpec {
        items: vec!["fig".into(), "kiwi".into()],
        apply: vec![Skill::Caps, Skill::Numbered, Skill::Commas, Skill::Boxed, Skill::Bang],
        preamble: 1,
        closing: true,
        fillers: vec![0, 2],
    };
    let text = spec.render();
    assert_eq!(text, "sure: [1.FIG, 2.KIWI] as asked to be clear hope it helps!");
    let p = parse(&text);
    assert_eq!(p.items, vec!["FIG", "KIWI"]);
    assert!(p.caps && p.numbered && p.commas && p.boxed && p.bang && p.closing);
    assert_eq!((p.preamble, p.fillers), (1, 2));
    let plain = parse("fig kiwi");
    assert!(!plain.caps && !plain.numbered && !plain.commas && !plain.boxed && !plain.bang);
    assert!(parse("").items.is_empty());
    assert!(parse("!!! [ ,, ]").items.iter().all(|i| !i.is_empty()));
}

#[test]
fn gold_is_perfect_and_every_prompt_is_solvable() {
    let w = world();
    let mut r = rng(7, "t");
    for x in w.train_prompts(500, &mut r) {
        let g = w.oracle.grade(&x, &w.gold(&x));
        assert!(g.correct, "gold of {:?} graded {:?}", x.text(), g);
        assert_eq!(g.content, 1.0);
    }
}

#[test]
fn oracle_ignores_length_and_prefers_style_slightly() {
    let w = world();
    let x = sort_prompt(vec![]);
    let plain = w.oracle.score(&x, "3 9 52 71");
    let polite = w.oracle.score(&x, "sure: 3 9 52 71");
    let wordy = w.oracle.score(&x, "sure: 3 9 52 71 as asked i think");
    let wrong_long = w.oracle.score(&x, "sure: 71 52 9 3 as asked hope it helps");
    assert!(polite > plain && polite - plain <= 0.1 + 1e-12);
    assert!(wordy < polite, "filler must not pay");
    assert!(wrong_long < plain);
    assert_eq!(w.oracle.grade(&x, "3 9 71 52").error, oracle::ErrorKind::NotSorted);
    let xs = sort_prompt(vec![Skill::Bang, Skill::MaxWords(4)]);
    let g = w.oracle.grade(&xs, "sure: 3 9 52 71!");
    assert_eq!((g.skills_met, g.correct, g.error), (1, false, oracle::ErrorKind::BadFormat));
    assert!(w.oracle.grade(&xs, "3 9 52 71!").correct);
}

#[test]
fn pairwise_judge_properties() {
    let w = world();
    let x = sort_prompt(vec![]);
    let (good, bad) = ("3 9 52 71", "3 9 71 52");
    let unb = PairwiseJudge::new(PairwiseConfig::unbiased(), w.oracle.clone());
    assert!((unb.prob(&x, good, good) - 0.5).abs() < 1e-12);
    let p = unb.prob(&x, good, bad);
    assert!(p > 0.8 && (p + unb.prob(&x, bad, good) - 1.0).abs() < 1e-12);
    // Length bias: equal quality, the longer answer wins.
    let lb = PairwiseJudge::new(PairwiseConfig { length_bias: 1.0, ..PairwiseConfig::unbiased() }, w.oracle.clone());
    let (short, long) = ("sure: 3 9 52 71", "sure: 3 9 52 71 hope it helps");
    assert_eq!(w.oracle.score(&x, short), w.oracle.score(&x, long));
    assert!(lb.prob(&x, long, short) > 0.6);
    // Position bias favours the first shown; both orders cancel it.
    let pb = PairwiseJudge::new(PairwiseConfig { position_bias: 0.5, ..PairwiseConfig::unbiased() }, w.oracle.clone());
    assert!(pb.prob(&x, good, good) > 0.6);
    assert!((pb.prob_both_orders(&x, good, good) - 0.5).abs() < 1e-12);
    // Label noise pulls towards 1/2.
    let nz = PairwiseJudge::new(PairwiseConfig { label_noise: 0.5, ..PairwiseConfig::unbiased() }, w.oracle.clone());
    assert!((nz.prob(&x, good, bad) - 0.5).abs() < 1e-12);
    // The cyclic term is rock-paper-scissors over style classes.
    assert_eq!([cyclic_r(1, 0), cyclic_r(2, 1), cyclic_r(0, 2), cyclic_r(0, 1), cyclic_r(1, 1)], [1.0, 1.0, 1.0, -1.0, 0.0]);
    let cy = PairwiseJudge::new(PairwiseConfig::nash_mini(), w.oracle.clone());
    let ys = ["3 9 52 71", "sure: 3 9 52 71", "ok: 3 9 52 71"];
    let g: Vec<Grade> = ys.iter().map(|y| w.oracle.grade(&x, y)).collect();
    let mut w_nostyle = cy.clone();
    w_nostyle.oracle.cfg.style_weight = 0.0;
    let g0: Vec<Grade> = ys.iter().map(|y| w_nostyle.oracle.grade(&x, y)).collect();
    let _ = g;
    // Ignoring length, the cycle st0 < st1 < st2 < st0 holds: intransitive.
    let mut nl = w_nostyle.clone();
    nl.cfg.length_bias = 0.0;
    assert!(nl.prob_graded(&g0[1], &g0[0]) > 0.5 && nl.prob_graded(&g0[2], &g0[1]) > 0.5 && nl.prob_graded(&g0[0], &g0[2]) > 0.5);
}

#[test]
fn checklist_judge_range_and_order() {
    let w = world();
    let x = sort_prompt(vec![Skill::Bang]);
    let best = w.checklist.score(&x, "sure: 3 9 52 71!");
    let worse = w.checklist.score(&x, "3 9 71 52");
    let junk = w.checklist.score(&x, "as asked");
    assert!(best > worse && worse > junk);
    assert!((1.0..=10.0).contains(&junk) && best <= 10.0);
    let mut r = rng(1, "c");
    for _ in 0..50 {
        let s = w.checklist.sample(&x, "3 9 52 71", &mut r);
        assert!((1.0..=10.0).contains(&s));
    }
}

#[test]
fn users_complain_about_bad_answers_with_feedback() {
    let w = world();
    let x = sort_prompt(vec![]);
    let mut r = rng(3, "u");
    let mut dsat = 0;
    let mut sat = 0;
    for _ in 0..200 {
        match w.users.react(&x, "71 52 9 3", &mut r) {
            users::Reaction::Dsat { feedback, .. } => {
                assert_eq!(feedback, "<fb> not-sorted");
                dsat += 1
            }
            users::Reaction::Sat => panic!("a wrong answer never satisfies"),
            users::Reaction::Silent => {}
        }
        if let users::Reaction::Sat = w.users.react(&x, "sure: 3 9 52 71", &mut r) {
            sat += 1;
        }
    }
    assert!(dsat > 150 && sat > 40 && sat < 120, "dsat {dsat} sat {sat}");
}

#[test]
fn demos_follow_the_mixture() {
    let w = world();
    let mut r = rng(0, "demos");
    let demos = w.demos(2000, &mut r);
    let frac = |k: DemoKind| demos.iter().filter(|d| d.kind == k).count() as f64 / demos.len() as f64;
    assert!((frac(DemoKind::Correct) - 0.7).abs() < 0.05);
    for d in &demos {
        let g = w.oracle.grade(&d.prompt, &d.response);
        match d.kind {
            DemoKind::Correct => assert!(g.correct, "{:?} -> {:?}", d.prompt.text(), d.response),
            DemoKind::Wrong | DemoKind::Partial => assert!(!g.correct, "{:?} -> {:?}", d.prompt.text(), d.response),
            _ => {}
        }
    }
    // Shirkers appear only when asked for.
    let mut cfg = WorldConfig::default();
    cfg.demos.shirker_fraction = 0.5;
    let ws = World::new(cfg).unwrap();
    let sd = ws.demos(200, &mut rng(0, "demos"));
    assert!(sd.iter().any(|d| d.kind == DemoKind::ShirkerJunk) && sd.iter().any(|d| d.kind == DemoKind::ShirkerBrief));
}

#[test]
fn same_seed_same_world_and_eval_is_held_out() {
    let w = world();
    let a = w.demos(300, &mut rng(5, "d"));
    let b = w.demos(300, &mut rng(5, "d"));
    let c = w.demos(300, &mut rng(6, "d"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let eval = w.eval_prompts();
    assert_eq!(eval.len(), 300);
    assert_eq!(eval, w.eval_prompts());
    let texts: std::collections::HashSet<String> = eval.iter().map(|x| x.text()).collect();
    assert!(a.iter().all(|d| !texts.contains(&d.prompt.text())));
    for f in task::FAMILIES {
        assert!(eval.iter().filter(|x| x.family == f).count() >= 15, "family {f:?} under-represented");
    }
    assert!(eval.iter().any(|x| x.skills.len() == 2));
}

#[test]
fn tokenizer_round_trips_and_serialises() {
    let t = WorldTokenizer::new().unwrap();
    let w = world();
    for d in w.demos(100, &mut rng(2, "tok")) {
        let p = t.encode_prompt(&d.prompt.text()).unwrap();
        assert_eq!(p.len(), d.prompt.text().len() + 2);
        let y = t.encode_response(&d.response).unwrap();
        assert_eq!(t.decode_response(&y), d.response);
    }
    let ids = t.encode("<fb> not-sorted <refine>").unwrap();
    assert_eq!(ids[0], t.id("<fb>").unwrap());
    assert_eq!(*ids.last().unwrap(), t.id("<refine>").unwrap());
    assert!(!ids.contains(&t.id(tokenizer::UNK).unwrap()));
    let json = t.tok.to_string(false).unwrap();
    let back: tokenizers::Tokenizer = json.parse().unwrap();
    assert_eq!(back.encode("add 23 45 +bang", false).unwrap().get_ids(), t.tok.encode("add 23 45 +bang", false).unwrap().get_ids());
    assert!(t.vocab_size() < 128);
}

#[test]
fn config_rejects_unknown_fields_and_bad_values() {
    let p = Path::new("world.toml");
    assert!(WorldConfig::from_toml("", p).is_ok());
    let e = WorldConfig::from_toml("[judge]\nlenght_bias = 1.0\n", p).unwrap_err().to_string();
    assert!(e.contains("lenght_bias") && e.contains("world.toml"), "{e}");
    let e = WorldConfig::from_toml("[judge]\nlabel_noise = 0.9\n", p).unwrap_err().to_string();
    assert!(e.contains("judge.label_noise"), "{e}");
    let e = WorldConfig::from_toml("[gen]\nfamilies = [\"poetry\"]\n", p).unwrap_err().to_string();
    assert!(e.contains("poetry"), "{e}");
    let cfg = WorldConfig::default();
    assert_eq!(WorldConfig::from_toml(&cfg.to_toml(), p).unwrap(), cfg);
}

#[test]
fn mini_alpaca_eval_ranks_gold_above_baseline() {
    let w = world();
    let ev = alpaca::MiniAlpacaEval::new(&w);
    let gold: Vec<String> = ev.prompts.iter().map(|x| w.gold(x)).collect();
    let row = ev.evaluate(&w, "gold", &gold, &mut rng(0, "ev")).unwrap();
    let base = ev.evaluate(&w, "baseline", &ev.baseline, &mut rng(0, "ev")).unwrap();
    assert!(row.win_rate > 70.0 && row.accuracy == 1.0, "{row:?}");
    assert!((base.win_rate - 50.0).abs() < 5.0, "{base:?}");
    assert!(row.win_rate_se > 0.0 && row.win_rate_se < 5.0);
    assert!(ev.evaluate(&w, "short", &gold[..3], &mut rng(0, "ev")).is_err());
    // The baseline against itself: every length difference is zero, so LC equals the raw rate.
    let lc_base = base.lc_win_rate.expect("LC of the baseline");
    assert!((lc_base - 50.0).abs() < 5.0, "{base:?}");
    assert!(row.lc_win_rate.expect("LC of gold") > 60.0, "{row:?}");
    let t = alpaca::MiniAlpacaEval::table("mini AlpacaEval", &[row, base]);
    assert!(t.to_markdown().contains("length-controlled GLM"));
}

#[test]
fn prompts_parse_back_from_their_text() {
    let w = World::new(WorldConfig::default()).unwrap();
    let mut rng = super::rng(7, "parse");
    for _ in 0..2000 {
        let x = w.sample_prompt(&mut rng);
        assert_eq!(Prompt::parse(&x.text()).as_ref(), Some(&x), "{}", x.text());
    }
    for bad in ["", "reverse", "sort a b", "count ab in cat", "list 2 nonsense", "add 1 2 +nope", "fly away"] {
        assert!(Prompt::parse(bad).is_none(), "{bad:?}");
    }
}
