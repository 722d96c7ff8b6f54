//! Format skills: checkable constraints on a response that a prompt may ask for, alone or
//! two (or more) at a time. Each skill knows its prompt tag, where it applies, and how to check it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Skill {
    /// The answer is written in capitals.
    Caps,
    /// The response ends with "!".
    Bang,
    /// The answer's items are numbered `1.a 2.b`.
    Numbered,
    /// The answer is wrapped in square brackets.
    Boxed,
    /// The answer's items are separated by ", ".
    Commas,
    /// The whole response has at most N words.
    MaxWords(u8),
}

/// Every skill kind, with a placeholder N for `MaxWords` (the generator picks the real N).
pub const ALL_KINDS: [Skill; 6] =
    [Skill::Caps, Skill::Bang, Skill::Numbered, Skill::Boxed, Skill::Commas, Skill::MaxWords(0)];

impl Skill {
    /// The tag the prompt carries, e.g. `+caps`, `+max3w`.
    pub fn tag(self) -> String {
        match self {
            Skill::Caps => "+caps".into(),
            Skill::Bang => "+bang".into(),
            Skill::Numbered => "+num".into(),
            Skill::Boxed => "+box".into(),
            Skill::Commas => "+comma".into(),
            Skill::MaxWords(n) => format!("+max{n}w"),
        }
    }

    /// Parse a prompt tag back (the inverse of [`Skill::tag`]).
    pub fn from_tag(tag: &str) -> Option<Skill> {
        Some(match tag {
            "+caps" => Skill::Caps,
            "+bang" => Skill::Bang,
            "+num" => Skill::Numbered,
            "+box" => Skill::Boxed,
            "+comma" => Skill::Commas,
            t => {
                let n = t.strip_prefix("+max")?.strip_suffix('w')?.parse::<u8>().ok()?;
                Skill::MaxWords(n)
            }
        })
    }

    /// A stable short name (for tables and configs), ignoring N.
    pub fn name(self) -> &'static str {
        match self {
            Skill::Caps => "caps",
            Skill::Bang => "bang",
            Skill::Numbered => "num",
            Skill::Boxed => "box",
            Skill::Commas => "comma",
            Skill::MaxWords(_) => "maxwords",
        }
    }

    /// Same kind (MaxWords(3) and MaxWords(5) are one kind).
    pub fn same_kind(self, other: Skill) -> bool {
        self.name() == other.name()
    }
}
