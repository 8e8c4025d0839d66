//! The compact number: an E.164 number held as one `u64`.
//!
//! Country codes never start with `0`, so the digits `CC‖NSN` read as an integer keep every
//! leading zero of the national significant number (Italy's `+39 06…`) and convert back
//! uniquely. Up to [`MAX_DIGITS`] digits fit.

use std::fmt;

/// Most digits (country code plus national significant number) a [`Number`] can hold.
///
/// E.164 allows 15; phonenumbers' metadata allows national numbers of up to 17 digits,
/// so 19 leaves room for every number the numbering plan can call valid.
pub const MAX_DIGITS: usize = 19;
// `from_parts` builds a value below 10^MAX_DIGITS in a u64 (below 1.8 × 10^19).
const _: () = assert!(MAX_DIGITS <= 19);

/// An E.164 number as an integer, with its country-code length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Number {
    value: u64,
    len: u8,
    cc_len: u8,
}

impl Number {
    /// Builds a number from its country code and national significant number digits
    /// (ASCII `0`-`9`). Returns `None` if it would exceed [`MAX_DIGITS`] or a byte is no digit.
    pub fn from_parts(country_code: u16, nsn: &[u8]) -> Option<Number> {
        let cc_len = digit_count(u64::from(country_code));
        let len = cc_len + nsn.len();
        if country_code == 0 || len > MAX_DIGITS {
            return None;
        }
        let mut value = u64::from(country_code);
        let mut rest = nsn;
        while let Some((word, tail)) = rest.split_first_chunk::<8>() {
            value = value * 100_000_000 + eight_digits(word)?;
            rest = tail;
        }
        for &b in rest {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u64::from(b - b'0');
        }
        Some(Number {
            value,
            len: len as u8,
            cc_len: cc_len as u8,
        })
    }

    /// Parses `+CCNSN` or `CCNSN` where the country code length is already known.
    pub fn from_digits(digits: &[u8], cc_len: usize) -> Option<Number> {
        if cc_len == 0 || cc_len > 3 || digits.len() < cc_len {
            return None;
        }
        let cc = digits[..cc_len].iter().try_fold(0u16, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u16::from(b - b'0'))
        })?;
        if digits[0] == b'0' {
            return None;
        }
        Number::from_parts(cc, &digits[cc_len..])
    }

    /// The digits as one integer (`77011234567` for `+77011234567`).
    pub fn value(self) -> u64 {
        self.value
    }

    /// Total number of digits.
    pub fn len(self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a number has at least a country code. Present for clippy's sake.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The country calling code.
    pub fn country_code(self) -> u16 {
        let nsn_len = u32::from(self.len - self.cc_len);
        (self.value / 10u64.pow(nsn_len)) as u16
    }

    /// Writes the digits (country code first) into `buf` and returns them.
    pub fn digits(self, buf: &mut [u8; MAX_DIGITS]) -> &[u8] {
        // Two digits per division: half the (multiply-shift) divisions of one at a time.
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            20212223242526272829303132333435363738394041424344454647484950515253545556575859\
            60616263646566676869707172737475767778798081828384858687888990919293949596979899";
        let n = self.len().min(MAX_DIGITS);
        let mut v = self.value;
        let mut end = n;
        while end >= 2 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            buf[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
            end -= 2;
        }
        if end == 1 {
            buf[0] = b'0' + (v % 10) as u8;
        }
        &buf[..n]
    }

    /// Length of the country code in digits.
    pub fn country_code_len(self) -> usize {
        usize::from(self.cc_len)
    }

    /// The national significant number, written into `buf`.
    pub fn national(self, buf: &mut [u8; MAX_DIGITS]) -> &[u8] {
        let cc_len = self.country_code_len();
        let n = self.len();
        self.digits(buf);
        &buf[cc_len..n]
    }

    /// The E.164 string, `+` and digits.
    pub fn to_e164(self) -> String {
        let mut buf = [0u8; MAX_DIGITS];
        let mut s = String::with_capacity(self.len() + 1);
        s.push('+');
        for &b in self.digits(&mut buf) {
            s.push(char::from(b));
        }
        s
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_e164())
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

/// `1` in every byte of a word.
const ONES: u64 = u64::from_le_bytes([1; 8]);

/// Whether all eight bytes are ASCII digits, tested as one word: no byte has its high bit set,
/// falls below `0` once `0` is subtracted, or reaches 0x80 once 0x46 (0x80 - `:`) is added.
/// A borrow or carry between bytes starts only at a byte that already fails.
#[inline]
pub(crate) fn eight_ascii_digits(word: &[u8; 8]) -> bool {
    let w = u64::from_le_bytes(*word);
    (w | w.wrapping_sub(ONES * 0x30) | w.wrapping_add(ONES * 0x46)) & (ONES * 0x80) == 0
}

/// The value of eight ASCII digits (the first the most significant), or `None` if a byte is
/// no digit: the bytes checked as one word ([`eight_ascii_digits`]) and combined in pairs,
/// fours, then eights.
#[inline]
pub(crate) fn eight_digits(word: &[u8; 8]) -> Option<u64> {
    if !eight_ascii_digits(word) {
        return None;
    }
    let w = u64::from_le_bytes(*word);
    // Little-endian: the first digit is the lowest byte. Each step folds the next-higher
    // lane (the next digits) into the lower one and keeps every other lane.
    let v = w - ONES * 0x30;
    let v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((v * 10_000 + (v >> 32)) & 0xFFFF_FFFF)
}

fn digit_count(v: u64) -> usize {
    match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        _ => 4 + digit_count(v / 10_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_leading_zeros_of_the_national_number() {
        let n = Number::from_parts(39, b"0612345678").unwrap();
        assert_eq!(n.to_e164(), "+390612345678");
        assert_eq!(n.country_code(), 39);
        let mut buf = [0; MAX_DIGITS];
        assert_eq!(n.national(&mut buf), b"0612345678");
    }

    #[test]
    fn rejects_a_non_digit_in_a_word_or_after_it() {
        for nsn in [
            &b"1234567a"[..],
            b"a2345678",
            b"123456789a",
            b"12345678:",
            b"1234/678",
        ] {
            assert!(Number::from_parts(7, nsn).is_none(), "{nsn:?}");
        }
        assert_eq!(
            Number::from_parts(7, b"1234567890").map(|n| n.value()),
            Some(71_234_567_890)
        );
    }

    #[test]
    fn rejects_too_many_digits() {
        assert!(Number::from_parts(7, b"123456789012345678").is_some());
        assert!(Number::from_parts(7, b"1234567890123456789").is_none());
        assert!(Number::from_parts(0, b"1").is_none());
    }

    #[test]
    fn counts_digits_at_every_width() {
        for v in [
            0u64,
            9,
            10,
            99,
            100,
            999,
            1_000,
            9_999,
            10_000,
            65_535,
            99_999_999,
            100_000_000,
        ] {
            assert_eq!(digit_count(v), v.to_string().len(), "{v}");
        }
    }

    proptest::proptest! {
        /// The word-at-a-time parse is the digit-at-a-time one, and refuses what it refuses.
        #[test]
        fn eight_digits_is_a_digit_loop(
            word in proptest::array::uniform8(
                proptest::prop_oneof![
                    12 => b'0'..=b'9',
                    1 => proptest::num::u8::ANY,
                    // Bytes next to the digits, and their images with the high bit set.
                    2 => proptest::sample::select(&b"/:\x00\x7f\x80\xaf\xb0\xb9\xba\xff"[..]),
                ],
            ),
        ) {
            let want = word.iter().try_fold(0u64, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
            });
            proptest::prop_assert_eq!(eight_digits(&word), want);
        }

        #[test]
        fn round_trips(cc in 1u16..1000, nsn in "[0-9]{0,16}") {
            let n = Number::from_parts(cc, nsn.as_bytes()).unwrap();
            proptest::prop_assert_eq!(n.to_e164(), format!("+{cc}{nsn}"));
            proptest::prop_assert_eq!(n.country_code(), cc);
            let mut buf = [0; MAX_DIGITS];
            proptest::prop_assert_eq!(n.national(&mut buf), nsn.as_bytes());
        }
    }
}
