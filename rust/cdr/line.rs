//! Finding the end and the commas of a plain CSV line in one pass.
//!
//! The CSV reader in [`crate::cdr`] splits a line with no quote and no inner carriage return on
//! its commas itself, and leaves every other record to `csv_core`. The four bytes that matter
//! (`,` `"` CR LF) are all below `0x2D`, so one test per 8-byte word finds the candidates,
//! and only those (the commas and the odd `+` or space) are looked at one by one: on ~100-byte
//! CDR lines this costs a fraction of the vectorised searches it replaced, whose set-up
//! dominates at that length.

/// What [`scan`] found at the front of the unread bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A plain line: its fields (the bounds pushed) are the first `len` bytes split on
    /// commas, and it takes `next` bytes with its line end (CRLF, LF, or none at the end of
    /// input).
    Plain {
        /// Bytes of the fields, commas included.
        len: usize,
        /// Bytes consumed, line end included.
        next: usize,
    },
    /// The line holds a quote, or a carriage return not just before its line feed: a record
    /// for `csv_core`.
    Quoted,
    /// No line end in the bytes and more input may follow: read more and scan again.
    Open,
}

/// High bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// `0x2D` in every byte: `,` `"` CR and LF are below it.
const BELOW: u64 = 0x2D2D_2D2D_2D2D_2D2D;

/// The high bit of each byte of `w` (little-endian) that is below `0x2D`, exactly: `w | HIGH`
/// minus `BELOW` borrows from no neighbouring byte, and bytes from `0x80` up are excluded.
fn candidates(w: u64) -> u64 {
    !((w | HIGH).wrapping_sub(BELOW)) & !w & HIGH
}

/// Scans the line at the front of `bytes`; for a plain line, `fields` (cleared first) gets
/// the `(start, end)` of each field. `eof`: no input follows `bytes`, so a line without a line
/// end ends with them. Agrees with looking for the first LF, dropping one CR before it, and
/// calling the line plain when what is left holds no `"` and no CR.
pub(crate) fn scan(bytes: &[u8], eof: bool, fields: &mut Vec<(usize, usize)>) -> Line {
    fields.clear();
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        let w = word(bytes, at);
        let mut m = candidates(w);
        while m != 0 {
            let shift = m.trailing_zeros() & !7;
            let i = at + (shift / 8) as usize;
            m &= m - 1;
            let (len, next) = match (w >> shift) as u8 {
                b',' => {
                    fields.push((start, i));
                    start = i + 1;
                    continue;
                }
                b'\n' => (i, i + 1),
                b'"' => return Line::Quoted,
                b'\r' => match bytes.get(i + 1) {
                    Some(b'\n') => (i, i + 2),
                    Some(_) => return Line::Quoted,
                    // The last byte: the line's CR at the end of input, else wait for what
                    // follows.
                    None if eof => (i, i + 1),
                    None => return Line::Open,
                },
                _ => continue,
            };
            fields.push((start, len));
            return Line::Plain { len, next };
        }
        at += 8;
    }
    if eof {
        fields.push((start, bytes.len()));
        Line::Plain {
            len: bytes.len(),
            next: bytes.len(),
        }
    } else {
        Line::Open
    }
}

/// The 8 bytes at `at` as a little-endian word; past the end, `0xFF` (never a candidate).
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0xFF; 8];
    match bytes.get(at..at + 8) {
        Some(b) => w.copy_from_slice(b),
        None => {
            let rest = &bytes[at..];
            w[..rest.len()].copy_from_slice(rest);
        }
    }
    u64::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule [`scan`] replaces, written plainly with memchr.
    fn reference(bytes: &[u8], eof: bool) -> (Line, Vec<(usize, usize)>) {
        let (len, next) = match memchr::memchr(b'\n', bytes) {
            Some(k) => (k, k + 1),
            None if eof => (bytes.len(), bytes.len()),
            None => {
                // Without a line end the answer waits for more input, unless a quote or a CR
                // already decides it (a CR followed by a byte that is not LF).
                let cr_inside = bytes
                    .iter()
                    .enumerate()
                    .any(|(i, &b)| b == b'\r' && i + 1 < bytes.len());
                let quote = bytes.contains(&b'"');
                return (
                    if quote || cr_inside {
                        Line::Quoted
                    } else {
                        Line::Open
                    },
                    vec![],
                );
            }
        };
        let line = match &bytes[..len] {
            [rest @ .., b'\r'] => rest,
            line => line,
        };
        if memchr::memchr2(b'"', b'\r', line).is_some() {
            return (Line::Quoted, vec![]);
        }
        let mut fields = Vec::new();
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', line) {
            fields.push((start, comma));
            start = comma + 1;
        }
        fields.push((start, line.len()));
        (
            Line::Plain {
                len: line.len(),
                next,
            },
            fields,
        )
    }

    proptest::proptest! {
        /// `scan` agrees with the memchr rule on arbitrary bytes (rich in the bytes that matter,
        /// and in bytes just above and below `0x2D` and `0x80`), wherever the input ends.
        #[test]
        fn scan_is_the_memchr_rule(
            bytes in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b",\"\r\n+-a0\x2c\x2d\x2e\x7f\x80\xac\xff".to_vec()),
                proptest::num::u8::ANY,
            ], 0..70),
            eof: bool,
        ) {
            let mut fields = vec![(7, 9)];
            let got = scan(&bytes, eof, &mut fields);
            let (want, want_fields) = reference(&bytes, eof);
            proptest::prop_assert_eq!(got, want);
            if let Line::Plain { .. } = got {
                proptest::prop_assert_eq!(fields, want_fields);
            }
        }
    }

    #[test]
    fn candidates_are_exactly_the_low_bytes() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut w = [0x41u8; 8];
                w[at] = b;
                let m = candidates(u64::from_le_bytes(w));
                let want = if b < 0x2D { 0x80u64 << (8 * at) } else { 0 };
                assert_eq!(m, want, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn lines() {
        let mut c = Vec::new();
        assert_eq!(
            scan(b"a,b\r\nc", false, &mut c),
            Line::Plain { len: 3, next: 5 }
        );
        assert_eq!(c, [(0, 1), (2, 3)]);
        assert_eq!(scan(b"a,b", false, &mut c), Line::Open);
        assert_eq!(scan(b"a,b", true, &mut c), Line::Plain { len: 3, next: 3 });
        assert_eq!(scan(b"a,b\r", false, &mut c), Line::Open);
        assert_eq!(
            scan(b"a,b\r", true, &mut c),
            Line::Plain { len: 3, next: 4 }
        );
        assert_eq!(scan(b"a\rb\n", true, &mut c), Line::Quoted);
        assert_eq!(scan(b"0123456,\"x\"\n", true, &mut c), Line::Quoted);
        assert_eq!(
            scan(b"+7701,1\n\"", true, &mut c),
            Line::Plain { len: 7, next: 8 }
        );
    }
}
