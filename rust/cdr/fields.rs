//! Call-field values as operators export them: `roaming`, `attestation`, seconds, and the
//! nine texts of a row into a [`Call`].

use crate::call::{Attestation, Call, Ingress};
use crate::Result;

/// A field value that does not parse (the caller names the field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadValue;

/// Parses `roaming`: true/false/1/0/yes/no/y/n/t/f (any case); empty, `unknown`, `none` or
/// `null` is unknown. `Err(BadValue)` for anything else.
pub fn parse_roaming(s: &str) -> Result<Option<bool>, BadValue> {
    // The values as exported, before the trim and the case-blind comparisons.
    match s {
        "" => return Ok(None),
        "true" | "1" => return Ok(Some(true)),
        "false" | "0" => return Ok(Some(false)),
        _ => {}
    }
    let s = s.trim();
    let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(s));
    if is(&["true", "1", "yes", "y", "t"]) {
        Ok(Some(true))
    } else if is(&["false", "0", "no", "n", "f"]) {
        Ok(Some(false))
    } else if is(&["", "unknown", "none", "null"]) {
        Ok(None)
    } else {
        Err(BadValue)
    }
}

/// Parses `attestation`: `A`, `B`, `C` (any case) or empty.
pub fn parse_attestation(s: &str) -> Result<Option<Attestation>, BadValue> {
    if s.is_empty() {
        return Ok(None);
    }
    match Attestation::parse(s) {
        Some(a) => Ok(Some(a)),
        None if s.trim().is_empty() => Ok(None),
        None => Err(BadValue),
    }
}

/// Parses seconds (`timestamp`, `duration`): a finite decimal, `>= 0` if `non_negative`;
/// empty is unknown.
pub fn parse_seconds(s: &str, non_negative: bool) -> Result<Option<f64>, BadValue> {
    // A plain decimal has no spaces to trim.
    let x = match decimal(s) {
        Some(x) => x,
        None => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>().map_err(|_| BadValue)?
        }
    };
    if seconds_ok(x, non_negative) {
        Ok(Some(x))
    } else {
        Err(BadValue)
    }
}

/// A number of seconds is finite, and `>= 0` if `non_negative`.
fn seconds_ok(x: f64, non_negative: bool) -> bool {
    x.is_finite() && (!non_negative || x >= 0.0)
}

/// `[-]digits[.digits]` whose digits, read as one integer `m`, are at most 2^53, exactly as
/// `str::parse` reads it; `None` for anything else. With `k` decimals (k ≤ 18: at most 19
/// digits, one before the point), both `m` and `10^k` are exact doubles (10^k is up to
/// 10^22), and IEEE division rounds `m / 10^k` correctly: to the double nearest the decimal,
/// which is what `str::parse` returns.
pub(super) fn decimal(s: &str) -> Option<f64> {
    const POW10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    let (negative, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    // At most 19 digits (and a point): `m` < 10^19 fits a u64.
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    // The first eight bytes as one word when they are all digits (a Unix time's first eight
    // are), then byte by byte: digits, and one point with digits on both sides.
    let (mut m, at) = match digits.first_chunk::<8>() {
        Some(word) => crate::number::eight_digits(word).map_or((0, 0), |v| (v, 8)),
        None => (0, 0),
    };
    let mut point = None;
    for (i, &b) in digits.iter().enumerate().skip(at) {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            // Wrapping: a 20th digit overflows, and is refused below.
            m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        } else if b == b'.' && point.is_none() && i > 0 && i + 1 < digits.len() {
            point = Some(i);
        } else {
            return None;
        }
    }
    let scale = point.map_or(0, |p| digits.len() - 1 - p);
    if digits.len() - usize::from(point.is_some()) > 19 || m > 1 << 53 {
        return None;
    }
    let x = m as f64 / POW10.get(scale)?;
    Some(if negative { -x } else { x })
}

/// UTF-8 text of a field, with U+FFFD for bytes that are not.
pub(super) fn utf8(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// The field a malformed-row message names (`"ingress: ..."` → `"ingress"`), for the
/// `malformed:FIELD` reason.
pub(super) fn malformed_field(message: &str) -> &str {
    message.split(':').next().unwrap_or("row")
}

/// Builds a call from the nine call-field texts, or says which field is wrong.
pub fn call_from_fields<'a>(f: &'a [std::borrow::Cow<'a, str>; 9]) -> Result<Call<'a>, String> {
    call_with_seconds(f, [None, None])
}

/// [`call_from_fields`], with `timestamp` and `duration` given as numbers (`Some(None)`:
/// unknown) in place of their texts when `Some`: checked as the text of the number would be.
pub(super) fn call_with_seconds<'a>(
    f: &'a [std::borrow::Cow<'a, str>; 9],
    numbers: [Option<Option<f64>>; 2],
) -> Result<Call<'a>, String> {
    call_from_strs(std::array::from_fn(|i| &*f[i]), numbers)
}

/// The call fields of a row whose text is `whole` (fields at `bounds`, call fields at
/// `columns`): `""` for a column that is absent or past the row's end; `None` when a field
/// does not lie on character boundaries.
pub(super) fn field_strs<'a>(
    whole: &'a str,
    bounds: &[(usize, usize)],
    columns: &[Option<usize>; 9],
) -> Option<[&'a str; 9]> {
    let mut out = [""; 9];
    for (f, c) in out.iter_mut().zip(columns) {
        if let Some(&(a, b)) = c.and_then(|c| bounds.get(c)) {
            *f = whole.get(a..b)?;
        }
    }
    Some(out)
}

/// [`call_with_seconds`] over the field texts themselves.
pub(super) fn call_from_strs(
    f: [&str; 9],
    numbers: [Option<Option<f64>>; 2],
) -> Result<Call<'_>, String> {
    let bad = |field: &str, value: &str, want: &str| {
        let shown: String = value.chars().take(40).collect();
        format!("{field}: {shown:?} is not {want}")
    };
    let seconds = |field: &str, text: &str, number: Option<Option<f64>>, non_negative: bool| {
        let want = if non_negative {
            "a non-negative number of seconds"
        } else {
            "a number of seconds"
        };
        match number {
            None => parse_seconds(text, non_negative).map_err(|_| bad(field, text, want)),
            Some(None) => Ok(None),
            Some(Some(x)) if seconds_ok(x, non_negative) => Ok(Some(x)),
            Some(Some(x)) => Err(bad(field, &x.to_string(), want)),
        }
    };
    Ok(Call {
        timestamp: seconds("timestamp", f[0], numbers[0], false)?,
        caller: f[1],
        callee: f[2],
        ingress: Ingress::parse(f[3])
            .ok_or_else(|| bad("ingress", f[3], "international, national or onnet"))?,
        roaming: parse_roaming(f[4])
            .map_err(|_| bad("roaming", f[4], "true/false/1/0/yes/no or empty"))?,
        attestation: parse_attestation(f[5])
            .map_err(|_| bad("attestation", f[5], "A, B, C or empty"))?,
        duration: seconds("duration", f[6], numbers[1], true)?,
        trunk: f[7],
        network_number: (!f[8].trim().is_empty()).then_some(f[8]),
    })
}
