//! The compiled numbering plan: which territory, type, carrier and area a number belongs to.
//!
//! Built from a [`PlanSource`] (phonenumbers' metadata). Per country calling code, every
//! pattern of every territory sharing that code is compiled into one anchored, multi-pattern
//! DFA over the national significant number; one pass yields the set of patterns that match,
//! and phonenumbers' own decision order (territory by leading digits or validity, then type by
//! priority) is applied to that set. Carrier and area names live in a [`PrefixTrie`] keyed by
//! E.164 digits.

use crate::leading::LeadingPattern;
use crate::metadata::{DescSource, PlanSource, TerritorySource};
use crate::number::{Number, MAX_DIGITS};
use crate::numtype::{NumberType, Region};
use crate::trie::{PrefixTrie, TrieBuilder};
use crate::{Error, Result};
use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::util::primitives::StateID;
use regex_automata::{Anchored, Input, MatchKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

/// Magic and format version of a compiled plan file (see [`crate::persist`]).
const PLAN_MAGIC: &[u8; 8] = b"FCPLAN\0\0";
/// Bumped whenever the compiled plan's layout or meaning changes; part of the cache file name.
pub const PLAN_VERSION: u32 = 2;

/// Most patterns one country calling code may have (the NANP's +1 needs about 300).
const MAX_PATTERNS: usize = 64 * 8;
/// Entries of the country-code index: one per code of up to three digits.
const CC_INDEX_LEN: usize = 1000;

/// Pattern slots per territory, in phonenumbers' type-priority order.
const TYPE_ORDER: [(&str, NumberType); 10] = [
    ("premium_rate", NumberType::PremiumRate),
    ("toll_free", NumberType::TollFree),
    ("shared_cost", NumberType::SharedCost),
    ("voip", NumberType::Voip),
    ("personal_number", NumberType::PersonalNumber),
    ("pager", NumberType::Pager),
    ("uan", NumberType::Uan),
    ("voicemail", NumberType::Voicemail),
    ("fixed_line", NumberType::FixedLine),
    ("mobile", NumberType::Mobile),
];
const FIXED: usize = 8;
const MOBILE: usize = 9;

/// Most territories one country calling code may have (the NANP's +1 has 25): a lookup keeps
/// one [`DescBits`] mask per territory on the stack, and a `u64` of general matches.
const MAX_TERRITORIES: usize = 64;

/// A territory's descriptions as bits of a `u16`: the [`TYPE_ORDER`] slots are bits 0 to 9,
/// then the general description and the leading-digits pattern.
type DescBits = u16;
const GENERAL_BIT: u32 = 10;
const LEADING_BIT: u32 = 11;
/// The types phonenumbers tries, in order, before fixed line and mobile.
const SPECIAL_TYPES: DescBits = (1 << FIXED) - 1;
/// [`Country::owners`] entry of a pattern no description uses.
const NO_OWNER: u16 = u16::MAX;

/// A number description compiled to a DFA pattern id plus a length mask.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Desc {
    pattern: Option<u16>,
    /// Bit `n` set: NSN length `n` allowed. `None`: no length constraint.
    lengths: Option<u32>,
}

/// One territory within a country calling code.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Territory {
    pub(crate) region: Region,
    general: Desc,
    types: [Desc; 10],
    leading: Option<u16>,
    same_mobile_and_fixed: bool,
    /// Sorted possible lengths of the general description, and local-only lengths.
    pub(crate) possible_lengths: Vec<u8>,
    pub(crate) local_lengths: Vec<u8>,
    pub(crate) international_prefix: Option<String>,
    #[serde(with = "serde_leading")]
    pub(crate) national_prefix_for_parsing: Option<LeadingPattern>,
    pub(crate) national_prefix_transform: Option<String>,
    /// Derived on compile and load: which descriptions allow each NSN length.
    #[serde(skip)]
    allowed: LengthBits,
}

/// Per NSN length, the [`DescBits`] of the descriptions whose length constraint allows it
/// (the leading-digits bit always set): 66 bytes a territory.
#[derive(Debug, Default)]
struct LengthBits {
    /// Lengths 0 to 31.
    short: [DescBits; 32],
    /// Lengths of 32 and more: only descriptions without a length constraint.
    long: DescBits,
}

impl LengthBits {
    fn of(t: &Territory) -> LengthBits {
        let allowed = |len: usize| -> DescBits {
            t.descs()
                .filter(|(bit, d)| {
                    *bit == LEADING_BIT || d.lengths.is_none_or(|m| len < 32 && m & (1 << len) != 0)
                })
                .fold(0, |bits, (bit, _)| bits | 1 << bit)
        };
        LengthBits {
            short: std::array::from_fn(allowed),
            long: allowed(32),
        }
    }

    #[inline]
    fn get(&self, len: usize) -> DescBits {
        self.short.get(len).copied().unwrap_or(self.long)
    }
}

/// All territories of one country calling code and their shared automaton.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Country {
    pub(crate) code: u16,
    pub(crate) territories: Vec<Territory>,
    #[serde(with = "serde_dfa")]
    dfa: dense::DFA<Vec<u32>>,
    /// Derived on compile and load: per pattern id, the territory and description using it
    /// (`territory << 4 | bit`, or [`NO_OWNER`]); 2 bytes a pattern, at most 1 KiB.
    #[serde(skip)]
    owners: Vec<u16>,
    /// Per first digit and length, the territories whose general pattern some NSN of that
    /// length starting with that digit matches (bit `i` for territory `i`); worked out by a
    /// walk over the DFA's states on first use (for the home country, when its dial plan is
    /// built), then 2 KiB.
    #[serde(skip)]
    general_by_first: OnceLock<GeneralTable>,
    /// The description bits of every match state a run can end in, and the outcome table;
    /// built on first use (for the home country, when its dial plan is built).
    #[serde(skip)]
    match_bits: OnceLock<MatchBits>,
}

/// Per match state a run can end in (the state after the end of input), the description
/// bits of every territory: what [`Country::classify`] would otherwise gather pattern by
/// pattern; and what it makes of them for each NSN length. `slots[state index - first]` is
/// the state's number `k` among the end states, `u32::MAX` for other states; its bits are
/// `bits[k * territories ..]` (`territories` entries), and `outcomes[k * OUTCOME_LENS + length]`
/// (the length capped at [`OUTCOME_LENS`] - 1) the territory and type chosen ([`Outcome`]).
/// Memory: 4 bytes for
/// each DFA state in the range the end states span (regex-automata keeps match states
/// together), plus 2 bytes per territory and 66 bytes for each end state.
#[derive(Debug, Default)]
struct MatchBits {
    first: usize,
    slots: Vec<u32>,
    bits: Vec<DescBits>,
    outcomes: Vec<Outcome>,
}

/// NSN lengths [`MatchBits::outcomes`] tells apart: 0 to 31 and then 32 or more, as
/// [`LengthBits`] does.
const OUTCOME_LENS: usize = 33;

/// A classification's territory and type: `territory + 1` (0 for none) above the type's
/// index in [`NumberType::ALL`] (four bits).
type Outcome = u16;

/// Longest NSN [`GeneralTable`] has answers for.
const GENERAL_TABLE_LEN: usize = 24;

/// [`Country::general_possible`]'s answers: `[first digit][length - 1]`.
type GeneralTable = [[u64; GENERAL_TABLE_LEN]; 10];

/// Where one pass of a country's DFA over an NSN ended: the state after the end of input when
/// some pattern matches, `None` when none does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run(Option<StateID>);

/// Carrier and area name indices for one prefix (`u32::MAX` = none).
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RangeNames {
    carrier: u32,
    location: u32,
}

const NONE: u32 = u32::MAX;

/// What the numbering plan says about one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classification {
    /// The number classified.
    pub number: Number,
    /// Territory, or `None` when no territory of the country code claims the number.
    pub region: Option<Region>,
    /// Matches a number type of its territory.
    pub valid: bool,
    /// The number type (`Unknown` when invalid).
    pub number_type: NumberType,
    /// Overlay tag bits (see [`crate::overlay::Overlay`]).
    pub tags: u64,
}

/// The compiled numbering plan of every country.
#[derive(Debug, Serialize, Deserialize)]
pub struct NumberingPlan {
    source: String,
    countries: Vec<Country>,
    cc_index: Vec<u16>,
    ranges: PrefixTrie<RangeNames>,
    names: Vec<String>,
    emergency: BTreeMap<String, String>,
    prefix_count: usize,
}

impl NumberingPlan {
    /// Compiles the plan. Fails on a pattern the automaton builder rejects.
    pub fn compile(src: &PlanSource) -> Result<NumberingPlan> {
        let by_key: HashMap<(u16, &str), &TerritorySource> = src
            .territories
            .iter()
            .map(|t| ((t.country_code, t.id.as_str()), t))
            .collect();
        let mut countries = Vec::with_capacity(src.country_codes.len());
        let mut cc_index = vec![u16::MAX; CC_INDEX_LEN];
        for (code, ids) in &src.country_codes {
            let territories: Vec<&TerritorySource> = ids
                .iter()
                .filter_map(|id| by_key.get(&(*code, id.as_str())).copied())
                .collect();
            if territories.is_empty() || *code == 0 || usize::from(*code) >= CC_INDEX_LEN {
                continue;
            }
            cc_index[usize::from(*code)] = countries.len() as u16;
            countries.push(compile_country(*code, &territories)?);
        }
        let mut names = Vec::new();
        let mut name_ids: HashMap<&str, u32> = HashMap::new();
        let pairs = src
            .carriers
            .iter()
            .map(|p| (p, true))
            .chain(src.locations.iter().map(|p| (p, false)));
        let mut merged: BTreeMap<&str, RangeNames> = BTreeMap::new();
        for ((prefix, name), is_carrier) in pairs {
            let id = *name_ids.entry(name.as_str()).or_insert_with(|| {
                names.push(name.clone());
                (names.len() - 1) as u32
            });
            let entry = merged.entry(prefix).or_insert(RangeNames {
                carrier: NONE,
                location: NONE,
            });
            if is_carrier {
                entry.carrier = id;
            } else {
                entry.location = id;
            }
        }
        let prefix_count = merged.len();
        let mut builder = TrieBuilder::new();
        for (prefix, names) in merged {
            builder.insert(prefix.as_bytes(), names);
        }
        Ok(NumberingPlan {
            source: src.source.clone(),
            countries,
            cc_index,
            ranges: builder.build(),
            names,
            emergency: src.emergency.clone(),
            prefix_count,
        })
    }

    /// The compiled plan as bytes: header, then the tries, names and automata.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = postcard::to_stdvec(self)
            .map_err(|e| Error::invalid("numbering plan", format!("cannot serialise: {e}")))?;
        Ok(crate::persist::encode(PLAN_MAGIC, PLAN_VERSION, &payload))
    }

    /// Loads a plan written by [`NumberingPlan::to_bytes`]; `name` appears in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<NumberingPlan> {
        let payload = crate::persist::decode(PLAN_MAGIC, PLAN_VERSION, bytes, name)?;
        let corrupt =
            |message: String| Error::corrupt(name, crate::persist::HEADER_LEN as u64, message);
        let mut plan: NumberingPlan =
            postcard::from_bytes(payload).map_err(|e| corrupt(format!("bad plan payload: {e}")))?;
        plan.validate()
            .map_err(|e| corrupt(format!("bad plan payload: {e}")))?;
        plan.countries.iter_mut().for_each(Country::derive_tables);
        Ok(plan)
    }

    /// Checks what the decoder cannot: every index the lookups follow is in range. A plan
    /// that passes never panics in `country_code_len`, `classify` or `names`; the error names
    /// the section (the DFAs are checked by regex-automata as they are read).
    fn validate(&self) -> std::result::Result<(), String> {
        if self.cc_index.len() != CC_INDEX_LEN {
            return Err(format!(
                "country-code index has {} entries, not {CC_INDEX_LEN}",
                self.cc_index.len()
            ));
        }
        for (code, &idx) in self.cc_index.iter().enumerate() {
            let ok = idx == u16::MAX
                || self
                    .countries
                    .get(usize::from(idx))
                    .is_some_and(|c| usize::from(c.code) == code);
            if !ok {
                return Err(format!(
                    "country-code index: +{code} points at country {idx} of {}",
                    self.countries.len()
                ));
            }
        }
        for (i, c) in self.countries.iter().enumerate() {
            if self
                .cc_index
                .get(usize::from(c.code))
                .map(|&x| usize::from(x))
                != Some(i)
            {
                return Err(format!(
                    "country {i} (+{}) is not in the country-code index",
                    c.code
                ));
            }
            c.validate()
                .map_err(|e| format!("country +{}: {e}", c.code))?;
        }
        self.ranges
            .validate()
            .map_err(|e| format!("range trie: {e}"))?;
        let names = self.names.len();
        let bad_name = |id: u32| id != NONE && id as usize >= names;
        if let Some((i, r)) = self
            .ranges
            .values()
            .iter()
            .enumerate()
            .find(|(_, r)| bad_name(r.carrier) || bad_name(r.location))
        {
            return Err(format!(
                "range names: entry {i} names {}/{} of {names} names",
                r.carrier, r.location
            ));
        }
        Ok(())
    }

    /// Saves the plan atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::persist::write_atomic(path, &self.to_bytes()?)
    }

    /// Loads a plan saved by [`NumberingPlan::save`].
    pub fn load(path: &Path) -> Result<NumberingPlan> {
        NumberingPlan::from_bytes(&crate::persist::read(path)?, &path.display().to_string())
    }

    /// Where the plan's data came from (`"phonenumbers 9.0.43"`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Country calling codes known to the plan.
    pub fn country_codes(&self) -> impl Iterator<Item = u16> + '_ {
        self.countries.iter().map(|c| c.code)
    }

    /// Regions (territories) known to the plan, in country-code order.
    pub fn regions(&self) -> impl Iterator<Item = Region> + '_ {
        self.countries
            .iter()
            .flat_map(|c| c.territories.iter().map(|t| t.region))
    }

    /// Length of the known country code at the start of `digits`, if any.
    #[inline]
    pub fn country_code_len(&self, digits: &[u8]) -> Option<usize> {
        let mut code = 0usize;
        for (i, &b) in digits.iter().take(3).enumerate() {
            if !b.is_ascii_digit() || (i == 0 && b == b'0') {
                return None;
            }
            code = code * 10 + usize::from(b - b'0');
            if self.cc_index.get(code).is_some_and(|&idx| idx != u16::MAX) {
                return Some(i + 1);
            }
        }
        None
    }

    pub(crate) fn country(&self, code: u16) -> Option<&Country> {
        let idx = *self.cc_index.get(usize::from(code))?;
        self.countries.get(usize::from(idx))
    }

    /// Where a region's territory sits: (country index, territory index).
    pub(crate) fn territory_index(&self, region: Region) -> Option<(usize, usize)> {
        self.countries.iter().enumerate().find_map(|(ci, c)| {
            c.territories
                .iter()
                .position(|t| t.region == region)
                .map(|ti| (ci, ti))
        })
    }

    /// The territory at an index from [`NumberingPlan::territory_index`].
    pub(crate) fn territory_at(&self, (ci, ti): (usize, usize)) -> Option<(&Country, &Territory)> {
        let c = self.countries.get(ci)?;
        Some((c, c.territories.get(ti)?))
    }

    /// Emergency short-number pattern of a region, as phonenumbers' short-number data gives it.
    pub fn emergency_pattern(&self, region: Region) -> Option<&str> {
        self.emergency.get(region.as_str()).map(String::as_str)
    }

    /// A carrier or area name by id.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }

    /// Number of carrier/area prefixes and heap bytes of their trie.
    pub fn range_stats(&self) -> (usize, usize, usize) {
        (
            self.prefix_count,
            self.ranges.node_count(),
            self.ranges.heap_bytes(),
        )
    }

    /// Classifies an E.164 number (phonenumbers' `region_code_for_number`, `is_valid_number`,
    /// `number_type`, carrier and geocoder prefix lookups, in one pass).
    #[inline]
    pub fn classify(&self, number: Number) -> Classification {
        let mut buf = [0u8; MAX_DIGITS];
        self.classify_digits(number, number.digits(&mut buf))
    }

    /// [`NumberingPlan::classify`] given the number's E.164 digits (`number.digits`).
    #[inline]
    pub fn classify_digits(&self, number: Number, digits: &[u8]) -> Classification {
        let Some(country) = self.country(number.country_code()) else {
            return Classification::unknown(number);
        };
        let nsn = digits.get(number.country_code_len()..).unwrap_or_default();
        country.classify(number, nsn.len(), country.run(nsn))
    }

    /// Carrier and area name ids of a classified number, looked up only when asked (they do
    /// not take part in scoring): carrier for valid mobile, fixed-or-mobile and pager numbers,
    /// area for valid numbers, each from the longest prefix of the tables that has one.
    pub fn names(&self, c: &Classification) -> (Option<u32>, Option<u32>) {
        let (mut carrier, mut location) = (None, None);
        if !c.valid {
            return (carrier, location);
        }
        let carrier_ok = matches!(
            c.number_type,
            NumberType::Mobile | NumberType::FixedLineOrMobile | NumberType::Pager
        );
        let mut all = [0u8; MAX_DIGITS];
        self.ranges
            .for_each_prefix(c.number.digits(&mut all), |_, names| {
                if names.carrier != NONE && carrier_ok {
                    carrier = Some(names.carrier);
                }
                if names.location != NONE {
                    location = Some(names.location);
                }
            });
        (carrier, location)
    }
}

impl Classification {
    /// A number no territory claims.
    fn unknown(number: Number) -> Classification {
        Classification {
            number,
            region: None,
            valid: false,
            number_type: NumberType::Unknown,
            tags: 0,
        }
    }
}

impl Country {
    /// Territory checks for [`NumberingPlan::validate`]: at most [`MAX_TERRITORIES`]
    /// territories, pattern ids the DFA has and no pattern used by two descriptions (the
    /// derived tables rely on both), region codes that read back, sorted lengths.
    fn validate(&self) -> std::result::Result<(), String> {
        let patterns = self.dfa.pattern_len();
        if patterns > MAX_PATTERNS {
            return Err(format!("{patterns} patterns, at most {MAX_PATTERNS}"));
        }
        if self.territories.is_empty() {
            return Err("no territory".into());
        }
        if self.territories.len() > MAX_TERRITORIES {
            return Err(format!(
                "{} territories, at most {MAX_TERRITORIES}",
                self.territories.len()
            ));
        }
        let mut used = vec![false; patterns];
        for (i, t) in self.territories.iter().enumerate() {
            if Region::parse(t.region.as_str()) != Some(t.region) {
                return Err(format!("territory {i}: bad region code"));
            }
            let ids = std::iter::once(t.general.pattern)
                .chain(t.types.iter().map(|d| d.pattern))
                .chain([t.leading]);
            for id in ids.flatten() {
                match used.get_mut(usize::from(id)) {
                    None => {
                        return Err(format!(
                            "territory {i} ({}): pattern {id} of {patterns}",
                            t.region
                        ))
                    }
                    // The tables map each pattern to one description, as compiled.
                    Some(true) => {
                        return Err(format!(
                            "territory {i} ({}): pattern {id} used twice",
                            t.region
                        ))
                    }
                    Some(seen) => *seen = true,
                }
            }
            let sorted = |v: &[u8]| v.windows(2).all(|w| w[0] <= w[1]);
            if !sorted(&t.possible_lengths) || !sorted(&t.local_lengths) {
                return Err(format!("territory {i} ({}): lengths not sorted", t.region));
            }
        }
        Ok(())
    }

    /// Fills the derived tables: pattern owners, and each territory's length bits.
    fn derive_tables(&mut self) {
        let mut owners = vec![NO_OWNER; self.dfa.pattern_len()];
        for (ti, t) in self.territories.iter_mut().enumerate() {
            for (bit, d) in t.descs() {
                let slot = d.pattern.and_then(|p| owners.get_mut(usize::from(p)));
                if let (Some(slot), Ok(ti)) = (slot, u16::try_from(ti)) {
                    *slot = ti << 4 | bit as u16;
                }
            }
            t.allowed = LengthBits::of(t);
        }
        self.owners = owners;
    }

    /// Builds the tables otherwise built on first use (by the first calls that need them).
    pub(crate) fn warm(&self) {
        self.general_by_first
            .get_or_init(|| self.general_by_first_digit());
        self.match_bits.get_or_init(|| self.match_bits_table());
    }

    /// One anchored pass of the DFA over `nsn` (ASCII digits).
    #[inline]
    pub(crate) fn run(&self, nsn: &[u8]) -> Run {
        // Patterns use no look-behind: the anchored start state is the same for every input.
        let start = match self.dfa.universal_start_state(Anchored::Yes) {
            Some(sid) => Ok(sid),
            None => self
                .dfa
                .start_state_forward(&Input::new(nsn).anchored(Anchored::Yes)),
        };
        let Ok(mut sid) = start else { return Run(None) };
        // The dead state leads only to itself, which is no match: NSNs are short, so walking
        // on costs less than testing for it at every byte.
        for &b in nsn {
            sid = self.dfa.next_state(sid, b);
        }
        sid = self.dfa.next_eoi_state(sid);
        Run(self.dfa.is_match_state(sid).then_some(sid))
    }

    /// Calls `f(territory, bit)` for the description of every pattern matched in `run`.
    #[inline]
    fn for_each_match(&self, run: Run, mut f: impl FnMut(usize, u32)) {
        let Some(sid) = run.0 else { return };
        for i in 0..self.dfa.match_len(sid) {
            let pattern = self.dfa.match_pattern(sid, i).as_usize();
            if let Some(&owner) = self.owners.get(pattern) {
                if owner != NO_OWNER {
                    f(usize::from(owner >> 4), u32::from(owner & 15));
                }
            }
        }
    }

    /// The territories (bit `i` for territory `i`) whose general pattern matched in `run`, no
    /// length check: what phonenumbers' parser asks before stripping prefixes.
    #[inline]
    pub(crate) fn general_matches(&self, run: Run) -> u64 {
        let mut bits = 0u64;
        self.for_each_match(run, |t, bit| {
            if bit == GENERAL_BIT {
                bits |= 1u64.checked_shl(t as u32).unwrap_or(0);
            }
        });
        bits
    }

    /// The territories whose general pattern may match `nsn` (all of them for an NSN that
    /// is empty, longer than the table or not starting with a digit): a zero bit needs no DFA
    /// pass to be sure.
    #[inline]
    pub(crate) fn general_possible(&self, nsn: &[u8]) -> u64 {
        let Some(&first) = nsn.first() else {
            return u64::MAX;
        };
        let table = self
            .general_by_first
            .get_or_init(|| self.general_by_first_digit());
        table
            .get(usize::from(first.wrapping_sub(b'0')))
            .and_then(|by_len| by_len.get(nsn.len() - 1))
            .copied()
            .unwrap_or(u64::MAX)
    }

    /// For each first digit and length, the general patterns matched at the end of input of
    /// some state reached after that digit and `length - 1` more bytes.
    fn general_by_first_digit(&self) -> GeneralTable {
        let Some(start) = self.dfa.universal_start_state(Anchored::Yes) else {
            return [[u64::MAX; GENERAL_TABLE_LEN]; 10];
        };
        let bytes = self.representative_bytes();
        // Every live state reachable after a first digit, and its successors.
        let mut index: HashMap<StateID, usize> = HashMap::new();
        let mut states: Vec<StateID> = Vec::new();
        let mut visit = |sid: StateID, states: &mut Vec<StateID>| -> Option<usize> {
            if self.dfa.is_dead_state(sid) {
                return None;
            }
            Some(*index.entry(sid).or_insert_with(|| {
                states.push(sid);
                states.len() - 1
            }))
        };
        let roots: Vec<Option<usize>> = (b'0'..=b'9')
            .map(|b| visit(self.dfa.next_state(start, b), &mut states))
            .collect();
        let mut edges: Vec<Vec<usize>> = Vec::new();
        while let Some(&sid) = states.get(edges.len()) {
            let out = bytes
                .iter()
                .filter_map(|&b| visit(self.dfa.next_state(sid, b), &mut states))
                .collect();
            edges.push(out);
        }
        // reach[i]: general matches exactly `k` bytes on from state i, for k = 0, 1, ...
        let mut reach: Vec<u64> = states
            .iter()
            .map(|&sid| {
                let eoi = self.dfa.next_eoi_state(sid);
                self.general_matches(Run(self.dfa.is_match_state(eoi).then_some(eoi)))
            })
            .collect();
        let mut table = [[0u64; GENERAL_TABLE_LEN]; 10];
        for k in 0..GENERAL_TABLE_LEN {
            for (by_len, root) in table.iter_mut().zip(&roots) {
                by_len[k] = root.map_or(0, |i| reach[i]);
            }
            reach = edges
                .iter()
                .map(|out| out.iter().fold(0, |acc, &j| acc | reach[j]))
                .collect();
        }
        table
    }

    /// The description bits of every territory for the state `run` ended in, from the table
    /// (`None` for a run that matched nothing, or a state the table lacks).
    #[inline]
    fn end_bits(&self, run: Run) -> Option<&[DescBits]> {
        let (table, k) = self.end_state(run)?;
        let n = self.territories.len();
        table.bits.get(k * n..k * n + n)
    }

    /// One byte of each of the DFA's byte classes: every distinct transition out of a state.
    fn representative_bytes(&self) -> Vec<u8> {
        self.dfa
            .byte_classes()
            .representatives(..)
            .filter_map(|u| u.as_u8())
            .collect()
    }

    /// Walks every state reachable from the start and records the bits of each match state
    /// found at the end of input.
    fn match_bits_table(&self) -> MatchBits {
        let Some(start) = self.dfa.universal_start_state(Anchored::Yes) else {
            return MatchBits::default();
        };
        let bytes = self.representative_bytes();
        let mut seen: std::collections::HashSet<StateID> = [start].into_iter().collect();
        let mut todo = vec![start];
        let mut ends: BTreeMap<usize, StateID> = BTreeMap::new();
        while let Some(sid) = todo.pop() {
            let eoi = self.dfa.next_eoi_state(sid);
            if self.dfa.is_match_state(eoi) {
                ends.insert(eoi.as_usize() >> self.dfa.stride2(), eoi);
            }
            for &b in &bytes {
                let next = self.dfa.next_state(sid, b);
                if !self.dfa.is_dead_state(next) && seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        let (Some(&first), Some(&last)) = (ends.keys().next(), ends.keys().next_back()) else {
            return MatchBits::default();
        };
        let mut table = MatchBits {
            first,
            slots: vec![u32::MAX; last - first + 1],
            bits: Vec::new(),
            outcomes: Vec::new(),
        };
        for (k, (index, sid)) in ends.into_iter().enumerate() {
            let Ok(slot) = u32::try_from(k) else {
                break;
            };
            let mut bits = vec![0 as DescBits; self.territories.len()];
            self.gather_bits(Run(Some(sid)), &mut bits);
            table
                .outcomes
                .extend((0..OUTCOME_LENS).map(|len| self.outcome(&bits, len)));
            table.bits.extend(bits);
            table.slots[index - first] = slot;
        }
        table
    }

    /// The territory and type [`Country::choose`] makes of `found` for an NSN of `len` digits,
    /// encoded.
    fn outcome(&self, found: &[DescBits], len: usize) -> Outcome {
        let Some((ti, number_type)) = self.choose(found, len) else {
            return 0;
        };
        let ty = NumberType::ALL.iter().position(|&t| t == number_type);
        // At most 64 territories and 12 types: both fit.
        match (
            u16::try_from(ti + 1),
            ty.and_then(|t| u16::try_from(t).ok()),
        ) {
            (Ok(t), Some(ty)) => t << 4 | ty,
            _ => 0,
        }
    }

    /// The classification of `number` (NSN of `len` digits) in the state `run` ended in,
    /// from the outcome table; `None` for a run the table has no outcome for.
    #[inline]
    fn classify_from_table(&self, number: Number, len: usize, run: Run) -> Option<Classification> {
        let (table, k) = self.end_state(run)?;
        let outcome = *table
            .outcomes
            .get(k * OUTCOME_LENS + len.min(OUTCOME_LENS - 1))?;
        let mut out = Classification::unknown(number);
        if let Some(ti) = usize::from(outcome >> 4).checked_sub(1) {
            let number_type = NumberType::ALL
                .get(usize::from(outcome & 15))
                .copied()
                .unwrap_or(NumberType::Unknown);
            self.fill(&mut out, ti, number_type);
        }
        Some(out)
    }

    /// The end-state table (built on first use) and the row of the match state `run` ended
    /// in; `None` if it ended in none.
    fn end_state(&self, run: Run) -> Option<(&MatchBits, usize)> {
        let sid = run.0?;
        let table = self.match_bits.get_or_init(|| self.match_bits_table());
        let index = (sid.as_usize() >> self.dfa.stride2()).checked_sub(table.first)?;
        let k = usize::try_from(*table.slots.get(index)?).ok()?;
        Some((table, k))
    }

    /// Writes territory `ti`'s region and `number_type` (valid unless unknown) into `out`;
    /// nothing if there is no territory `ti`.
    fn fill(&self, out: &mut Classification, ti: usize, number_type: NumberType) {
        if let Some(territory) = self.territories.get(ti) {
            out.region = Some(territory.region);
            out.number_type = number_type;
            out.valid = number_type != NumberType::Unknown;
        }
    }

    /// The description bits of each territory (`out[t]`) that the patterns matched by `run`
    /// carry.
    fn gather_bits(&self, run: Run, out: &mut [DescBits]) {
        self.for_each_match(run, |t, bit| {
            if let Some(m) = out.get_mut(t) {
                *m |= 1 << bit;
            }
        });
    }

    /// Classifies a number of this country given the run over its NSN of `len` digits:
    /// phonenumbers' territory choice (leading digits where a territory has them, else the
    /// first territory whose plan gives the number a type), then the type.
    ///
    /// What the run's end state and the length decide is looked up in a table made once
    /// ([`MatchBits::outcomes`]); [`Country::classify_general`] decides it each time.
    #[inline]
    pub(crate) fn classify(&self, number: Number, len: usize, run: Run) -> Classification {
        match self.classify_from_table(number, len, run) {
            Some(c) => c,
            None => self.classify_general(number, len, run),
        }
    }

    /// [`Country::classify`] from the description bits of the run's end state: for runs that
    /// matched nothing, and what the outcome table is made of and agrees with.
    fn classify_general(&self, number: Number, len: usize, run: Run) -> Classification {
        let mut out = Classification::unknown(number);
        let matched;
        let found = match self.end_bits(run) {
            Some(bits) => bits,
            None => {
                let mut bits = [0 as DescBits; MAX_TERRITORIES];
                self.gather_bits(run, &mut bits);
                matched = bits;
                &matched
            }
        };
        if let Some((ti, number_type)) = self.choose(found, len) {
            self.fill(&mut out, ti, number_type);
        }
        out
    }

    /// phonenumbers' territory choice and type given the description bits `found` of each
    /// territory and the NSN length: the territory's index and the type.
    fn choose(&self, found: &[DescBits], len: usize) -> Option<(usize, NumberType)> {
        let bits = |i: usize| found.get(i).copied().unwrap_or(0);
        if let [t] = self.territories.as_slice() {
            Some((0, t.number_type(bits(0), len)))
        } else {
            self.territories.iter().enumerate().find_map(|(i, t)| {
                let m = bits(i);
                let ty = t.number_type(m, len);
                let claims = match t.leading {
                    Some(_) => m & 1 << LEADING_BIT != 0,
                    None => ty != NumberType::Unknown,
                };
                claims.then_some((i, ty))
            })
        }
    }
}

impl Territory {
    /// Every description with its bit: the types, the general one, the leading digits
    /// (pattern only).
    fn descs(&self) -> impl Iterator<Item = (u32, Desc)> + '_ {
        let leading = Desc {
            pattern: self.leading,
            lengths: None,
        };
        (0u32..)
            .zip(self.types)
            .chain([(GENERAL_BIT, self.general), (LEADING_BIT, leading)])
    }

    /// phonenumbers' `_number_type_helper`, given the descriptions whose pattern matched an
    /// NSN of `len` digits.
    #[inline]
    fn number_type(&self, matched: DescBits, len: usize) -> NumberType {
        let m = matched & self.allowed.get(len);
        if m & 1 << GENERAL_BIT == 0 {
            return NumberType::Unknown;
        }
        let special = m & SPECIAL_TYPES;
        if special != 0 {
            return TYPE_ORDER
                .get(special.trailing_zeros() as usize)
                .map_or(NumberType::Unknown, |&(_, ty)| ty);
        }
        let mobile = m & 1 << MOBILE != 0;
        if m & 1 << FIXED != 0 {
            if self.same_mobile_and_fixed || mobile {
                return NumberType::FixedLineOrMobile;
            }
            return NumberType::FixedLine;
        }
        if !self.same_mobile_and_fixed && mobile {
            return NumberType::Mobile;
        }
        NumberType::Unknown
    }

    /// phonenumbers' `_test_number_length` against the general description.
    pub(crate) fn length_check(&self, len: usize) -> LengthCheck {
        let Some(&min) = self.possible_lengths.first() else {
            return LengthCheck::Invalid;
        };
        let max = *self.possible_lengths.last().unwrap_or(&min);
        if self.local_lengths.iter().any(|&l| usize::from(l) == len) {
            return LengthCheck::LocalOnly;
        }
        match len {
            n if n == usize::from(min) => LengthCheck::Possible,
            n if n < usize::from(min) => LengthCheck::TooShort,
            n if n > usize::from(max) => LengthCheck::TooLong,
            n if self.possible_lengths.iter().any(|&l| usize::from(l) == n) => {
                LengthCheck::Possible
            }
            _ => LengthCheck::Invalid,
        }
    }
}

/// Outcome of a length test (phonenumbers' `ValidationResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthCheck {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

fn length_mask(lengths: &[i32]) -> Option<u32> {
    if lengths.is_empty() {
        return None;
    }
    Some(
        lengths
            .iter()
            .filter(|&&l| (0..32).contains(&l))
            .fold(0, |m, &l| m | 1 << l),
    )
}

fn sorted_lengths(lengths: &[i32]) -> Vec<u8> {
    let mut v: Vec<u8> = lengths
        .iter()
        .filter_map(|&l| u8::try_from(l).ok())
        .collect();
    v.sort_unstable();
    v
}

fn compile_country(code: u16, sources: &[&TerritorySource]) -> Result<Country> {
    let mut patterns: Vec<String> = Vec::new();
    let mut add = |p: &Option<String>, prefix_only: bool| -> Option<u16> {
        let p = p.as_deref().filter(|p| !p.is_empty())?;
        patterns.push(if prefix_only {
            format!("(?:{p})[0-9]*$")
        } else {
            format!("(?:{p})$")
        });
        Some((patterns.len() - 1) as u16)
    };
    let mut territories = Vec::with_capacity(sources.len());
    for t in sources {
        let region = Region::parse(&t.id).ok_or_else(|| {
            Error::invalid("numbering plan", format!("bad territory id {:?}", t.id))
        })?;
        let mut desc = |d: Option<&DescSource>| -> Desc {
            d.map_or(Desc::default(), |d| Desc {
                pattern: add(&d.pattern, false),
                lengths: length_mask(&d.lengths),
            })
        };
        let general = desc(Some(&t.general));
        let types = TYPE_ORDER.map(|(name, _)| desc(t.types.get(name)));
        let leading = add(&t.leading_digits, true);
        let npfp = match t
            .national_prefix_for_parsing
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            Some(p) => Some(LeadingPattern::new(p).map_err(|e| {
                Error::invalid(
                    "numbering plan",
                    format!("{}: national prefix pattern: {e}", t.id),
                )
            })?),
            None => None,
        };
        territories.push(Territory {
            region,
            general,
            types,
            leading,
            same_mobile_and_fixed: t.same_mobile_and_fixed_line_pattern,
            possible_lengths: sorted_lengths(&t.general.lengths),
            local_lengths: sorted_lengths(&t.general.local_lengths),
            international_prefix: t.international_prefix.clone().filter(|p| !p.is_empty()),
            national_prefix_for_parsing: npfp,
            national_prefix_transform: t
                .national_prefix_transform_rule
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(python_replacement_to_rust),
            allowed: LengthBits::default(),
        });
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(Error::invalid(
            "numbering plan",
            format!("+{code}: too many patterns"),
        ));
    }
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored)
                .minimize(true),
        )
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false),
        )
        .build_many(&patterns)
        .map_err(|e| Error::invalid("numbering plan", format!("+{code}: {e}")))?;
    let mut country = Country {
        code,
        territories,
        dfa,
        owners: Vec::new(),
        general_by_first: OnceLock::new(),
        match_bits: OnceLock::new(),
    };
    country
        .validate()
        .map_err(|e| Error::invalid("numbering plan", format!("+{code}: {e}")))?;
    country.derive_tables();
    Ok(country)
}

/// Prefix patterns persist as their anchored pattern text and are recompiled on load.
mod serde_leading {
    use crate::leading::LeadingPattern;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(p: &Option<LeadingPattern>, s: S) -> Result<S::Ok, S::Error> {
        p.as_ref().map(LeadingPattern::as_str).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<LeadingPattern>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|p| LeadingPattern::from_anchored(&p).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// DFAs persist in regex-automata's own little-endian format, validated on load.
mod serde_dfa {
    use regex_automata::dfa::dense::DFA;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(dfa: &DFA<Vec<u32>>, s: S) -> Result<S::Ok, S::Error> {
        let (bytes, pad) = dfa.to_bytes_little_endian();
        s.serialize_bytes(&bytes[pad..])
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DFA<Vec<u32>>, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(d)?;
        // from_bytes needs 4-byte alignment: copy into a u32 buffer first.
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        let aligned = &bytemuck::cast_slice::<u32, u8>(&words)[..bytes.len()];
        let (dfa, _) = DFA::from_bytes(aligned).map_err(serde::de::Error::custom)?;
        Ok(dfa.to_owned())
    }

    fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("DFA bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

/// phonenumbers writes transform rules with `\1`; the regex crate wants `${1}`.
fn python_replacement_to_rust(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len() + 4);
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                out.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small real extract of phonenumbers 9.0 metadata: KZ, RU, US, CA and +800.
    pub(crate) fn sample_source() -> PlanSource {
        PlanSource::from_json(include_str!("testdata/plan_sample.json")).unwrap()
    }

    /// The sample plan, compiled once per test binary.
    pub(crate) fn sample_plan() -> std::sync::Arc<NumberingPlan> {
        static PLAN: std::sync::OnceLock<std::sync::Arc<NumberingPlan>> =
            std::sync::OnceLock::new();
        PLAN.get_or_init(|| std::sync::Arc::new(NumberingPlan::compile(&sample_source()).unwrap()))
            .clone()
    }

    fn classify(plan: &NumberingPlan, e164: &str) -> Classification {
        let digits = &e164.as_bytes()[1..];
        let cc_len = plan.country_code_len(digits).unwrap();
        plan.classify(Number::from_digits(digits, cc_len).unwrap())
    }

    #[test]
    fn a_dial_plan_builds_its_home_tables() {
        let plan = NumberingPlan::compile(&sample_source()).unwrap();
        let home = |plan: &NumberingPlan| {
            let c = plan.country(7).unwrap();
            (
                c.match_bits.get().is_some(),
                c.general_by_first.get().is_some(),
            )
        };
        assert_eq!(home(&plan), (false, false));
        crate::normalize::DialPlan::new(&plan, "KZ", &[]).unwrap();
        assert_eq!(home(&plan), (true, true));
        assert!(plan.country(1).unwrap().match_bits.get().is_none());
    }

    #[test]
    fn separates_kazakhstan_from_russia() {
        let plan = sample_plan();
        let kz = classify(&plan, "+77011234567");
        assert_eq!(kz.region.unwrap().as_str(), "KZ");
        assert!(kz.valid);
        assert_eq!(kz.number_type, NumberType::Mobile);
        let ru = classify(&plan, "+79161234567");
        assert_eq!(ru.region.unwrap().as_str(), "RU");
        assert_eq!(ru.number_type, NumberType::Mobile);
        let moscow = classify(&plan, "+74951234567");
        assert_eq!(moscow.region.unwrap().as_str(), "RU");
        assert_eq!(moscow.number_type, NumberType::FixedLine);
    }

    #[test]
    fn separates_nanp_territories() {
        let plan = sample_plan();
        let us = classify(&plan, "+12015550123");
        assert_eq!(us.region.unwrap().as_str(), "US");
        assert_eq!(us.number_type, NumberType::FixedLineOrMobile);
        let ca = classify(&plan, "+16135550123");
        assert_eq!(ca.region.unwrap().as_str(), "CA");
        let bad = classify(&plan, "+11235550123");
        assert!(bad.region.is_none() && !bad.valid);
    }

    #[test]
    fn non_geographic_and_toll_free() {
        let plan = sample_plan();
        let n = classify(&plan, "+80012345678");
        assert_eq!(n.region.unwrap().as_str(), "001");
        assert_eq!(n.number_type, NumberType::TollFree);
        assert!(plan.country_code_len(b"999").is_none());
    }

    #[test]
    fn carrier_and_location_from_prefix_tables() {
        let plan = sample_plan();
        let kz = classify(&plan, "+77011234567");
        assert_eq!(plan.name(plan.names(&kz).0.unwrap()), "Kcell/Activ");
        let almaty = classify(&plan, "+77272123456");
        assert_eq!(almaty.number_type, NumberType::FixedLine);
        let (carrier, location) = plan.names(&almaty);
        assert!(carrier.is_none());
        assert_eq!(plan.name(location.unwrap()), "Almaty");
    }

    #[test]
    fn survives_a_save_and_load() {
        let plan = sample_plan();
        let bytes = plan.to_bytes().unwrap();
        let loaded = NumberingPlan::from_bytes(&bytes, "t").unwrap();
        for e164 in [
            "+77011234567",
            "+79161234567",
            "+12015550123",
            "+16135550123",
            "+80012345678",
            "+77272123456",
        ] {
            assert_eq!(classify(&plan, e164), classify(&loaded, e164), "{e164}");
        }
        assert_eq!(loaded.source(), plan.source());
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(NumberingPlan::from_bytes(&damaged, "t").is_err());
        assert!(NumberingPlan::from_bytes(&bytes[..bytes.len() / 2], "t").is_err());
    }

    /// Fuzz regressions (plan_bytes, cc-index-out-of-bounds and range-trie-index-out-of-bounds):
    /// a plan whose payload decodes but whose indexes point nowhere loaded, then panicked on
    /// the first normalisation or carrier lookup. Each damage, checksum intact, is refused.
    #[test]
    fn plans_with_indexes_out_of_range_are_corrupt() {
        let good = sample_plan().to_bytes().unwrap();
        let decode = || -> NumberingPlan { postcard::from_bytes(&good[24..]).unwrap() };
        type Damage = fn(&mut NumberingPlan);
        let damages: [(&str, Damage); 11] = [
            ("country-code index has 0 entries", |p| p.cc_index.clear()),
            ("country-code index has 999", |p| p.cc_index.truncate(999)),
            ("+7 points at country 99", |p| p.cc_index[7] = 99),
            ("+8 points at country 1", |p| p.cc_index[8] = p.cc_index[7]),
            ("is not in the country-code index", |p| {
                p.cc_index[7] = u16::MAX
            }),
            ("no territory", |p| p.countries[0].territories.clear()),
            ("pattern 9999", |p| {
                p.countries[0].territories[0].types[MOBILE].pattern = Some(9999)
            }),
            ("used twice", |p| {
                let t = &mut p.countries[0].territories[0];
                t.types[MOBILE].pattern = t.general.pattern;
            }),
            ("territories, at most 64", |p| {
                let c = &mut p.countries[0];
                let t = c.territories.pop().unwrap();
                let bare = |t: &Territory| Territory {
                    general: Desc::default(),
                    types: [Desc::default(); 10],
                    leading: None,
                    possible_lengths: Vec::new(),
                    local_lengths: Vec::new(),
                    international_prefix: None,
                    national_prefix_for_parsing: None,
                    national_prefix_transform: None,
                    allowed: LengthBits::default(),
                    ..*t
                };
                c.territories.extend((0..65).map(|_| bare(&t)));
            }),
            ("range names: entry 0", |p| p.names.clear()),
            ("range trie", |p| {
                p.ranges = postcard::from_bytes(&[0, 0]).unwrap()
            }),
        ];
        for (message, damage) in damages {
            let mut plan = decode();
            damage(&mut plan);
            // Lookups on the unvalidated plan do not panic either.
            let _ = plan.country_code_len(b"77011234567");
            let _ = plan.names(&classify(&sample_plan(), "+77011234567"));
            let bytes = plan.to_bytes().unwrap();
            match NumberingPlan::from_bytes(&bytes, "t.fcplan") {
                Err(Error::Corrupt {
                    offset: 24,
                    message: m,
                    ..
                }) => {
                    assert!(m.contains(message), "{message}: {m}")
                }
                Err(e) => panic!("{message}: {e}"),
                Ok(_) => panic!("{message}: loaded"),
            }
        }
        assert!(NumberingPlan::from_bytes(&decode().to_bytes().unwrap(), "t").is_ok());
    }

    /// The classification as it was before the derived tables: the DFA's whole match set,
    /// then each description of each territory tested in turn.
    fn reference_classify(plan: &NumberingPlan, number: Number) -> Classification {
        let mut out = Classification::unknown(number);
        let Some(country) = plan.country(number.country_code()) else {
            return out;
        };
        let mut buf = [0u8; MAX_DIGITS];
        let nsn = &number.digits(&mut buf)[number.country_code_len()..];
        let dfa = &country.dfa;
        let mut sid = dfa
            .start_state_forward(&Input::new(nsn).anchored(Anchored::Yes))
            .unwrap();
        for &b in nsn {
            sid = dfa.next_state(sid, b);
        }
        sid = dfa.next_eoi_state(sid);
        let set: std::collections::HashSet<u16> = if dfa.is_match_state(sid) {
            (0..dfa.match_len(sid))
                .map(|i| dfa.match_pattern(sid, i).as_u32() as u16)
                .collect()
        } else {
            Default::default()
        };
        let len = nsn.len();
        let hit = |d: &Desc| {
            d.lengths.is_none_or(|m| len < 32 && m & (1 << len) != 0)
                && d.pattern.is_some_and(|p| set.contains(&p))
        };
        let type_of = |t: &Territory| {
            if !hit(&t.general) {
                return NumberType::Unknown;
            }
            if let Some(slot) = (0..FIXED).find(|&s| hit(&t.types[s])) {
                return TYPE_ORDER[slot].1;
            }
            let mobile = hit(&t.types[MOBILE]);
            match (hit(&t.types[FIXED]), t.same_mobile_and_fixed, mobile) {
                (true, true, _) | (true, _, true) => NumberType::FixedLineOrMobile,
                (true, _, _) => NumberType::FixedLine,
                (false, false, true) => NumberType::Mobile,
                _ => NumberType::Unknown,
            }
        };
        let chosen = if country.territories.len() == 1 {
            let t = &country.territories[0];
            Some((t, type_of(t)))
        } else {
            country.territories.iter().find_map(|t| {
                let ty = type_of(t);
                let claims = match t.leading {
                    Some(p) => set.contains(&p),
                    None => ty != NumberType::Unknown,
                };
                claims.then_some((t, ty))
            })
        };
        if let Some((t, ty)) = chosen {
            out.region = Some(t.region);
            out.number_type = ty;
            out.valid = ty != NumberType::Unknown;
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// The outcome table classifies as the choice made from the end state's bits does,
        /// for every length (beyond 32 too), and answers every run that matched.
        #[test]
        fn outcome_table_classifies_as_the_bits_do(
            pick in 0usize..64,
            start in proptest::sample::select(vec![
                "", "7", "70", "701", "727", "7272", "33622", "6", "8", "800", "916", "201",
                "2015", "613", "242", "1", "0",
            ]),
            rest in "[0-9]{0,11}",
            len in proptest::option::of(0usize..40),
        ) {
            let plan = sample_plan();
            let codes: Vec<u16> = plan.country_codes().collect();
            let country = plan.country(codes[pick % codes.len()]).unwrap();
            let nsn = format!("{start}{rest}");
            let Some(number) = Number::from_parts(country.code, nsn.as_bytes()) else {
                return Ok(());
            };
            let len = len.unwrap_or(nsn.len());
            let run = country.run(nsn.as_bytes());
            proptest::prop_assert_eq!(
                country.classify(number, len, run),
                country.classify_general(number, len, run)
            );
            proptest::prop_assert_eq!(
                country.classify_from_table(number, len, run).is_some(),
                run.0.is_some()
            );
        }
    }

    proptest::proptest! {
        /// The derived tables answer as the whole match set did, for numbers near real ranges
        /// (a known start, then any digits) and for any digits at all.
        #[test]
        fn classification_matches_the_reference(
            cc in proptest::sample::select(vec![1u16, 7, 800, 44]),
            start in proptest::sample::select(vec![
                "", "7", "70", "701", "727", "7272", "33622", "3", "6", "8", "80", "800", "9",
                "916", "495", "201", "2015", "613", "242", "1", "0",
            ]),
            rest in "[0-9]{0,11}",
        ) {
            let plan = sample_plan();
            let nsn = format!("{start}{rest}");
            let number = Number::from_parts(cc, nsn.as_bytes()).unwrap();
            proptest::prop_assert_eq!(plan.classify(number), reference_classify(&plan, number));
            let loaded = NumberingPlan::from_bytes(&plan.to_bytes().unwrap(), "t").unwrap();
            proptest::prop_assert_eq!(loaded.classify(number), reference_classify(&plan, number));
        }
    }

    #[test]
    fn replacement_rules_are_translated() {
        assert_eq!(python_replacement_to_rust("246\\1"), "246${1}");
        assert_eq!(python_replacement_to_rust("9\\1$"), "9${1}$$");
    }
}
