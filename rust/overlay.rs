//! Operator range overlay: the regulator's allocations laid over phonenumbers' plan.
//!
//! A CSV file with a header row and the columns `prefix` (required: E.164 digits, `+`
//! optional), `region`, `type`, `carrier`, `location` and `tags` (`;`-separated), the others
//! optional and empty for "keep what the plan says". Each of region, type, carrier and
//! location comes from the longest matching prefix that sets it; tags of every matching prefix add up. Giving a type
//! other than `unknown` marks the range allocated (valid); `unknown` marks it unallocated.
//!
//! ```text
//! prefix,region,type,carrier,location,tags
//! +76,KZ,,,,kz_reserved
//! +7700,KZ,mobile,Altel,,
//! ```

use crate::numplan::Classification;
use crate::numtype::{NumberType, Region};
use crate::trie::{PrefixTrie, TrieBuilder};
use crate::{Error, Result};

/// Most distinct tags an overlay may define (they are held as bits of a `u64`).
pub const MAX_TAGS: usize = 64;
/// Overlay names (carrier, location) are marked with this bit in a classification.
pub const OVERLAY_NAME: u32 = 1 << 31;

#[derive(Clone, Debug, Default)]
struct Entry {
    region: Option<Region>,
    number_type: Option<NumberType>,
    carrier: Option<u32>,
    location: Option<u32>,
    tags: u64,
}

impl Entry {
    /// What one matching prefix changes in a classification.
    #[inline]
    fn lay_over(&self, c: &mut Classification) {
        c.tags |= self.tags;
        if let Some(r) = self.region {
            c.region = Some(r);
        }
        if let Some(t) = self.number_type {
            c.number_type = t;
            c.valid = t != NumberType::Unknown;
        }
    }
}

/// A compiled overlay.
#[derive(Clone, Debug, Default)]
pub struct Overlay {
    trie: PrefixTrie<Entry>,
    tags: Vec<String>,
    names: Vec<String>,
}

impl Overlay {
    /// An overlay that changes nothing.
    pub fn empty() -> Overlay {
        Overlay::default()
    }

    /// Parses overlay CSV; `source_name` (a file name) appears in error messages.
    pub fn parse(text: &str, source_name: &str) -> Result<Overlay> {
        let mut builder = OverlayBuilder::default();
        builder.add_csv(text, source_name)?;
        builder.build()
    }

    fn intern(&mut self, s: &str) -> u32 {
        let idx = self.names.iter().position(|n| n == s).unwrap_or_else(|| {
            self.names.push(s.to_owned());
            self.names.len() - 1
        });
        idx as u32 | OVERLAY_NAME
    }

    fn tag_bit(&mut self, tag: &str) -> Option<u64> {
        let idx = match self.tags.iter().position(|t| t == tag) {
            Some(i) => i,
            None if self.tags.len() < MAX_TAGS => {
                self.tags.push(tag.to_owned());
                self.tags.len() - 1
            }
            None => return None,
        };
        Some(1u64 << idx)
    }

    /// Number of prefixes in the overlay.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    /// True if the overlay changes nothing.
    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }

    /// Every tag the overlay defines, in bit order.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The names of the tags set in `bits`.
    pub fn tag_names(&self, bits: u64) -> impl Iterator<Item = &str> {
        self.tags
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, t)| t.as_str())
    }

    /// The bit of a tag, if the overlay defines it.
    pub fn tag(&self, name: &str) -> Option<u64> {
        self.tags.iter().position(|t| t == name).map(|i| 1u64 << i)
    }

    /// An overlay name (carrier or location) by marked id.
    pub fn name(&self, id: u32) -> &str {
        self.names
            .get((id & !OVERLAY_NAME) as usize)
            .map_or("", String::as_str)
    }

    /// Lays the overlay over a classification, given the number's E.164 digits.
    #[inline]
    pub fn apply(&self, digits: &[u8], c: &mut Classification) {
        if self.trie.is_empty() {
            return;
        }
        self.trie.for_each_prefix(digits, |_, e| e.lay_over(c));
    }

    /// [`Overlay::apply`] given the E.164 digits as country code and NSN, not joined.
    #[inline]
    pub fn apply_split(&self, cc: &[u8], nsn: &[u8], c: &mut Classification) {
        if self.trie.is_empty() {
            return;
        }
        self.trie
            .for_each_prefix_split(cc, nsn, |_, e| e.lay_over(c));
    }

    /// Overlay carrier and location name ids (marked with [`OVERLAY_NAME`]) for `digits`,
    /// each from the longest prefix that sets it.
    pub fn names(&self, digits: &[u8]) -> (Option<u32>, Option<u32>) {
        let (mut carrier, mut location) = (None, None);
        self.trie.for_each_prefix(digits, |_, e| {
            carrier = e.carrier.or(carrier);
            location = e.location.or(location);
        });
        (carrier, location)
    }
}

/// Collects overlay rows (from CSV files and from tagged prefix lists) before building the
/// trie. A prefix given twice in CSV is an error; a tagged prefix list only adds tags.
#[derive(Debug, Default)]
pub struct OverlayBuilder {
    overlay: Overlay,
    entries: std::collections::BTreeMap<String, (Entry, Option<(String, u64)>)>,
}

impl OverlayBuilder {
    /// Adds the rows of an overlay CSV; `source_name` (a file name) appears in errors.
    pub fn add_csv(&mut self, text: &str, source_name: &str) -> Result<()> {
        let err = |line: u64, column: usize, message: String| Error::Parse {
            source_name: source_name.to_owned(),
            line: line as usize,
            column,
            message,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| err(1, 1, e.to_string()))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let known = ["prefix", "region", "type", "carrier", "location", "tags"];
        if let Some(bad) = headers
            .iter()
            .find(|h| !known.iter().any(|k| k.eq_ignore_ascii_case(h)))
        {
            return Err(err(
                1,
                1,
                format!(
                    "unknown column {bad:?}; expected some of {}",
                    known.join(", ")
                ),
            ));
        }
        let prefix_col = column("prefix")
            .ok_or_else(|| err(1, 1, "missing required column \"prefix\"".into()))?;
        let cols = known.map(column);
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                err(line, 1, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: Option<usize>| i.and_then(|i| record.get(i)).filter(|s| !s.is_empty());
            let col_of = |i: Option<usize>| i.map_or(1, |i| i + 1);
            let prefix = record.get(prefix_col).unwrap_or("");
            let digits = prefix_digits(prefix)
                .ok_or_else(|| err(line, prefix_col + 1, bad_prefix(prefix)))?;
            let mut entry = Entry::default();
            if let Some(r) = field(cols[1]) {
                entry.region = Some(Region::parse(r).ok_or_else(|| {
                    err(
                        line,
                        col_of(cols[1]),
                        format!("region {r:?} is not an ISO 3166 code"),
                    )
                })?);
            }
            if let Some(t) = field(cols[2]) {
                entry.number_type = Some(
                    NumberType::from_name(&t.to_ascii_lowercase()).ok_or_else(|| {
                        let names: Vec<_> = NumberType::ALL.iter().map(|t| t.as_str()).collect();
                        err(
                            line,
                            col_of(cols[2]),
                            format!("type {t:?} is not one of {}", names.join(", ")),
                        )
                    })?,
                );
            }
            entry.carrier = field(cols[3]).map(|s| self.overlay.intern(s));
            entry.location = field(cols[4]).map(|s| self.overlay.intern(s));
            let tags = field(cols[5]).unwrap_or("");
            entry.tags = self
                .tag_bits(tags.split(';').map(str::trim).filter(|t| !t.is_empty()))
                .map_err(|m| err(line, col_of(cols[5]), m))?;
            match self.entries.entry(digits.to_owned()) {
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let (existing, origin) = slot.get_mut();
                    if let Some((file, first)) = origin {
                        return Err(err(
                            line,
                            prefix_col + 1,
                            format!(
                                "prefix {prefix:?} repeats {file}:{first}; give each prefix one row"
                            ),
                        ));
                    }
                    entry.tags |= existing.tags;
                    *existing = entry;
                    *origin = Some((source_name.to_owned(), line));
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert((entry, Some((source_name.to_owned(), line))));
                }
            }
        }
        Ok(())
    }

    /// Adds `tags` to the range starting with `prefix` (E.164 digits, `+` optional). On
    /// error, returns the message for the caller to place.
    pub fn add_tagged(&mut self, prefix: &str, tags: &[&str]) -> Result<(), String> {
        let digits = prefix_digits(prefix).ok_or_else(|| bad_prefix(prefix))?;
        let bits = self.tag_bits(tags.iter().copied())?;
        self.entries
            .entry(digits.to_owned())
            .or_insert_with(|| (Entry::default(), None))
            .0
            .tags |= bits;
        Ok(())
    }

    /// Registers a tag without a range, so that policies may name it; returns its bit.
    pub fn declare_tag(&mut self, tag: &str) -> Result<u64, String> {
        self.tag_bits(std::iter::once(tag))
    }

    fn tag_bits<'t>(&mut self, tags: impl Iterator<Item = &'t str>) -> Result<u64, String> {
        let mut bits = 0;
        for tag in tags {
            bits |= self
                .overlay
                .tag_bit(tag)
                .ok_or_else(|| format!("more than {MAX_TAGS} distinct tags"))?;
        }
        Ok(bits)
    }

    /// Builds the overlay.
    pub fn build(mut self) -> Result<Overlay> {
        let mut builder = TrieBuilder::new();
        for (digits, (entry, _)) in self.entries {
            builder.insert(digits.as_bytes(), entry);
        }
        self.overlay.trie = builder.build();
        Ok(self.overlay)
    }
}

/// Checks that `prefix` is an E.164 prefix (`+` optional); the error message says why not.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    prefix_digits(prefix)
        .map(|_| ())
        .ok_or_else(|| bad_prefix(prefix))
}

fn prefix_digits(prefix: &str) -> Option<&str> {
    let digits = prefix.strip_prefix('+').unwrap_or(prefix);
    (!digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0'))
    .then_some(digits)
}

fn bad_prefix(prefix: &str) -> String {
    format!("prefix {prefix:?} is not an E.164 prefix (1 to 15 digits after an optional +)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::{Number, MAX_DIGITS};

    fn blank(e164: &str) -> Classification {
        let d = &e164.as_bytes()[1..];
        Classification {
            number: Number::from_digits(d, 1).unwrap(),
            region: None,
            valid: false,
            number_type: NumberType::Unknown,
            tags: 0,
        }
    }

    #[test]
    fn longest_prefix_decides_and_tags_add_up() {
        let o = Overlay::parse("prefix,region,type,carrier,tags\n+76,KZ,,,kz_reserved\n7600,,mobile,Test Mobile,test\n", "o.csv").unwrap();
        let mut c = blank("+76001234567");
        let mut buf = [0; MAX_DIGITS];
        o.apply(c.number.digits(&mut buf), &mut c);
        assert_eq!(c.region.unwrap().as_str(), "KZ");
        assert!(c.valid);
        assert_eq!(c.number_type, NumberType::Mobile);
        assert_eq!(
            o.name(o.names(c.number.digits(&mut buf)).0.unwrap()),
            "Test Mobile"
        );
        assert_eq!(
            o.tag_names(c.tags).collect::<Vec<_>>(),
            ["kz_reserved", "test"]
        );
        let mut other = blank("+76101234567");
        o.apply(other.number.digits(&mut buf), &mut other);
        assert!(!other.valid && other.region.is_some());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = Overlay::parse("prefix,region\n+76,KZ\n+7x,KZ\n", "ranges.csv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("ranges.csv:3:1:"), "{e}");
        assert!(e.contains("\"+7x\""), "{e}");
        let e = Overlay::parse("prefix,type\n+76,mobil\n", "r.csv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("r.csv:2:2:") && e.contains("mobil"), "{e}");
        let e = Overlay::parse("prefix,colour\n", "r.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
