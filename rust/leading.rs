//! Patterns matched at the start of a digit string: the numbering plan's national prefixes
//! and the home international (IDD) prefix.
//!
//! The regex crate finds such a match in a few hundred instructions (search set-up, a cache
//! from its pool, a UTF-8 check on the way in); these patterns are a handful of digits, so a
//! dense anchored DFA walked byte by byte finds the same end in a few dozen. The regex is
//! kept for what only it can do: the capture groups of a national-prefix transform rule.

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::util::primitives::StateID;
use regex_automata::{Anchored, Input};
use std::sync::OnceLock;

/// Largest DFA built for one pattern; a pattern needing more is matched by the regex.
const MAX_DFA_BYTES: usize = 1 << 20;

/// A pattern anchored at the start of the digits.
#[derive(Clone, Debug)]
pub struct LeadingPattern {
    regex: regex::Regex,
    /// Built on first use (most territories' prefixes are never needed); `None` when the
    /// pattern cannot be a DFA within [`MAX_DFA_BYTES`].
    dfa: OnceLock<Option<(dense::DFA<Vec<u32>>, StateID)>>,
    /// The pattern when it is a plain run of digits (`8`, `810`, as most national and
    /// international prefixes are): matched by comparing bytes, without the DFA.
    literal: Option<Box<[u8]>>,
}

impl LeadingPattern {
    /// Compiles `pattern` (regex syntax, bytes not Unicode), anchored at the start.
    pub fn new(pattern: &str) -> Result<LeadingPattern, regex::Error> {
        LeadingPattern::from_anchored(&format!("(?-u)^(?:{pattern})"))
    }

    /// Compiles a pattern already written anchored, as [`LeadingPattern::as_str`] gives it.
    pub fn from_anchored(anchored: &str) -> Result<LeadingPattern, regex::Error> {
        Ok(LeadingPattern {
            regex: regex::Regex::new(anchored)?,
            dfa: OnceLock::new(),
            literal: literal_of(anchored),
        })
    }

    /// The anchored pattern text.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The regex, for capture groups.
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }

    /// End of the leftmost-first match at the start of `digits`, as `regex.find` gives it.
    #[inline]
    pub fn match_end(&self, digits: &[u8]) -> Option<usize> {
        match &self.literal {
            Some(literal) => starts_with(digits, literal).then_some(literal.len()),
            None => self.match_end_dfa(digits),
        }
    }

    /// Builds the DFA a pattern that is no plain run of digits is otherwise given on first use.
    pub fn warm(&self) {
        if self.literal.is_none() {
            self.dfa.get_or_init(|| build(self.regex.as_str()));
        }
    }

    /// [`LeadingPattern::match_end`] for a pattern that is no plain run of digits: out of
    /// line, so that the literal test is inlined where prefixes are stripped.
    #[inline(never)]
    fn match_end_dfa(&self, digits: &[u8]) -> Option<usize> {
        let Some((dfa, start)) = self.dfa.get_or_init(|| build(self.regex.as_str())) else {
            let text = std::str::from_utf8(digits).ok()?;
            return self.regex.find(text).map(|m| m.end());
        };
        // regex-automata's documented search loop: a match state is entered one byte after
        // the match ends; a dead state means no longer match can follow.
        let mut sid = *start;
        let mut end = None;
        for (i, &b) in digits.iter().enumerate() {
            sid = dfa.next_state(sid, b);
            if dfa.is_special_state(sid) {
                if dfa.is_match_state(sid) {
                    end = Some(i);
                } else if dfa.is_dead_state(sid) {
                    return end;
                } else if dfa.is_quit_state(sid) {
                    let text = std::str::from_utf8(digits).ok()?;
                    return self.regex.find(text).map(|m| m.end());
                }
            }
        }
        if dfa.is_match_state(dfa.next_eoi_state(sid)) {
            end = Some(digits.len());
        }
        end
    }
}

/// The digits of a pattern written `(?-u)^(?:DIGITS)`, as [`LeadingPattern::new`] writes a
/// plain run of digits.
fn literal_of(anchored: &str) -> Option<Box<[u8]>> {
    let inner = anchored.strip_prefix("(?-u)^(?:")?.strip_suffix(')')?;
    let plain = !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| inner.as_bytes().into())
}

fn build(anchored: &str) -> Option<(dense::DFA<Vec<u32>>, StateID)> {
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Anchored)
                .dfa_size_limit(Some(MAX_DFA_BYTES))
                .determinize_size_limit(Some(MAX_DFA_BYTES)),
        )
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false),
        )
        .build(anchored)
        .ok()?;
    // Every search starts at offset 0 of its digits, so the start state is always this one.
    let start = dfa
        .start_state_forward(&Input::new(&b""[..]).anchored(Anchored::Yes))
        .ok()?;
    Some((dfa, start))
}

/// `d.starts_with(prefix)` for the few digits of a dialling prefix, compared in place rather
/// than by a call to memcmp.
#[inline]
pub(crate) fn starts_with(d: &[u8], prefix: &[u8]) -> bool {
    prefix.len() <= d.len() && prefix.iter().zip(d).all(|(p, b)| p == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(pattern: &str, digits: &str) -> Option<usize> {
        LeadingPattern::new(pattern)
            .unwrap()
            .match_end(digits.as_bytes())
    }

    #[test]
    fn finds_the_leftmost_first_end() {
        assert_eq!(end("810", "8107701"), Some(3));
        assert_eq!(end("810", "8017701"), None);
        assert_eq!(end("8", "87272123456"), Some(1));
        assert_eq!(end("0|00", "0012"), Some(1)); // first alternative wins, as in regex
        assert_eq!(end("00|0", "0012"), Some(2));
        assert_eq!(end("0?", "123"), Some(0)); // an empty match at the start
        assert_eq!(end("1[01]", "1"), None); // needs the end of the digits
        assert_eq!(end("12", "12"), Some(2));
        assert_eq!(end("810", "81"), None); // a literal longer than the digits
        assert_eq!(end("810", "810"), Some(3));
    }

    #[test]
    fn only_plain_digit_runs_are_literals() {
        let literal = |p: &str| LeadingPattern::new(p).unwrap().literal.is_some();
        assert!(literal("8") && literal("810") && literal("00"));
        assert!(!literal("0|00") && !literal("8?") && !literal("") && !literal("[01]"));
        assert!(!literal("(810)"));
    }

    proptest::proptest! {
        /// The DFA walk agrees with the regex on national-prefix-like patterns.
        #[test]
        fn agrees_with_the_regex(
            pattern in proptest::sample::select(vec![
                "0", "8", "810", "00|8~10", "0(?:1[0-9])?", "0?(?:(11|2[2-9])15)?", "1|0",
                "(?:0|90)(?:(1\\d{2})|)", "0?(?:(\\d{3})1)?", "[01]|00", "", "00", "8107",
            ]),
            digits in "[0-9~]{0,14}",
        ) {
            let p = LeadingPattern::new(pattern).unwrap();
            let want = p.regex().find(&digits).map(|m| m.end());
            proptest::prop_assert_eq!(p.match_end(digits.as_bytes()), want);
        }
    }
}
