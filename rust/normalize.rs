//! Raw CLI and callee strings → E.164 [`Number`], the way a switch in the home country reads
//! them.
//!
//! Accepted: an optional `tel:`/`sip:`/`sips:` scheme (user part up to `@` or `;`), one leading
//! `+`, ASCII digits (fullwidth and Arabic-Indic digits are read as the same digits), and the
//! separators space, tab, no-break space, `-`, `.`, `/`, `(` and `)`. Anything else makes the
//! number invalid with a reason; nothing here fails loudly, and nothing allocates but a
//! territory's national-prefix transform (a few territories; none in the default home plan).
//!
//! Digits without `+` are read by ingress: on `international` ingress country code first
//! (after an international prefix starting with `0`, if present); on `national` and `onnet`
//! ingress by the home dialling plan: international prefix (`810` in KZ, plus configured
//! extras such as `00`), the home country code written without `+`, the national prefix
//! (`8` in KZ) and a bare national significant number, exactly as phonenumbers' `parse` does
//! with the home region as default region.

use crate::leading::{starts_with, LeadingPattern};
use crate::number::Number;
use crate::numplan::{Classification, Country, LengthCheck, NumberingPlan, Run, Territory};
use crate::numtype::Region;
use crate::overlay::Overlay;
use crate::{Error, Result};

/// Raw inputs longer than this many bytes are invalid (`too_long`) without being scanned.
pub const MAX_RAW_LEN: usize = 256;
/// Most digits a raw number may carry before it is `too_long`.
const MAX_SCANNED_DIGITS: usize = 24;
/// phonenumbers' bounds on a national significant number.
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;
// The fast scan takes at most this many digits after a `+`, all within `MAX_RAW_LEN` bytes,
// and the general scan's buffer holds them.
const _: () = assert!(MAX_SCANNED_DIGITS < MAX_RAW_LEN && MAX_SCANNED_DIGITS <= 40);

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
    /// Every ingress, in [`Ingress::index`] order.
    pub const ALL: [Ingress; 3] = [Ingress::International, Ingress::National, Ingress::Onnet];

    /// Parses `"international"`, `"national"` or `"onnet"` (case-insensitive).
    pub fn parse(s: &str) -> Option<Ingress> {
        // The names as written (what every switch sends) first, then case and spaces aside.
        Ingress::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .or_else(|| {
                Ingress::ALL
                    .into_iter()
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
    /// Appends a scanned digit; a raw number has at most [`MAX_SCANNED_DIGITS`].
    #[inline]
    fn push(&mut self, digit: u8) -> Result<(), Invalid> {
        if self.len >= MAX_SCANNED_DIGITS {
            return Err(Invalid::TooLong);
        }
        self.buf[self.len] = digit;
        self.len += 1;
        Ok(())
    }
    /// The scan's result: the digits, unless there are none.
    fn finish(&self, plus: bool) -> Result<(bool, &[u8]), Invalid> {
        if self.len == 0 {
            return Err(Invalid::Empty);
        }
        Ok((plus, self.as_slice()))
    }
}

/// A national significant number (borrowed from the scanned digits, or from a buffer a
/// national-prefix transform wrote) and, once the country's DFA has run over it, that run
/// (kept so that the same digits are never run twice in one lookup).
#[derive(Clone, Copy)]
struct Nsn<'d> {
    digits: &'d [u8],
    run: Option<Run>,
}

/// Buffers for NSNs a national-prefix transform rewrites: one per stripping step a lookup
/// may take (the home territory's, then the main territory's).
type Scratch = [Option<Digits>; 2];

impl<'d> Nsn<'d> {
    fn new(digits: &'d [u8]) -> Nsn<'d> {
        Nsn { digits, run: None }
    }
    fn as_slice(&self) -> &'d [u8] {
        self.digits
    }
    fn len(&self) -> usize {
        self.digits.len()
    }
    /// The run of `country`'s DFA over the digits, done at most once.
    fn run(&mut self, country: &Country) -> Run {
        *self.run.get_or_insert_with(|| country.run(self.digits))
    }
    /// Territories of `country` whose general pattern matches (bit `i` for territory `i`).
    #[inline]
    fn general(&mut self, country: &Country) -> u64 {
        country.general_matches(self.run(country))
    }
    /// Whether the general pattern of some territory in `territories` (bit `i` for territory
    /// `i`) matches; no DFA pass when the first digit and length already rule them all out.
    fn matches_any_general(&mut self, country: &Country, territories: u64) -> bool {
        if self.run.is_none() && country.general_possible(self.digits) & territories == 0 {
            return false;
        }
        self.general(country) & territories != 0
    }
    /// Whether territory `ti`'s general pattern matches, as phonenumbers' parser asks.
    fn matches_general(&mut self, country: &Country, ti: usize) -> bool {
        self.matches_any_general(country, 1u64.checked_shl(ti as u32).unwrap_or(0))
    }
}

/// A normalised number with what normalising learnt on the way: its country, its national
/// significant number and (when one was needed) the country DFA's run over it.
struct Normalized<'p, 'd> {
    number: Number,
    /// The number's country code, and its digits.
    cc: u16,
    cc_text: CcText,
    country: &'p Country,
    nsn: Nsn<'d>,
}

/// A country code's digits (one to three).
#[derive(Clone, Copy, Debug)]
struct CcText {
    digits: [u8; 3],
    len: u8,
}

impl CcText {
    fn new(d: &[u8]) -> CcText {
        // Element by element: a call to memcpy costs more than these few moves.
        let (digits, len) = match *d {
            [] => ([0; 3], 0),
            [a] => ([a, 0, 0], 1),
            [a, b] => ([a, b, 0], 2),
            [a, b, c, ..] => ([a, b, c], 3),
        };
        CcText { digits, len }
    }
    fn as_slice(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }
}

/// The home dialling plan: the home territory and the prefixes that mean "international".
#[derive(Clone, Debug)]
pub struct DialPlan {
    region: Region,
    home: (usize, usize),
    country_code: u16,
    /// The home country code's digits.
    cc_text: CcText,
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
        let cc_text = CcText::new(country.code.to_string().as_bytes());
        // Most numbers scored are the home country's: its tables and the home prefixes' DFAs
        // are built now rather than by the first calls (well under a millisecond; other
        // countries' stay built on first use).
        country.warm();
        let prefixes = idd.iter().chain(&territory.national_prefix_for_parsing);
        prefixes.for_each(LeadingPattern::warm);
        Ok(DialPlan {
            region: r,
            home,
            country_code: country.code,
            cc_text,
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

    /// Length of an international prefix at the start of `d`, if one is there and is followed
    /// by something other than `0` (phonenumbers' rule: `8100…` is not `810` + `0…`).
    fn idd_len(&self, d: &[u8]) -> Option<usize> {
        let regex_len = self.idd.as_ref().and_then(|p| p.match_end(d));
        let extra = self
            .extra_idd
            .iter()
            .filter(|p| starts_with(d, p))
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
    let mut buf = Digits::new();
    let (plus, digits) = scan(raw, &mut buf)?;
    let mut scratch = [None, None];
    normalized(plan, dial, plus, digits, ingress, &mut scratch).map(|n| n.number)
}

/// [`normalize`], then [`NumberingPlan::classify`] of the number and [`Overlay::apply`], in
/// one pass: the country, the NSN digits and any DFA run over them are carried over rather
/// than found again.
#[inline]
pub fn normalize_classify(
    plan: &NumberingPlan,
    dial: &DialPlan,
    raw: &str,
    ingress: Ingress,
    overlay: &Overlay,
) -> Result<Classification, Invalid> {
    let mut buf = Digits::new();
    let (plus, digits) = scan(raw, &mut buf)?;
    let mut scratch = [None, None];
    let Normalized {
        number,
        cc,
        cc_text,
        country,
        mut nsn,
    } = normalized(plan, dial, plus, digits, ingress, &mut scratch)?;
    let mut c = if country.code == cc {
        let run = nsn.run(country);
        country.classify(number, nsn.len(), run)
    } else {
        // Only with a dialling plan from another numbering plan: classify as `classify` does.
        plan.classify(number)
    };
    overlay.apply_split(cc_text.as_slice(), nsn.as_slice(), &mut c);
    Ok(c)
}

/// Reads the scanned digits `d` (after a `+` when `plus`) by ingress.
#[inline]
fn normalized<'p, 'd>(
    plan: &'p NumberingPlan,
    dial: &DialPlan,
    plus: bool,
    d: &'d [u8],
    ingress: Ingress,
    scratch: &'d mut Scratch,
) -> Result<Normalized<'p, 'd>, Invalid> {
    let country_code_first = match ingress {
        _ if plus => d,
        Ingress::International => match d.first() {
            Some(b'0') => match dial
                .idd_len(d)
                .or_else(|| d.starts_with(b"00").then_some(2))
            {
                Some(n) => &d[n..],
                None => return Err(Invalid::UnknownCountryCode),
            },
            _ => d,
        },
        Ingress::National | Ingress::Onnet => return national(plan, dial, d, scratch),
    };
    let [_, main] = scratch;
    international(plan, country_code_first, main)
}

/// Splits `raw` into a leading-plus flag and its digits: borrowed from `raw` when it is
/// ASCII digits after an optional `+` (what switches mostly send), else written into `buf`.
#[inline]
fn scan<'a>(raw: &'a str, buf: &'a mut Digits) -> Result<(bool, &'a [u8]), Invalid> {
    match scan_plain(raw) {
        Some(plain) => Ok(plain),
        None => scan_text(raw, buf),
    }
}

/// [`scan`]'s fast path: `raw` is one to [`MAX_SCANNED_DIGITS`] ASCII digits after an
/// optional `+`, and nothing else (so there is nothing to trim, no scheme, no separator).
#[inline]
fn scan_plain(raw: &str) -> Option<(bool, &[u8])> {
    let bytes = raw.as_bytes();
    let (plus, digits) = match bytes {
        [b'+', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let plain = !digits.is_empty() && digits.len() <= MAX_SCANNED_DIGITS && all_digits(digits);
    plain.then_some((plus, digits))
}

/// Whether every byte of `d` is an ASCII digit, eight bytes at a time where it can.
#[inline]
fn all_digits(d: &[u8]) -> bool {
    use crate::number::eight_ascii_digits as word;
    match d.last_chunk::<8>() {
        // Whole words from the start, and the last eight bytes (overlapping the last word).
        Some(tail) => {
            word(tail)
                && d.chunks_exact(8)
                    .all(|c| <&[u8; 8]>::try_from(c).is_ok_and(word))
        }
        None => d.iter().all(u8::is_ascii_digit),
    }
}

/// [`scan`] for any text: trims it, takes the user part of a URI, skips separators.
#[inline]
fn scan_text<'a>(raw: &str, out: &'a mut Digits) -> Result<(bool, &'a [u8]), Invalid> {
    if raw.len() > MAX_RAW_LEN {
        return Err(Invalid::TooLong);
    }
    let s = strip_scheme(trim(raw));
    let mut len = 0;
    let mut plus = false;
    // ASCII with separators or a scheme, a byte at a time (plain digits took `scan_plain`);
    // the first non-ASCII byte hands the whole text to `scan_chars`, which reads ASCII alike.
    for &b in s.as_bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit < 10 {
            let Some(slot) = out.buf.get_mut(len).filter(|_| len < MAX_SCANNED_DIGITS) else {
                return Err(Invalid::TooLong);
            };
            *slot = b;
            len += 1;
            continue;
        }
        match b {
            b'+' if !plus && len == 0 => plus = true,
            b' ' | b'\t' | b'-' | b'.' | b'/' | b'(' | b')' => {}
            0x80.. => return scan_chars(s, out),
            _ => return Err(not_a_number(s)),
        }
    }
    out.len = len;
    out.finish(plus)
}

/// `raw` without surrounding whitespace (Unicode's, as `char::is_whitespace` has it).
#[inline]
fn trim(raw: &str) -> &str {
    let bytes = raw.as_bytes();
    let solid = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    if solid(bytes.first()) && solid(bytes.last()) {
        return raw;
    }
    raw.trim_matches(|c: char| c.is_whitespace())
}

/// The user part of a `tel:`, `sip:` or `sips:` URI (up to `@` or `;`), or `s` itself.
#[inline]
fn strip_scheme(s: &str) -> &str {
    if !matches!(s.as_bytes().first(), Some(b't' | b'T' | b's' | b'S')) {
        return s;
    }
    for scheme in ["tel:", "sip:", "sips:"] {
        if s.len() >= scheme.len()
            && s.is_char_boundary(scheme.len())
            && s[..scheme.len()].eq_ignore_ascii_case(scheme)
        {
            return s[scheme.len()..].split(['@', ';']).next().unwrap_or("");
        }
    }
    s
}

/// [`scan_text`] for text with non-ASCII characters: fullwidth and Arabic-Indic digits, the
/// fullwidth plus and the no-break space besides what ASCII has.
#[cold]
fn scan_chars<'a>(s: &str, out: &'a mut Digits) -> Result<(bool, &'a [u8]), Invalid> {
    out.len = 0;
    let mut plus = false;
    for c in s.chars() {
        let digit = match c {
            '0'..='9' => Some(c as u32 - '0' as u32),
            '\u{FF10}'..='\u{FF19}' => Some(c as u32 - 0xFF10),
            '\u{0660}'..='\u{0669}' => Some(c as u32 - 0x0660),
            '\u{06F0}'..='\u{06F9}' => Some(c as u32 - 0x06F0),
            _ => None,
        };
        match (digit, c) {
            (Some(v), _) => out.push(b'0' + v as u8)?,
            (None, '+' | '\u{FF0B}') if !plus && out.len == 0 => plus = true,
            (None, ' ' | '\t' | '\u{A0}' | '-' | '.' | '/' | '(' | ')') => {}
            _ => return Err(not_a_number(s)),
        }
    }
    out.finish(plus)
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
#[inline(always)]
fn international<'p, 'd>(
    plan: &'p NumberingPlan,
    d: &'d [u8],
    scratch: &'d mut Option<Digits>,
) -> Result<Normalized<'p, 'd>, Invalid> {
    if d.len() <= MIN_NSN {
        return Err(Invalid::TooShort);
    }
    let cc_len = plan
        .country_code_len(d)
        .ok_or(Invalid::UnknownCountryCode)?;
    let cc = (country_code_of(&d[..cc_len]), CcText::new(&d[..cc_len]));
    finish(plan, cc, Nsn::new(&d[cc_len..]), None, scratch)
}

/// Reads digits without `+` on national or onnet ingress by the home dialling plan.
#[inline(always)]
fn national<'p, 'd>(
    plan: &'p NumberingPlan,
    dial: &DialPlan,
    d: &'d [u8],
    scratch: &'d mut Scratch,
) -> Result<Normalized<'p, 'd>, Invalid> {
    let [home_scratch, main_scratch] = scratch;
    if let Some(n) = dial.idd_len(d) {
        return international(plan, &d[n..], main_scratch);
    }
    let (country, home) = plan
        .territory_at(dial.home)
        .ok_or(Invalid::UnknownCountryCode)?;
    let hi = dial.home.1;
    let cc = (dial.country_code, dial.cc_text);
    let mut full = Nsn::new(d);
    let cc_text = dial.cc_text.as_slice();
    if starts_with(d, cc_text) {
        let rest = &mut Nsn::new(&d[cc_text.len()..]);
        let mut p = strip_national_prefix(country, hi, home, rest, home_scratch);
        let full_is_home = full.matches_general(country, hi);
        if (!full_is_home && p.matches_general(country, hi))
            || home.length_check(d.len()) == LengthCheck::TooLong
        {
            return finish(plan, cc, p, Some(country), main_scratch);
        }
        // Beyond phonenumbers: where the country code is shared (+7: KZ and RU; +1: the NANP),
        // `79161234567` read in KZ is a Russian number, not the invalid Kazakh `+7 79161234567`
        // that phonenumbers makes of it. phonenumbers' answer is never valid here, since the
        // full digits do not match the home plan, so agreement on valid numbers is kept.
        if !full_is_home && p.matches_any_general(country, u64::MAX) {
            return finish(plan, cc, p, Some(country), main_scratch);
        }
    }
    finish_with(cc, full, country, (hi, home), main_scratch)
}

/// phonenumbers' closing steps with the country code's main territory. `ran_with` is the
/// country `nsn`'s run (if any) was made with.
#[inline(always)]
fn finish<'p, 'd>(
    plan: &'p NumberingPlan,
    cc: (u16, CcText),
    mut nsn: Nsn<'d>,
    ran_with: Option<&Country>,
    scratch: &'d mut Option<Digits>,
) -> Result<Normalized<'p, 'd>, Invalid> {
    let country = plan.country(cc.0).ok_or(Invalid::UnknownCountryCode)?;
    let main = country
        .territories
        .first()
        .ok_or(Invalid::UnknownCountryCode)?;
    if !ran_with.is_some_and(|c| std::ptr::eq(c, country)) {
        nsn.run = None;
    }
    finish_with(cc, nsn, country, (0, main), scratch)
}

/// Builds the number of country code `cc` from its national significant number.
#[inline(always)]
fn finish_with<'p, 'd>(
    (cc, cc_text): (u16, CcText),
    mut nsn: Nsn<'d>,
    country: &'p Country,
    (ti, t): (usize, &Territory),
    scratch: &'d mut Option<Digits>,
) -> Result<Normalized<'p, 'd>, Invalid> {
    if nsn.len() < MIN_NSN {
        return Err(Invalid::TooShort);
    }
    let stripped = strip_national_prefix(country, ti, t, &mut nsn, scratch);
    let nsn = match t.length_check(stripped.len()) {
        LengthCheck::TooShort | LengthCheck::LocalOnly | LengthCheck::Invalid => nsn,
        LengthCheck::Possible | LengthCheck::TooLong => stripped,
    };
    if nsn.len() < MIN_NSN {
        return Err(Invalid::TooShort);
    }
    if nsn.len() > MAX_NSN {
        return Err(Invalid::TooLong);
    }
    let number = Number::from_parts(cc, nsn.as_slice()).ok_or(Invalid::TooLong)?;
    Ok(Normalized {
        number,
        cc,
        cc_text,
        country,
        nsn,
    })
}

/// phonenumbers' `_maybe_strip_national_prefix_carrier_code` with territory `t` (number `ti`
/// of `country`): removes (or transforms, into `scratch`) the national prefix unless that
/// would turn a number matching the plan into one that does not. Runs made over `nsn` are
/// kept in it.
#[inline(always)]
fn strip_national_prefix<'d>(
    country: &Country,
    ti: usize,
    t: &Territory,
    nsn: &mut Nsn<'d>,
    scratch: &'d mut Option<Digits>,
) -> Nsn<'d> {
    let Some(prefix) = &t.national_prefix_for_parsing else {
        return *nsn;
    };
    let digits = nsn.as_slice();
    if digits.is_empty() {
        return *nsn;
    }
    let candidate: &'d [u8] = match &t.national_prefix_transform {
        Some(rule) => match transformed(prefix, rule, digits, scratch) {
            Some(candidate) => candidate,
            None => return *nsn,
        },
        None => match prefix.match_end(digits) {
            Some(end) => &digits[end..],
            None => return *nsn,
        },
    };
    let mut candidate = Nsn::new(candidate);
    if nsn.matches_general(country, ti) && !candidate.matches_general(country, ti) {
        return *nsn;
    }
    candidate
}

/// [`strip_national_prefix`]'s candidate under a transform `rule` (capture groups filled in,
/// written into `scratch`), or `None` when the prefix is not there; kept out of line, as few
/// territories have a rule.
#[inline(never)]
fn transformed<'d>(
    prefix: &LeadingPattern,
    rule: &str,
    digits: &'d [u8],
    scratch: &'d mut Option<Digits>,
) -> Option<&'d [u8]> {
    let text = std::str::from_utf8(digits).ok()?;
    let caps = prefix.regex().captures(text)?;
    let end = caps.get(0).map_or(0, |m| m.end());
    if caps.iter().last().flatten().is_some() && caps.len() > 1 {
        let mut replaced = String::new();
        caps.expand(rule, &mut replaced);
        replaced.push_str(&text[end..]);
        let held: &'d Digits = scratch.insert(Digits::from(replaced.as_bytes())?);
        Some(held.as_slice())
    } else {
        Some(&digits[end..])
    }
}

/// The country code written as the digits `d` (at most three).
fn country_code_of(d: &[u8]) -> u16 {
    d.iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::MAX_DIGITS;
    use crate::numplan::tests::sample_plan;

    fn kz(plan: &NumberingPlan) -> DialPlan {
        DialPlan::new(plan, "KZ", &["00".to_string()]).unwrap()
    }

    fn norm(raw: &str, ingress: Ingress) -> Result<String, Invalid> {
        let plan = sample_plan();
        normalize(&plan, &kz(&plan), raw, ingress).map(Number::to_e164)
    }

    #[test]
    fn scan_reads_the_edge_cases() {
        let scanned = |raw: &str| {
            let mut buf = Digits::new();
            scan(raw, &mut buf).map(|(plus, d)| (plus, String::from_utf8_lossy(d).into_owned()))
        };
        let ok = |plus: bool, d: &str| Ok((plus, d.to_owned()));
        let (d24, d25) = ("1".repeat(24), "1".repeat(25));
        assert_eq!(scanned("+0"), ok(true, "0"));
        assert_eq!(scanned(&format!("+{d24}")), ok(true, &d24));
        assert_eq!(scanned(&d24), ok(false, &d24));
        assert_eq!(scanned(&format!("+{d25}")), Err(Invalid::TooLong));
        assert_eq!(scanned(&d25), Err(Invalid::TooLong));
        assert_eq!(scanned("\u{FF0B}\u{FF17}\u{FF10}1"), ok(true, "701"));
        assert_eq!(scanned("\u{0667}\u{0660}\u{0661}"), ok(false, "701"));
        assert_eq!(scanned("tel:+7701;x=1"), ok(true, "7701"));
        assert_eq!(scanned(" 7701"), ok(false, "7701"));
        assert_eq!(scanned("7701\u{A0}"), ok(false, "7701"));
        for bad in ["", "+", "++1", "7a01", "+-"] {
            assert!(scanned(bad).is_err(), "{bad:?}");
        }
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

    /// Normalising then classifying, one step after the other, as `normalize_classify` must
    /// answer.
    fn two_steps(
        plan: &NumberingPlan,
        dial: &DialPlan,
        raw: &str,
        ingress: Ingress,
        overlay: &Overlay,
    ) -> Result<Classification, Invalid> {
        normalize(plan, dial, raw, ingress).map(|n| {
            let mut c = plan.classify(n);
            let mut buf = [0u8; MAX_DIGITS];
            overlay.apply(n.digits(&mut buf), &mut c);
            c
        })
    }

    fn sample_overlay() -> Overlay {
        Overlay::parse(
            "prefix,region,type,tags\n+7,,,seven\n+7701,,voip,kz_mobile\n+1201,CA,,nj\n+80,,unknown,\n",
            "o.csv",
        )
        .unwrap()
    }

    #[test]
    fn one_pass_agrees_on_every_format() {
        let plan = sample_plan();
        let dial = kz(&plan);
        let overlay = sample_overlay();
        let ingresses = [Ingress::International, Ingress::National, Ingress::Onnet];
        for raw in [
            "+77011234567",
            "87272123456",
            "8 (701) 123-45-67",
            "+7 916 123-45-67",
            "+1 (201) 555-0123",
            "77011234567",
            "79161234567",
            "7 7011234567",
            "0012015550123",
            "810 7 701 123 45 67",
            "+80012345678",
            "87011234567890",
            "8 800 123 45 67",
            "+7 8 701 123 45 67",
            "+1 1 201 555 0123",
            "anonymous",
            "",
            "\u{FF0B}\u{FF17}\u{FF17}\u{FF10}\u{FF11}1234567",
        ] {
            for ingress in ingresses {
                for o in [&Overlay::empty(), &overlay] {
                    assert_eq!(
                        normalize_classify(&plan, &dial, raw, ingress, o),
                        two_steps(&plan, &dial, raw, ingress, o),
                        "{raw:?} {ingress:?}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        // Cheap cases, and a wrong word test shows only for a few byte placements: many cases.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The eight-at-a-time digit test is the byte-at-a-time one: on strings of mostly
        /// digits, with bytes next to the digits (and their high-bit images) and any byte mixed
        /// in anywhere, several at a time, so borrows and carries between bad bytes are tried.
        #[test]
        fn all_digits_is_a_byte_test(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    12 => b'0'..=b'9',
                    1 => proptest::num::u8::ANY,
                    2 => proptest::sample::select(&b"/:\x00\x7f\x80\xaf\xb0\xb9\xba\xff"[..]),
                ],
                0..30,
            ),
        ) {
            proptest::prop_assert_eq!(all_digits(&bytes), bytes.iter().all(u8::is_ascii_digit));
        }
    }

    proptest::proptest! {
        /// The one-pass lookup is normalising then classifying, for any text, on every ingress,
        /// with and without an overlay.
        #[test]
        fn one_pass_is_normalize_then_classify(
            raw in proptest::prop_oneof![
                "\\PC{0,30}",
                "[+]?[0-9 ()-]{0,20}",
                "[+]?(7|8|810|00|0|1|80)[0-9]{0,15}",
            ],
            which in 0..3usize,
            with_overlay: bool,
        ) {
            let plan = sample_plan();
            let dial = kz(&plan);
            let ingress = [Ingress::International, Ingress::National, Ingress::Onnet][which];
            let overlay = if with_overlay { sample_overlay() } else { Overlay::empty() };
            proptest::prop_assert_eq!(
                normalize_classify(&plan, &dial, &raw, ingress, &overlay),
                two_steps(&plan, &dial, &raw, ingress, &overlay)
            );
        }

        /// The fast scan reads what it accepts as the general scan does, and the whole scan
        /// answers as the general one on any text.
        #[test]
        fn fast_scan_is_the_text_scan(
            raw in proptest::prop_oneof![
                "\\PC{0,30}",
                "[+]?[0-9]{0,30}",
                "[+]?[0-9/:+ ]{0,26}",
                "[+\u{FF0B}]?[0-9\u{FF10}-\u{FF19}]{0,26}",
            ],
        ) {
            let mut slow = Digits::new();
            let want = scan_text(&raw, &mut slow);
            if let Some(plain) = scan_plain(&raw) {
                proptest::prop_assert_eq!(Ok(plain), want);
            }
        }

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
