//! The features a rule condition may test, and their values for one call.
//!
//! Features are computed at most once per call and only when a rule reads them; the
//! catalogue ([`FEATURES`]) is the single source of the names, types and documentation
//! (the README's policy reference lists the same table, and a test keeps them in step).

use super::Policy;
use crate::call::{Attestation, Call};
use crate::normalize::Invalid;
use crate::number::Number;
use crate::numplan::Classification;
use crate::numtype::{NumberType, Region};
use crate::velocity::{Counters, KeyKind};
use crate::verdict::NumberInfo;

/// Which number of the call a number feature describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The presented CLI.
    Caller,
    /// The dialled number.
    Callee,
    /// The network-asserted identity (P-Asserted-Identity), when the call carries one.
    NetworkNumber,
}

impl Who {
    /// The name used in conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Who::Caller => "caller",
            Who::Callee => "callee",
            Who::NetworkNumber => "network_number",
        }
    }

    /// Parses `caller`, `callee` or `network_number`.
    pub fn parse(s: &str) -> Option<Who> {
        [Who::Caller, Who::Callee, Who::NetworkNumber]
            .into_iter()
            .find(|w| w.as_str() == s)
    }
}

/// A property of one of the call's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberField {
    /// The field was given (non-empty).
    Present,
    /// It normalised to an E.164 number.
    Parsed,
    /// It is a number the plan allocates.
    Valid,
    /// Why it did not normalise.
    InvalidReason,
    /// Its region.
    Region,
    /// Its region is the home region.
    IsHome,
    /// Its number type.
    Type,
    /// Its country calling code.
    CountryCode,
    /// Its carrier name.
    Carrier,
    /// Its location name.
    Location,
    /// The number itself.
    E164,
    /// Its overlay and prefix-list tags.
    Tags,
}

/// A feature of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// `ingress`
    Ingress,
    /// `roaming`
    Roaming,
    /// `attestation`
    Attestation,
    /// `duration`
    Duration,
    /// `trunk`
    Trunk,
    /// `hour`
    Hour,
    /// `weekday`
    Weekday,
    /// `emergency`
    Emergency,
    /// `caller.*`, `callee.*`, `network_number.*`
    Number(Who, NumberField),
    /// Velocity counters: `caller.calls_1m`, `destination.calls_1m`, `trunk.calls_1m`, ...
    Velocity(KeyKind, Counter),
}

/// How a feature's value is read by the compiled checks of [`super::program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `true` / `false` (or none), read with [`Facts::flag`].
    Bool,
    /// A word index (or none), read with [`Facts::sym`].
    Sym,
    /// A number (or none), read with [`Facts::num`].
    Num,
    /// Text, a region, a number or tags: read with [`Facts::value`].
    Other,
}

impl Feature {
    /// How the feature's value is read.
    pub fn family(self) -> Family {
        match self {
            Feature::Roaming | Feature::Emergency => Family::Bool,
            Feature::Ingress | Feature::Attestation | Feature::Weekday => Family::Sym,
            Feature::Duration | Feature::Hour | Feature::Velocity(..) => Family::Num,
            Feature::Trunk => Family::Other,
            Feature::Number(_, field) => match field {
                NumberField::Present
                | NumberField::Parsed
                | NumberField::Valid
                | NumberField::IsHome => Family::Bool,
                NumberField::InvalidReason | NumberField::Type => Family::Sym,
                NumberField::CountryCode => Family::Num,
                NumberField::Region
                | NumberField::Carrier
                | NumberField::Location
                | NumberField::E164
                | NumberField::Tags => Family::Other,
            },
        }
    }
}

/// A velocity counter, as [`crate::velocity::Counters`] defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Calls in the current second.
    Calls1s,
    /// Calls in the last 60 seconds.
    Calls1m,
    /// Calls in the long window.
    CallsWindow,
    /// Distinct callees in the last 60 seconds.
    DistinctCallees,
    /// Calls with a known duration below `short_call`, in the long window.
    ShortCalls,
    /// Calls with a known duration, in the long window.
    KnownDurations,
    /// `short_calls / known_durations`; none while no duration is known.
    ShortShare,
    /// Successive callees each within `sequential_gap` of the previous.
    Sequential,
    /// Successive calls to the same callee.
    RepeatCallee,
}

/// One velocity counter in the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct CounterDef {
    /// The name after `caller.`, `destination.` or `trunk.`.
    pub name: &'static str,
    /// The counter.
    pub counter: Counter,
    /// What it counts.
    pub doc: &'static str,
}

/// Every velocity counter (`V.name` in the README, `V` one of caller, destination, trunk).
pub const COUNTERS: &[CounterDef] = &[
    CounterDef {
        name: "calls_1s",
        counter: Counter::Calls1s,
        doc: "calls in the current second",
    },
    CounterDef {
        name: "calls_1m",
        counter: Counter::Calls1m,
        doc: "calls in the last 60 s",
    },
    CounterDef {
        name: "calls_window",
        counter: Counter::CallsWindow,
        doc: "calls in the long window",
    },
    CounterDef {
        name: "distinct_callees",
        counter: Counter::DistinctCallees,
        doc: "distinct callees in the last 60 s",
    },
    CounterDef {
        name: "short_calls",
        counter: Counter::ShortCalls,
        doc: "calls shorter than short_call in the window",
    },
    CounterDef {
        name: "known_durations",
        counter: Counter::KnownDurations,
        doc: "calls with a known duration in the window",
    },
    CounterDef {
        name: "short_share",
        counter: Counter::ShortShare,
        doc: "short_calls / known_durations; none while none is known",
    },
    CounterDef {
        name: "sequential",
        counter: Counter::Sequential,
        doc: "length of the run of successive callees within sequential_gap",
    },
    CounterDef {
        name: "repeat_callee",
        counter: Counter::RepeatCallee,
        doc: "successive calls to the same callee",
    },
];

/// The velocity key kinds by the name conditions use.
pub const VELOCITY_KEYS: [(&str, KeyKind); 3] = [
    ("caller", KeyKind::Caller),
    ("destination", KeyKind::Destination),
    ("trunk", KeyKind::Trunk),
];

/// Index of a key kind in [`Facts::velocity`].
pub fn kind_index(kind: KeyKind) -> usize {
    match kind {
        KeyKind::Caller => 0,
        KeyKind::Destination => 1,
        KeyKind::Trunk => 2,
    }
}

/// Looks up a velocity feature (`caller.calls_1m`).
pub fn lookup_velocity(name: &str) -> Option<(Feature, &'static CounterDef)> {
    let (key, field) = name.split_once('.')?;
    let kind = VELOCITY_KEYS.iter().find(|(n, _)| *n == key)?.1;
    let def = COUNTERS.iter().find(|c| c.name == field)?;
    Some((Feature::Velocity(kind, def.counter), def))
}

/// The type of a feature's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `true` / `false`.
    Bool,
    /// A number.
    Num,
    /// Free text, compared exactly.
    Text,
    /// One of a fixed set of words.
    Sym(&'static [&'static str]),
    /// An ISO region code (`'KZ'`), or `'001'` for non-geographic numbers.
    Region,
    /// An E.164 number (`'+77011234567'`).
    Number,
    /// A set of tags, tested with `'tag' in x.tags`.
    Tags,
}

/// `ingress` values.
pub const INGRESS: &[&str] = &["international", "national", "onnet"];
/// `attestation` values.
pub const ATTESTATION: &[&str] = &["A", "B", "C"];
/// `weekday` values, Monday first.
pub const WEEKDAY: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// `*.invalid_reason` values.
pub const INVALID_REASON: &[&str] = &[
    "empty",
    "withheld",
    "bad_character",
    "too_short",
    "too_long",
    "unknown_country_code",
];
/// `*.type` values.
pub const NUMBER_TYPE: &[&str] = &[
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
];

/// One entry of the feature catalogue.
#[derive(Clone, Copy, Debug)]
pub struct FeatureDef {
    /// The name as written in conditions (`*` stands for caller, callee or network_number).
    pub name: &'static str,
    /// The feature.
    pub feature: fn(Who) -> Feature,
    /// Its type.
    pub ty: Ty,
    /// Whether it can be `none` (unknown).
    pub nullable: bool,
    /// What it means.
    pub doc: &'static str,
}

macro_rules! call_feature {
    ($name:literal, $f:expr, $ty:expr, $null:literal, $doc:literal) => {
        FeatureDef {
            name: $name,
            feature: |_| $f,
            ty: $ty,
            nullable: $null,
            doc: $doc,
        }
    };
}

macro_rules! number_feature {
    ($name:literal, $f:expr, $ty:expr, $null:literal, $doc:literal) => {
        FeatureDef {
            name: $name,
            feature: |w| Feature::Number(w, $f),
            ty: $ty,
            nullable: $null,
            doc: $doc,
        }
    };
}

/// Every feature: call features, then number features (`*.name`).
pub const FEATURES: &[FeatureDef] = &[
    call_feature!(
        "ingress",
        Feature::Ingress,
        Ty::Sym(INGRESS),
        false,
        "How the call reached the network: 'international', 'national' or 'onnet'."
    ),
    call_feature!(
        "roaming",
        Feature::Roaming,
        Ty::Bool,
        true,
        "The caller is a home subscriber roaming abroad; none when unknown."
    ),
    call_feature!(
        "attestation",
        Feature::Attestation,
        Ty::Sym(ATTESTATION),
        true,
        "STIR/SHAKEN attestation 'A', 'B' or 'C'; none when the call carried none."
    ),
    call_feature!(
        "duration",
        Feature::Duration,
        Ty::Num,
        true,
        "Call duration in seconds; none before the call ends."
    ),
    call_feature!(
        "trunk",
        Feature::Trunk,
        Ty::Text,
        false,
        "The trunk or gateway, free text ('' when not given)."
    ),
    call_feature!(
        "hour",
        Feature::Hour,
        Ty::Num,
        false,
        "Hour of the call (0-23) in the policy's utc_offset, from timestamp (now if absent)."
    ),
    call_feature!(
        "weekday",
        Feature::Weekday,
        Ty::Sym(WEEKDAY),
        false,
        "Day of the call ('mon' ... 'sun') in the policy's utc_offset."
    ),
    call_feature!(
        "emergency",
        Feature::Emergency,
        Ty::Bool,
        false,
        "The callee is a home emergency number (such calls are never blocked)."
    ),
    number_feature!(
        "*.present",
        NumberField::Present,
        Ty::Bool,
        false,
        "The field was given (non-empty)."
    ),
    number_feature!(
        "*.parsed",
        NumberField::Parsed,
        Ty::Bool,
        false,
        "The field normalised to an E.164 number."
    ),
    number_feature!(
        "*.valid",
        NumberField::Valid,
        Ty::Bool,
        false,
        "Parsed, and a number the numbering plan (or overlay) allocates."
    ),
    number_feature!(
        "*.invalid_reason",
        NumberField::InvalidReason,
        Ty::Sym(INVALID_REASON),
        true,
        "Why the field did not normalise ('withheld', 'bad_character', ...); none if it did."
    ),
    number_feature!(
        "*.region",
        NumberField::Region,
        Ty::Region,
        true,
        "ISO region of the number ('KZ', '001' for non-geographic); none if unknown."
    ),
    number_feature!(
        "*.is_home",
        NumberField::IsHome,
        Ty::Bool,
        false,
        "The number belongs to the home region."
    ),
    number_feature!(
        "*.type",
        NumberField::Type,
        Ty::Sym(NUMBER_TYPE),
        true,
        "Number type ('mobile', 'premium_rate', ...); none if not parsed."
    ),
    number_feature!(
        "*.country_code",
        NumberField::CountryCode,
        Ty::Num,
        true,
        "Country calling code (7, 44, ...); none if not parsed."
    ),
    number_feature!(
        "*.carrier",
        NumberField::Carrier,
        Ty::Text,
        true,
        "Carrier name from phonenumbers or the overlay; none if unknown."
    ),
    number_feature!(
        "*.location",
        NumberField::Location,
        Ty::Text,
        true,
        "Location name from phonenumbers or the overlay; none if unknown."
    ),
    number_feature!(
        "*.e164",
        NumberField::E164,
        Ty::Number,
        true,
        "The number in E.164 ('+77011234567'); none if not parsed."
    ),
    number_feature!(
        "*.tags",
        NumberField::Tags,
        Ty::Tags,
        false,
        "Tags of the overlay and prefix lists matching the number ('irsf' in callee.tags)."
    ),
];

/// Looks a feature up by its full name (`ingress`, `caller.region`, ...).
pub fn lookup(name: &str) -> Option<(Feature, &'static FeatureDef)> {
    match name.split_once('.') {
        None => FEATURES
            .iter()
            .find(|d| d.name == name)
            .map(|d| ((d.feature)(Who::Caller), d)),
        Some((who, field)) => {
            let who = Who::parse(who)?;
            FEATURES
                .iter()
                .find(|d| d.name.strip_prefix("*.") == Some(field))
                .map(|d| ((d.feature)(who), d))
        }
    }
}

/// Every full feature name, for suggestions.
pub fn all_names() -> Vec<String> {
    let mut out = Vec::new();
    for (key, _) in VELOCITY_KEYS {
        for c in COUNTERS {
            out.push(format!("{key}.{}", c.name));
        }
    }
    for d in FEATURES {
        match d.name.strip_prefix("*.") {
            None => out.push(d.name.to_owned()),
            Some(field) => {
                for who in [Who::Caller, Who::Callee, Who::NetworkNumber] {
                    out.push(format!("{}.{field}", who.as_str()));
                }
            }
        }
    }
    out
}

/// A feature's value for one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val<'a> {
    /// Unknown or absent.
    None,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Free text.
    Text(&'a str),
    /// The index of a word in the feature's [`Ty::Sym`] list.
    Sym(u8),
    /// A region.
    Region(Region),
    /// A number.
    Number(Number),
    /// Tag bits.
    Tags(u64),
}

/// What the features of one call are computed from.
pub struct Facts<'a> {
    /// The call.
    pub call: &'a Call<'a>,
    /// The caller, normalised and classified.
    pub caller: &'a NumberInfo,
    /// The callee.
    pub callee: &'a NumberInfo,
    /// The network number, when the call carries one.
    pub network_number: Option<&'a NumberInfo>,
    /// The callee is a home emergency number.
    pub emergency: bool,
    /// The policy: home region, time zone, carrier and location names.
    pub policy: &'a Policy,
    /// The call's time (its finite `timestamp`, else now), taken once when first needed.
    pub time: std::cell::OnceCell<f64>,
    /// Counters of the caller, destination and trunk keys (this call included), for the key
    /// kinds the policy reads; `None` where there is no key (e.g. an unparsed caller).
    pub velocity: [Option<Counters>; 3],
}

impl<'a> Facts<'a> {
    /// The classification of one of the numbers, if it parsed.
    #[inline]
    pub fn number(&self, who: Who) -> Option<&'a Classification> {
        self.info(who).and_then(|i| i.as_ref().ok())
    }

    /// The value of a feature.
    #[inline]
    pub fn value(&self, f: Feature) -> Val<'a> {
        match f {
            Feature::Trunk => Val::Text(self.call.trunk),
            Feature::Number(who, field) => self.number_value(who, field),
            Feature::Roaming | Feature::Emergency => self.flag(f).map_or(Val::None, Val::Bool),
            Feature::Ingress | Feature::Attestation | Feature::Weekday => {
                self.sym(f).map_or(Val::None, Val::Sym)
            }
            Feature::Duration | Feature::Hour | Feature::Velocity(..) => {
                self.num(f).map_or(Val::None, Val::Num)
            }
        }
    }

    /// A [`Family::Bool`] feature's value; `None` when unknown (or not a boolean feature).
    #[inline]
    pub fn flag(&self, f: Feature) -> Option<bool> {
        match f {
            Feature::Roaming => self.call.roaming,
            Feature::Emergency => Some(self.emergency),
            Feature::Number(who, field) => self.number_flag(who, field),
            _ => None,
        }
    }

    /// A boolean number field (`present`, `parsed`, `valid`, `is_home`); `None` for others.
    #[inline]
    pub fn number_flag(&self, who: Who, field: NumberField) -> Option<bool> {
        Some(match field {
            NumberField::Present => {
                let info = self.info(who);
                info.is_some_and(|i| !matches!(i, Err(Invalid::Empty)))
                    && match who {
                        Who::Caller => !self.call.caller.trim().is_empty(),
                        Who::Callee => !self.call.callee.trim().is_empty(),
                        Who::NetworkNumber => true,
                    }
            }
            NumberField::Parsed => self.number(who).is_some(),
            NumberField::Valid => self.is_valid(who),
            NumberField::IsHome => self.is_home(who),
            _ => return None,
        })
    }

    /// `*.valid`: parsed, and allocated.
    #[inline]
    pub fn is_valid(&self, who: Who) -> bool {
        self.number(who).is_some_and(|c| c.valid)
    }

    /// `*.is_home`: parsed, in the home region.
    #[inline]
    pub fn is_home(&self, who: Who) -> bool {
        self.number(who)
            .is_some_and(|c| c.region == Some(self.policy.dial.region()))
    }

    /// `*.type` as an index into [`NUMBER_TYPE`]; `None` when not parsed.
    #[inline]
    pub fn number_type(&self, who: Who) -> Option<u8> {
        self.number(who).map(|c| type_index(c.number_type))
    }

    /// `*.invalid_reason` as an index into [`INVALID_REASON`]; `None` when parsed or absent.
    #[inline]
    pub fn invalid_reason(&self, who: Who) -> Option<u8> {
        match self.info(who) {
            Some(Err(r)) => Some(invalid_index(*r)),
            _ => None,
        }
    }

    /// `attestation` as an index into [`ATTESTATION`]; `None` when the call carried none.
    #[inline]
    pub fn attestation(&self) -> Option<u8> {
        self.call.attestation.map(|a| match a {
            Attestation::A => 0,
            Attestation::B => 1,
            Attestation::C => 2,
        })
    }

    /// A [`Family::Sym`] feature's word index; `None` when unknown (or not such a feature).
    #[inline]
    pub fn sym(&self, f: Feature) -> Option<u8> {
        match f {
            Feature::Ingress => Some(self.call.ingress.index()),
            Feature::Attestation => self.attestation(),
            Feature::Weekday => Some(self.local_time().1),
            Feature::Number(who, NumberField::InvalidReason) => self.invalid_reason(who),
            Feature::Number(who, NumberField::Type) => self.number_type(who),
            _ => None,
        }
    }

    /// A [`Family::Num`] feature's value; `None` when unknown (or not a numeric feature).
    #[inline]
    pub fn num(&self, f: Feature) -> Option<f64> {
        match f {
            Feature::Duration => self.call.duration,
            Feature::Hour => Some(f64::from(self.local_time().0)),
            Feature::Number(who, NumberField::CountryCode) => {
                self.number(who).map(|c| f64::from(c.number.country_code()))
            }
            Feature::Velocity(kind, counter) => self.counter(kind_index(kind), counter),
            _ => None,
        }
    }

    /// A velocity counter of the key kind at `kind` (see [`kind_index`]); `None` without a
    /// key, or for `short_share` while no duration is known.
    #[inline]
    pub fn counter(&self, kind: usize, counter: Counter) -> Option<f64> {
        self.velocity
            .get(kind)?
            .as_ref()
            .and_then(|c| counter_value(c, counter))
    }

    /// The looked-up number, or why it did not parse; `None` for an absent network number.
    #[inline]
    fn info(&self, who: Who) -> Option<&'a NumberInfo> {
        match who {
            Who::Caller => Some(self.caller),
            Who::Callee => Some(self.callee),
            Who::NetworkNumber => self.network_number,
        }
    }

    fn number_value(&self, who: Who, field: NumberField) -> Val<'a> {
        let parsed = self.number(who);
        match field {
            NumberField::Present
            | NumberField::Parsed
            | NumberField::Valid
            | NumberField::IsHome => self.number_flag(who, field).map_or(Val::None, Val::Bool),
            NumberField::InvalidReason | NumberField::Type => self
                .sym(Feature::Number(who, field))
                .map_or(Val::None, Val::Sym),
            NumberField::CountryCode => self
                .num(Feature::Number(who, field))
                .map_or(Val::None, Val::Num),
            NumberField::Region => parsed.and_then(|c| c.region).map_or(Val::None, Val::Region),
            NumberField::Carrier => parsed
                .and_then(|c| self.policy.names(c).0)
                .map_or(Val::None, Val::Text),
            NumberField::Location => parsed
                .and_then(|c| self.policy.names(c).1)
                .map_or(Val::None, Val::Text),
            NumberField::E164 => parsed.map_or(Val::None, |c| Val::Number(c.number)),
            NumberField::Tags => Val::Tags(parsed.map_or(0, |c| c.tags)),
        }
    }

    /// Hour (0-23) and weekday (0 = Monday) of the call in the policy's time zone.
    fn local_time(&self) -> (u8, u8) {
        let ts = *self
            .time
            .get_or_init(|| crate::engine::event_time(self.call));
        local_time(ts, self.policy.utc_offset)
    }
}

fn counter_value(c: &Counters, counter: Counter) -> Option<f64> {
    let n = match counter {
        Counter::Calls1s => c.calls_1s,
        Counter::Calls1m => c.calls_1m,
        Counter::CallsWindow => c.calls_window,
        Counter::DistinctCallees => c.distinct_callees,
        Counter::ShortCalls => c.short_calls,
        Counter::KnownDurations => c.known_durations,
        Counter::Sequential => c.sequential,
        Counter::RepeatCallee => c.repeat_callee,
        Counter::ShortShare => {
            return if c.known_durations == 0 {
                None
            } else {
                Some(f64::from(c.short_calls) / f64::from(c.known_durations))
            }
        }
    };
    Some(f64::from(n))
}

/// Hour (0-23) and weekday (0 = Monday) of Unix time `ts` at `utc_offset` seconds east.
pub fn local_time(ts: f64, utc_offset: i64) -> (u8, u8) {
    // Clamped so that any finite input stays in i64 range.
    let secs = ts.floor().clamp(-1e15, 1e15) as i64 + utc_offset;
    let day = secs.div_euclid(86_400);
    let hour = secs.rem_euclid(86_400) / 3600;
    // 1970-01-01 was a Thursday (index 3).
    let weekday = (day + 3).rem_euclid(7);
    (hour as u8, weekday as u8)
}

fn invalid_index(r: Invalid) -> u8 {
    match r {
        Invalid::Empty => 0,
        Invalid::Withheld => 1,
        Invalid::BadCharacter => 2,
        Invalid::TooShort => 3,
        Invalid::TooLong => 4,
        Invalid::UnknownCountryCode => 5,
    }
}

fn type_index(t: NumberType) -> u8 {
    // NUMBER_TYPE lists the names of NumberType::ALL in the same order (tested).
    match t {
        NumberType::FixedLine => 0,
        NumberType::Mobile => 1,
        NumberType::FixedLineOrMobile => 2,
        NumberType::TollFree => 3,
        NumberType::PremiumRate => 4,
        NumberType::SharedCost => 5,
        NumberType::Voip => 6,
        NumberType::PersonalNumber => 7,
        NumberType::Pager => 8,
        NumberType::Uan => 9,
        NumberType::Voicemail => 10,
        NumberType::Unknown => 11,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Ingress;

    #[test]
    fn ingress_index_is_the_position_of_its_word() {
        for i in [Ingress::International, Ingress::National, Ingress::Onnet] {
            assert_eq!(INGRESS[usize::from(i.index())], i.as_str());
            assert_eq!(Ingress::parse(i.as_str()), Some(i));
            assert_eq!(
                Ingress::parse(&format!(" {} ", i.as_str().to_uppercase())),
                Some(i)
            );
        }
    }

    #[test]
    fn catalogue_names_resolve() {
        for name in all_names() {
            assert!(
                lookup(&name).is_some() || lookup_velocity(&name).is_some(),
                "{name}"
            );
        }
        assert_eq!(
            lookup_velocity("trunk.calls_1m").map(|f| f.0),
            Some(Feature::Velocity(KeyKind::Trunk, Counter::Calls1m))
        );
        assert_eq!(
            lookup("callee.region").map(|f| f.0),
            Some(Feature::Number(Who::Callee, NumberField::Region))
        );
        assert!(lookup("caller").is_none() && lookup("sender.region").is_none());
        for t in NumberType::ALL {
            assert_eq!(NUMBER_TYPE[usize::from(type_index(t))], t.as_str());
        }
    }

    #[test]
    fn families_follow_the_catalogue_types() {
        for name in all_names() {
            let (f, ty) = match lookup(&name) {
                Some((f, def)) => (f, def.ty),
                None => (lookup_velocity(&name).map(|v| v.0).unwrap(), Ty::Num),
            };
            let family = match ty {
                Ty::Bool => Family::Bool,
                Ty::Sym(_) => Family::Sym,
                Ty::Num => Family::Num,
                _ => Family::Other,
            };
            assert_eq!(f.family(), family, "{name}");
        }
    }

    #[test]
    fn local_time_in_a_zone() {
        // 2026-11-29 06:00:00 UTC is a Sunday; 11:00 at +05:00.
        assert_eq!(local_time(1_795_932_000.0, 5 * 3600), (11, 6));
        assert_eq!(local_time(0.0, 0), (0, 3));
        assert_eq!(local_time(-1.0, 0), (23, 2));
        let _ = local_time(f64::MAX, 0);
    }
}
