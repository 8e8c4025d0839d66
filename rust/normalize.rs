//! Raw CLI and callee strings → E.164 [`Number`], the way a switch in the home country reads
//! them.
//!
//! Accepted: an optional `tel:`/`sip:`/`sips:` scheme (user part up to `@` or `;`), one leading
//! `+`, ASCII digits (fullwidth and Arabic-Indic digits are read as the same digits), and the
//! separators space, tab, no-break space, `-`, `.`, `/`, `(` and `)`. Anything else makes the
//! number invalid with a reason; nothing here allocates or fails loudly.
//!
//! Digits without `+` are read by ingress: on `international` ingress country code first
//! (after an international prefix starting with `0`, if present); on `national` and `onnet`
//! ingress by the home dialling plan: international prefix (`810` in KZ, plus configured
//! extras such as `00`), the home country code written without `+`, the national prefix
//! (`8` in KZ) and a bare national significant number, exactly as phonenumbers' `parse` does
//! with the home region as default region.

use crate::leading::LeadingPattern;
use crate::number::Number;
use crate::numplan::{Country, LengthCheck, NumberingPlan, Territory};
use crate::numtype::Region;
use crate::{Error, Result};

/// Raw inputs longer than this many bytes are invalid (`too_long`) without being scanned.
pub const MAX_RAW_LEN: usize = 256;
/// Most digits a raw number may carry before it is `too_long`.
const MAX_SCANNED_DIGITS: usize = 24;
/// phonenumbers' bounds on a national significant number.
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;

/// How the call reached the network: decides how digits without `+` are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ingress {
    /// From an international carrier or gateway.
    International,
    /// From another domestic network.
    National,
    /// From the operator's own subscribers.
    Onnet,
}

impl Ingress {
    /// Parses `"international"`, `"national"` or `"onnet"` (case-insensitive).
    pub fn parse(s: &str) -> Option<Ingress> {
        const ALL: [Ingress; 3] = [Ingress::International, Ingress::National, Ingress::Onnet];
        // The names as written (what every switch sends) first, then case and spaces aside.
        ALL.into_iter().find(|i| i.as_str() == s).or_else(|| {
            ALL.into_iter()
                .find(|i| i.as_str().eq_ignore_ascii_case(s.trim()))
        })
    }

    /// 0, 1, 2 for international, national, onnet: the order of the policy's words.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Ingress::International => "international",
            Ingress::National => "national",
            Ingress::Onnet => "onnet",
        }
    }
}

/// Why a raw string is not a number. Stable identifiers (`as_str`) appear in verdict reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invalid {
    /// No digits at all.
    Empty,
    /// Presentation restricted: `anonymous`, `restricted`, `private`, `withheld`, `unavailable`,
    /// `unknown`.
    Withheld,
    /// A letter or symbol that no switch puts in a number.
    BadCharacter,
    /// Too few digits for a national significant number.
    TooShort,
    /// Longer than any number can be (or than [`MAX_RAW_LEN`] bytes).
    TooLong,
    /// The leading digits are no country calling code.
    UnknownCountryCode,
}

impl Invalid {
    /// The stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Invalid::Empty => "empty",
            Invalid::Withheld => "withheld",
            Invalid::BadCharacter => "bad_character",
            Invalid::TooShort => "too_short",
            Invalid::TooLong => "too_long",
            Invalid::UnknownCountryCode => "unknown_country_code",
        }
    }
}

const WITHHELD: [&str; 6] = [
    "anonymous",
    "restricted",
    "private",
    "withheld",
    "unavailable",
    "unknown",
];

/// A short run of ASCII digits on the stack.
#[derive(Clone, Copy)]
struct Digits {
    buf: [u8; 40],
    len: usize,
}

impl Digits {
    fn new() -> Self {
        Digits {
            buf: [0; 40],
            len: 0,
        }
    }
    fn from(s: &[u8]) -> Option<Self> {
        let mut d = Digits::new();
        d.buf.get_mut(..s.len())?.copy_from_slice(s);
        d.len = s.len();
        Some(d)
    }
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The home dialling plan: the home territory and the prefixes that mean "international".
#[derive(Clone, Debug)]
pub struct DialPlan {
    region: Region,
    home: (usize, usize),
    country_code: u16,
    cc_digits: [u8; 3],
    cc_len: u8,
    idd: Option<LeadingPattern>,
    extra_idd: Vec<Vec<u8>>,
}

impl DialPlan {
    /// The dialling plan of `region` from the numbering plan, plus `extra_prefixes` accepted
    /// as international prefixes beside the region's own (e.g. `00` beside KZ's `810`).
    pub fn new(plan: &NumberingPlan, region: &str, extra_prefixes: &[String]) -> Result<DialPlan> {
        let r = Region::parse(region)
            .filter(|r| r.as_str() != "001")
            .ok_or_else(|| {
                Error::invalid(
                    "home_region",
                    format!("{region:?} is not an ISO 3166 region code"),
                )
            })?;
        let home = plan.territory_index(r).ok_or_else(|| {
            Error::invalid("home_region", format!("{region:?} has no numbering plan"))
        })?;
        let (country, territory) = plan.territory_at(home).ok_or_else(|| {
            Error::invalid("home_region", format!("{region:?} has no numbering plan"))
        })?;
        let idd = match &territory.international_prefix {
            Some(p) => Some(LeadingPattern::new(p).map_err(|e| {
                Error::invalid(
                    "home_region",
                    format!("international prefix of {region}: {e}"),
                )
            })?),
            None => None,
        };
        let mut extra_idd = Vec::new();
        for p in extra_prefixes {
            let digits: Vec<u8> = p.bytes().filter(|b| !matches!(b, b' ' | b'-')).collect();
            if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_digit) {
                return Err(Error::invalid(
                    "international_prefixes",
                    format!("{p:?} is not an international prefix (1 to 6 digits)"),
                ));
            }
            extra_idd.push(digits);
        }
        let mut cc_digits = [0u8; 3];
        let text = country.code.to_string();
        let cc_len = text.len().min(3);
        cc_digits[..cc_len].copy_from_slice(&text.as_bytes()[..cc_len]);
        Ok(DialPlan {
            region: r,
            home,
            country_code: country.code,
            cc_digits,
            cc_len: cc_len as u8,
            idd,
            extra_idd,
        })
    }

    /// The home region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The home country calling code.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The home country calling code's digits.
    fn country_code_digits(&self) -> &[u8] {
        &self.cc_digits[..usize::from(self.cc_len)]
    }

    /// Length of an international prefix at the start of `d`, if one is there and is followed
    /// by something other than `0` (phonenumbers' rule: `8100…` is not `810` + `0…`).
    fn idd_len(&self, d: &[u8]) -> Option<usize> {
        let regex_len = self.idd.as_ref().and_then(|p| p.match_end(d));
        let extra = self
            .extra_idd
            .iter()
            .filter(|p| d.starts_with(p))
            .map(Vec::len);
        regex_len
            .into_iter()
            .chain(extra)
            .find(|&n| d.get(n) != Some(&b'0'))
    }
}

/// Normalises a raw number to E.164 under the home dialling plan.
pub fn normalize(
    plan: &NumberingPlan,
    dial: &DialPlan,
    raw: &str,
    ingress: Ingress,
) -> Result<Number, Invalid> {
    let (plus, digits) = scan(raw)?;
    let d = digits.as_slice();
    if plus {
        return international(plan, d);
    }
    match ingress {
        Ingress::International => match d.first() {
            Some(b'0') => match dial
                .idd_len(d)
                .or_else(|| d.starts_with(b"00").then_some(2))
            {
                Some(n) => international(plan, &d[n..]),
                None => Err(Invalid::UnknownCountryCode),
            },
            _ => international(plan, d),
        },
        Ingress::National | Ingress::Onnet => national(plan, dial, d),
    }
}

/// Splits `raw` into a leading-plus flag and its digits.
fn scan(raw: &str) -> Result<(bool, Digits), Invalid> {
    if raw.len() > MAX_RAW_LEN {
        return Err(Invalid::TooLong);
    }
    let mut s = raw.trim_matches(|c: char| c.is_whitespace());
    for scheme in ["tel:", "sip:", "sips:"] {
        if s.len() >= scheme.len()
            && s.is_char_boundary(scheme.len())
            && s[..scheme.len()].eq_ignore_ascii_case(scheme)
        {
            s = &s[scheme.len()..];
            s = s.split(['@', ';']).next().unwrap_or("");
            break;
        }
    }
    let mut out = Digits::new();
    let mut plus = false;
    if s.is_ascii() {
        // What switches send: the same rules as below, a byte at a time.
        for &b in s.as_bytes() {
            match b {
                b'0'..=b'9' => {
                    if out.len >= MAX_SCANNED_DIGITS {
                        return Err(Invalid::TooLong);
                    }
                    out.buf[out.len] = b;
                    out.len += 1;
                }
                b'+' if !plus && out.len == 0 => plus = true,
                b' ' | b'\t' | b'-' | b'.' | b'/' | b'(' | b')' => {}
                _ => return Err(not_a_number(s)),
            }
        }
        return if out.len == 0 {
            Err(Invalid::Empty)
        } else {
            Ok((plus, out))
        };
    }
    for c in s.chars() {
        let digit = match c {
            '0'..='9' => Some(c as u32 - '0' as u32),
            '\u{FF10}'..='\u{FF19}' => Some(c as u32 - 0xFF10),
            '\u{0660}'..='\u{0669}' => Some(c as u32 - 0x0660),
            '\u{06F0}'..='\u{06F9}' => Some(c as u32 - 0x06F0),
            _ => None,
        };
        match (digit, c) {
            (Some(v), _) => {
                if out.len >= MAX_SCANNED_DIGITS {
                    return Err(Invalid::TooLong);
                }
                out.buf[out.len] = b'0' + v as u8;
                out.len += 1;
            }
            (None, '+' | '\u{FF0B}') if !plus && out.len == 0 => plus = true,
            (None, ' ' | '\t' | '\u{A0}' | '-' | '.' | '/' | '(' | ')') => {}
            _ => return Err(not_a_number(s)),
        }
    }
    if out.len == 0 {
        return Err(Invalid::Empty);
    }
    Ok((plus, out))
}

/// Why text with a character no number has is not one: a withheld-presentation word, or
/// a bad character.
fn not_a_number(s: &str) -> Invalid {
    let word = s.trim();
    if WITHHELD.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        Invalid::Withheld
    } else {
        Invalid::BadCharacter
    }
}

/// Country code first (after `+` or an international prefix).
fn international(plan: &NumberingPlan, d: &[u8]) -> Result<Number, Invalid> {
    if d.len() <= MIN_NSN {
        return Err(Invalid::TooShort);
    }
    let cc_len = plan
        .country_code_len(d)
        .ok_or(Invalid::UnknownCountryCode)?;
    let cc = country_code_of(&d[..cc_len]);
    finish(plan, cc, &d[cc_len..])
}

fn national(plan: &NumberingPlan, dial: &DialPlan, d: &[u8]) -> Result<Number, Invalid> {
    if let Some(n) = dial.idd_len(d) {
        return international(plan, &d[n..]);
    }
    let (country, home) = plan
        .territory_at(dial.home)
        .ok_or(Invalid::UnknownCountryCode)?;
    let cc_text = dial.country_code_digits();
    if d.starts_with(cc_text) {
        let cc_len = cc_text.len();
        let potential = strip_national_prefix(plan, country, home, &d[cc_len..]);
        let p = potential.as_slice();
        let full_is_home = plan.matches_general(country, home, d);
        if (!full_is_home && plan.matches_general(country, home, p))
            || home.length_check(d.len()) == LengthCheck::TooLong
        {
            return finish(plan, dial.country_code, p);
        }
        // Beyond phonenumbers: where the country code is shared (+7: KZ and RU; +1: the NANP),
        // `79161234567` read in KZ is a Russian number, not the invalid Kazakh `+7 79161234567`
        // that phonenumbers makes of it. phonenumbers' answer is never valid here, since the
        // full digits do not match the home plan, so agreement on valid numbers is kept.
        if !full_is_home
            && country
                .territories
                .iter()
                .any(|t| plan.matches_general(country, t, p))
        {
            return finish(plan, dial.country_code, p);
        }
    }
    finish_with(plan, dial.country_code, d, country, home)
}

/// phonenumbers' closing steps with the country code's main territory.
fn finish(plan: &NumberingPlan, cc: u16, nsn: &[u8]) -> Result<Number, Invalid> {
    let country = plan.country(cc).ok_or(Invalid::UnknownCountryCode)?;
    let main = plan.main_territory(cc).ok_or(Invalid::UnknownCountryCode)?;
    finish_with(plan, cc, nsn, country, main)
}

fn finish_with(
    plan: &NumberingPlan,
    cc: u16,
    nsn: &[u8],
    country: &Country,
    t: &Territory,
) -> Result<Number, Invalid> {
    if nsn.len() < MIN_NSN {
        return Err(Invalid::TooShort);
    }
    let stripped = strip_national_prefix(plan, country, t, nsn);
    let nsn = match t.length_check(stripped.len) {
        LengthCheck::TooShort | LengthCheck::LocalOnly | LengthCheck::Invalid => nsn,
        LengthCheck::Possible | LengthCheck::TooLong => stripped.as_slice(),
    };
    if nsn.len() < MIN_NSN {
        return Err(Invalid::TooShort);
    }
    if nsn.len() > MAX_NSN {
        return Err(Invalid::TooLong);
    }
    Number::from_parts(cc, nsn).ok_or(Invalid::TooLong)
}

/// phonenumbers' `_maybe_strip_national_prefix_carrier_code`: removes (or transforms) the
/// national prefix unless that would turn a number matching the plan into one that does not.
fn strip_national_prefix(
    plan: &NumberingPlan,
    country: &Country,
    t: &Territory,
    nsn: &[u8],
) -> Digits {
    let unchanged = Digits::from(nsn).unwrap_or_else(Digits::new);
    let Some(prefix) = &t.national_prefix_for_parsing else {
        return unchanged;
    };
    if nsn.is_empty() {
        return unchanged;
    }
    let candidate = match &t.national_prefix_transform {
        Some(rule) => {
            let Ok(text) = std::str::from_utf8(nsn) else {
                return unchanged;
            };
            let Some(caps) = prefix.regex().captures(text) else {
                return unchanged;
            };
            let end = caps.get(0).map_or(0, |m| m.end());
            if caps.iter().last().flatten().is_some() && caps.len() > 1 {
                let mut replaced = String::new();
                caps.expand(rule, &mut replaced);
                replaced.push_str(&text[end..]);
                Digits::from(replaced.as_bytes())
            } else {
                Digits::from(&nsn[end..])
            }
        }
        None => match prefix.match_end(nsn) {
            Some(end) => Digits::from(&nsn[end..]),
            None => return unchanged,
        },
    };
    let Some(candidate) = candidate else {
        return unchanged;
    };
    if plan.matches_general(country, t, nsn)
        && !plan.matches_general(country, t, candidate.as_slice())
    {
        return unchanged;
    }
    candidate
}

fn country_code_of(d: &[u8]) -> u16 {
    d.iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numplan::tests::sample_plan;

    fn kz(plan: &NumberingPlan) -> DialPlan {
        DialPlan::new(plan, "KZ", &["00".to_string()]).unwrap()
    }

    fn norm(raw: &str, ingress: Ingress) -> Result<String, Invalid> {
        let plan = sample_plan();
        normalize(&plan, &kz(&plan), raw, ingress).map(Number::to_e164)
    }

    #[test]
    fn reads_every_kazakh_format() {
        for raw in [
            "+77011234567",
            "77011234567",
            "87011234567",
            "8 (701) 123-45-67",
            "+7 701 123 45 67",
            "810 7 701 123 45 67",
            "00 7 701 1234567",
            "7011234567",
            " +7.701.123.45.67 ",
            "tel:+7-701-123-45-67;phone-context=example",
            "sip:+77011234567@gw.example;user=phone",
            "\u{FF0B}\u{FF17}\u{FF17}\u{FF10}\u{FF11}1234567",
        ] {
            assert_eq!(
                norm(raw, Ingress::National).as_deref(),
                Ok("+77011234567"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn shared_country_code_without_plus_reads_the_other_territory() {
        for (raw, want) in [
            ("79161234567", "+79161234567"),
            ("7 916 123 45 67", "+79161234567"),
            ("74951234567", "+74951234567"),
        ] {
            assert_eq!(norm(raw, Ingress::National).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn international_ingress_reads_country_code_first() {
        assert_eq!(
            norm("77011234567", Ingress::International).as_deref(),
            Ok("+77011234567")
        );
        assert_eq!(
            norm("12015550123", Ingress::International).as_deref(),
            Ok("+12015550123")
        );
        assert_eq!(
            norm("0012015550123", Ingress::International).as_deref(),
            Ok("+12015550123")
        );
        // On national ingress the same digits are a (bad) Kazakh national number.
        assert_ne!(
            norm("12015550123", Ingress::National).as_deref(),
            Ok("+12015550123")
        );
    }

    #[test]
    fn garbage_has_a_reason() {
        assert_eq!(norm("", Ingress::National), Err(Invalid::Empty));
        assert_eq!(norm(" - ", Ingress::National), Err(Invalid::Empty));
        assert_eq!(norm("Anonymous", Ingress::National), Err(Invalid::Withheld));
        assert_eq!(
            norm("+7701abc", Ingress::National),
            Err(Invalid::BadCharacter)
        );
        assert_eq!(norm("7+701", Ingress::National), Err(Invalid::BadCharacter));
        assert_eq!(
            norm("+99912345", Ingress::National),
            Err(Invalid::UnknownCountryCode)
        );
        assert_eq!(norm("+7", Ingress::National), Err(Invalid::TooShort));
        assert_eq!(
            norm(&"1".repeat(30), Ingress::National),
            Err(Invalid::TooLong)
        );
        assert_eq!(
            norm(&" ".repeat(MAX_RAW_LEN + 1), Ingress::National),
            Err(Invalid::TooLong)
        );
        assert_eq!(
            norm("+7\u{0}701", Ingress::National),
            Err(Invalid::BadCharacter)
        );
    }

    #[test]
    fn rejects_bad_extra_prefixes() {
        let plan = sample_plan();
        assert!(DialPlan::new(&plan, "KZ", &["0x".into()]).is_err());
        assert!(DialPlan::new(&plan, "ZZ", &[]).is_err());
        assert!(DialPlan::new(&plan, "001", &[]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(raw in "\\PC{0,40}", which in 0..3usize) {
            let ingress = [Ingress::International, Ingress::National, Ingress::Onnet][which];
            let _ = norm(&raw, ingress);
        }

        #[test]
        fn plus_form_round_trips(nsn in "70[0-8][0-9]{7}") {
            let e164 = format!("+7{nsn}");
            proptest::prop_assert_eq!(norm(&e164, Ingress::International), Ok(e164.clone()));
            proptest::prop_assert_eq!(norm(&format!("8{nsn}"), Ingress::National), Ok(e164));
        }
    }
}
