//! Values that an input `pattern` accepts, generated from the pattern itself: the sandbox's task
//! ids, values for inputs no example gives, and the suggestions in `validate`'s help lines.
//!
//! The pattern is parsed with `regex-syntax` into a small tree and walked with a seeded generator,
//! so the same pattern and seed always give the same value. Generated values read well: a class
//! is narrowed to its ASCII letters and digits when it has any (else to its printable ASCII), and
//! a long or unbounded repetition picks a count near a dozen. Look-around assertions (`\b`) are
//! not generated: callers check every value against the compiled pattern, which stays the judge.

use regex_syntax::hir::{Class, Hir, HirKind};

/// A generator of values for one pattern.
#[derive(Debug, Clone)]
pub struct Sampler {
    tree: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Literal(String),
    /// Inclusive character ranges, already narrowed to the characters worth generating.
    Class(Vec<(char, char)>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: u32,
    },
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
}

/// Unbounded repetitions (`+`, `*`, `{2,}`) generate at most this many more than their minimum.
const UNBOUNDED_EXTRA: u32 = 16;
/// A repetition whose range is wider than this picks a count around `TARGET_COUNT`.
const WIDE_RANGE: u32 = 4;
const TARGET_COUNT: u32 = 10;

impl Sampler {
    /// Parses `pattern` (unanchored text, as written in a definition).
    pub fn new(pattern: &str) -> Result<Sampler, String> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .map_err(|e| e.to_string())?;
        let tree = lower(&hir).ok_or("the pattern matches nothing")?;
        Ok(Sampler { tree })
    }

    /// The value for `seed`.
    pub fn sample(&self, seed: u64) -> String {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut out = String::new();
        generate(&self.tree, &mut rng, &mut out);
        out
    }

    /// How many distinct values the generator can produce at most (saturating at `u64::MAX`).
    pub fn room(&self) -> u64 {
        room(&self.tree)
    }
}

/// A stable 64-bit hash (FNV-1a) of the parts, for seeds that do not change between runs,
/// platforms or compiler versions.
pub fn seed(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn lower(hir: &Hir) -> Option<Node> {
    Some(match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Node::Literal(String::new()),
        HirKind::Literal(literal) => Node::Literal(String::from_utf8(literal.0.to_vec()).ok()?),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .map(|r| (r.start(), r.end()))
                .collect();
            Node::Class(narrow(&ranges)?)
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .filter(|r| r.start() < 0x80)
                .map(|r| (char::from(r.start()), char::from(r.end().min(0x7f))))
                .collect();
            Node::Class(narrow(&ranges)?)
        }
        HirKind::Repetition(repetition) => {
            let min = repetition.min;
            let max = repetition
                .max
                .unwrap_or_else(|| min.saturating_add(UNBOUNDED_EXTRA));
            match lower(&repetition.sub) {
                Some(node) => Node::Repeat {
                    node: Box::new(node),
                    min,
                    max,
                },
                // A repetition of nothing can still match zero times.
                None if min == 0 => Node::Literal(String::new()),
                None => return None,
            }
        }
        HirKind::Capture(capture) => lower(&capture.sub)?,
        HirKind::Concat(parts) => Node::Concat(parts.iter().map(lower).collect::<Option<_>>()?),
        HirKind::Alternation(branches) => {
            let branches: Vec<Node> = branches.iter().filter_map(lower).collect();
            if branches.is_empty() {
                return None;
            }
            Node::Alternation(branches)
        }
    })
}

/// The part of a class worth generating: its ASCII letters and digits, else its printable ASCII,
/// else whatever it has that is not a control character.
fn narrow(ranges: &[(char, char)]) -> Option<Vec<(char, char)>> {
    let within = |lo: char, hi: char| -> Vec<(char, char)> {
        ranges
            .iter()
            .filter_map(|&(a, b)| {
                let (a, b) = (a.max(lo), b.min(hi));
                (a <= b).then_some((a, b))
            })
            .collect()
    };
    let alphanumeric: Vec<(char, char)> = [('0', '9'), ('A', 'Z'), ('a', 'z')]
        .iter()
        .flat_map(|&(lo, hi)| within(lo, hi))
        .collect();
    if !alphanumeric.is_empty() {
        return Some(alphanumeric);
    }
    let printable = within('!', '~');
    if !printable.is_empty() {
        return Some(printable);
    }
    // Past ASCII, in two parts: a range never spans the surrogates, so every offset is a char.
    let mut rest = within('\u{a0}', '\u{d7ff}');
    rest.extend(within('\u{e000}', char::MAX));
    (!rest.is_empty()).then_some(rest)
}

fn class_size(ranges: &[(char, char)]) -> u64 {
    ranges
        .iter()
        .map(|&(a, b)| u64::from(b) - u64::from(a) + 1)
        .sum()
}

/// The repetition counts a generator picks from.
fn counts(min: u32, max: u32) -> (u32, u32) {
    if max - min <= WIDE_RANGE {
        (min, max)
    } else {
        let target = TARGET_COUNT.clamp(min, max);
        (target.saturating_sub(2).max(min), (target + 2).min(max))
    }
}

fn generate(node: &Node, rng: &mut fastrand::Rng, out: &mut String) {
    match node {
        Node::Literal(text) => out.push_str(text),
        Node::Class(ranges) => {
            let mut index = rng.u64(0..class_size(ranges));
            for &(a, b) in ranges {
                let width = u64::from(b) - u64::from(a) + 1;
                if index < width {
                    // `narrow` splits ranges around the surrogates: every offset is a char.
                    let code = u32::from(a) + index as u32;
                    out.extend(char::from_u32(code));
                    return;
                }
                index -= width;
            }
        }
        Node::Repeat { node, min, max } => {
            let (low, high) = counts(*min, *max);
            for _ in 0..rng.u32(low..=high) {
                generate(node, rng, out);
            }
        }
        Node::Concat(parts) => {
            for part in parts {
                generate(part, rng, out);
            }
        }
        Node::Alternation(branches) => {
            // `u32`, not `usize`: the same draw on 32- and 64-bit targets.
            let branch = &branches[rng.u32(0..branches.len() as u32) as usize];
            generate(branch, rng, out);
        }
    }
}

fn room(node: &Node) -> u64 {
    match node {
        Node::Literal(_) => 1,
        Node::Class(ranges) => class_size(ranges),
        Node::Repeat { node, min, max } => {
            let (low, high) = counts(*min, *max);
            let one = room(node);
            (low..=high).fold(0u64, |sum, n| {
                sum.saturating_add(one.saturating_pow(n.min(64)))
            })
        }
        Node::Concat(parts) => parts.iter().fold(1u64, |p, n| p.saturating_mul(room(n))),
        Node::Alternation(branches) => branches.iter().fold(0u64, |s, n| s.saturating_add(room(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(pattern: &str, value: &str) -> bool {
        regex_lite::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|r| r.is_match(value))
    }

    #[test]
    fn samples_match_their_pattern_and_repeat_for_a_seed() {
        for pattern in [
            "[0-9a-f]{32}",
            "vi[A-Za-z0-9]{20}",
            "[0-9]{1,19}",
            "[A-Za-z0-9]{1,128}",
            "[A-Za-z0-9_.~-]{1,512}",
            "-|[A-Za-z0-9_-]{1,128}",
            "[a-z0-9-]+\\.myshoplaza\\.com",
            "(?i)job_[a-z]+",
            "[^/]+",
            "\\d{4}-\\d{2}-\\d{2}",
            "[_.~-]{3}",
            "(ab|cd)*x?",
            "[^\\x00-\\x7f]{4}",
        ] {
            let sampler = Sampler::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            for n in 0..50 {
                let value = sampler.sample(n);
                assert!(accepts(pattern, &value), "{pattern}: {value:?}");
                assert_eq!(value, sampler.sample(n));
            }
        }
    }

    #[test]
    fn samples_read_well() {
        let sampler = Sampler::new("[A-Za-z0-9]{1,128}").expect("parses");
        let value = sampler.sample(seed(&["x"]));
        assert!((8..=12).contains(&value.len()), "{value}");
        let any = Sampler::new(".+").expect("parses").sample(1);
        assert!(any.chars().all(|c| c.is_ascii_alphanumeric()), "{any}");
    }

    #[test]
    fn room_counts_what_can_be_generated() {
        let room = |p: &str| Sampler::new(p).expect("parses").room();
        assert_eq!(room("[0-9]"), 10);
        assert_eq!(room("[0-9]{1,2}"), 110);
        assert_eq!(room("a|b|c"), 3);
        assert_eq!(room("[0-9a-f]{32}"), u64::MAX);
    }

    #[test]
    fn seeds_are_stable() {
        assert_eq!(seed(&["a", "b"]), seed(&["a", "b"]));
        assert_ne!(seed(&["ab"]), seed(&["a", "b"]));
    }
}
