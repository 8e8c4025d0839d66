//! The numbering-plan source: what the Python layer extracts from the installed phonenumbers
//! and hands over as JSON. Plain data; [`crate::numplan`] compiles it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One number description (phonenumbers' `PhoneNumberDesc`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DescSource {
    /// `national_number_pattern`, a full-match regular expression over NSN digits.
    pub pattern: Option<String>,
    /// `possible_length`; empty means "as the general description", `[-1]` means none.
    #[serde(default)]
    pub lengths: Vec<i32>,
    /// `possible_length_local_only`.
    #[serde(default)]
    pub local_lengths: Vec<i32>,
}

/// One territory's metadata (phonenumbers' `PhoneMetadata`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TerritorySource {
    /// ISO code, or `"001"` for a non-geographic entity.
    pub id: String,
    /// Country calling code.
    pub country_code: u16,
    /// International (IDD) prefix pattern, e.g. `810` for KZ, `00` for most.
    pub international_prefix: Option<String>,
    /// National (trunk) prefix, e.g. `8` for KZ.
    pub national_prefix: Option<String>,
    /// Pattern stripped from national-format numbers.
    pub national_prefix_for_parsing: Option<String>,
    /// Replacement (with `\1`-style groups) applied instead of stripping, where present.
    pub national_prefix_transform_rule: Option<String>,
    /// Prefix pattern that decides the territory among those sharing a country code.
    pub leading_digits: Option<String>,
    /// Fixed-line and mobile patterns are identical.
    #[serde(default)]
    pub same_mobile_and_fixed_line_pattern: bool,
    /// The general description every valid number matches.
    pub general: DescSource,
    /// Per-type descriptions keyed by lower-case type name (`"mobile"`, `"toll_free"`, ...).
    #[serde(default)]
    pub types: BTreeMap<String, DescSource>,
}

/// Everything the numbering plan is compiled from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PlanSource {
    /// Where the data came from, e.g. `"phonenumbers 9.0.43"`; recorded in the compiled plan.
    pub source: String,
    /// Country calling code → territory ids, in phonenumbers' order (main territory first).
    pub country_codes: Vec<(u16, Vec<String>)>,
    /// Territory metadata; non-geographic entities have id `"001"` and their own code.
    pub territories: Vec<TerritorySource>,
    /// E.164-digit prefix → carrier name (English).
    #[serde(default)]
    pub carriers: Vec<(String, String)>,
    /// E.164-digit prefix → area description (English).
    #[serde(default)]
    pub locations: Vec<(String, String)>,
    /// Region → emergency short-number pattern.
    #[serde(default)]
    pub emergency: BTreeMap<String, String>,
}

impl PlanSource {
    /// Parses the JSON the Python layer writes.
    pub fn from_json(text: &str) -> crate::Result<PlanSource> {
        serde_json::from_str(text).map_err(|e| crate::Error::Parse {
            source_name: "<numbering plan source>".into(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }
}
