//! Number types and region codes, named as phonenumbers names them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of service a number belongs to (phonenumbers' `PhoneNumberType`, lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NumberType {
    /// A geographic fixed line.
    FixedLine,
    /// A mobile subscriber.
    Mobile,
    /// The plan cannot tell fixed from mobile (NANP, for one).
    FixedLineOrMobile,
    /// Free to the caller.
    TollFree,
    /// Premium rate: the usual target of IRSF.
    PremiumRate,
    /// Cost shared between caller and callee.
    SharedCost,
    /// Voice over IP.
    Voip,
    /// Personal (follow-me) numbers.
    PersonalNumber,
    /// Pagers.
    Pager,
    /// Universal access numbers.
    Uan,
    /// Voicemail access.
    Voicemail,
    /// Not matched by any pattern of the number's region.
    Unknown,
}

impl NumberType {
    /// Every type, in a fixed order.
    pub const ALL: [NumberType; 12] = [
        NumberType::FixedLine,
        NumberType::Mobile,
        NumberType::FixedLineOrMobile,
        NumberType::TollFree,
        NumberType::PremiumRate,
        NumberType::SharedCost,
        NumberType::Voip,
        NumberType::PersonalNumber,
        NumberType::Pager,
        NumberType::Uan,
        NumberType::Voicemail,
        NumberType::Unknown,
    ];

    /// The lower-case name (`"fixed_line"`, `"toll_free"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::FixedLine => "fixed_line",
            NumberType::Mobile => "mobile",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::Voip => "voip",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Unknown => "unknown",
        }
    }

    /// Parses a lower-case name.
    pub fn from_name(name: &str) -> Option<NumberType> {
        NumberType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for NumberType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A region: an ISO 3166-1 alpha-2 code, or `"001"` for non-geographic entities (+800, +882, ...).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Region([u8; 3]);

impl Region {
    /// Parses `"KZ"` (case-insensitive) or `"001"`.
    pub fn parse(code: &str) -> Option<Region> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Region([a.to_ascii_uppercase(), b.to_ascii_uppercase(), 0]))
            }
            b"001" => Some(Region(*b"001")),
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        let n = if self.0[2] == 0 { 2 } else { 3 };
        std::str::from_utf8(&self.0[..n]).unwrap_or("??")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in NumberType::ALL {
            assert_eq!(NumberType::from_name(t.as_str()), Some(t));
        }
        assert_eq!(Region::parse("kz").unwrap().as_str(), "KZ");
        assert_eq!(Region::parse("001").unwrap().as_str(), "001");
        assert!(Region::parse("K").is_none() && Region::parse("K1").is_none());
    }
}
