//! The world's closed lexicon: categories of short words (for "list N items") and nouns with
//! their allowed adjectives (for "describe"). Closed sets make open-answer tasks checkable.

/// Categories for the `list` family: (name, members).
pub const CATEGORIES: &[(&str, &[&str])] = &[
    ("fruit", &["apple", "fig", "kiwi", "lime", "pear", "plum", "date", "melon"]),
    ("animal", &["cat", "dog", "cow", "fox", "owl", "bee", "ant", "pig"]),
    ("color", &["red", "blue", "green", "pink", "gray", "tan", "gold", "teal"]),
    ("tool", &["saw", "axe", "drill", "file", "rake", "hoe", "vise", "awl"]),
];

/// Nouns for the `describe` family: (noun, allowed adjectives).
pub const NOUNS: &[(&str, &[&str])] = &[
    ("sun", &["hot", "bright", "big", "round"]),
    ("sea", &["deep", "blue", "wide", "cold"]),
    ("rock", &["hard", "gray", "heavy", "old"]),
    ("snow", &["cold", "white", "soft", "wet"]),
    ("cat", &["soft", "small", "quick", "calm"]),
    ("tree", &["tall", "green", "old", "wide"]),
];

/// Plain words used as payloads (reverse, upper, repeat, count): every category member and noun.
pub fn words() -> Vec<&'static str> {
    let mut w: Vec<&str> = CATEGORIES.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    w.extend(NOUNS.iter().map(|(n, _)| *n));
    w.extend(["banana", "letter", "coffee", "puppy", "level", "rabbit"]);
    w.sort_unstable();
    w.dedup();
    w
}

pub fn category(name: &str) -> Option<&'static [&'static str]> {
    CATEGORIES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

pub fn adjectives(noun: &str) -> Option<&'static [&'static str]> {
    NOUNS.iter().find(|(n, _)| *n == noun).map(|(_, a)| *a)
}

/// Every word the world can produce: the tokenizer's alphabet is built from these.
pub fn all_words() -> Vec<&'static str> {
    let mut w = words();
    w.extend(CATEGORIES.iter().map(|(n, _)| *n));
    w.extend(NOUNS.iter().flat_map(|(_, a)| a.iter().copied()));
    w.sort_unstable();
    w.dedup();
    w
}
