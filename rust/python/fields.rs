//! Call fields and list keys from Python values: one converter per field, naming the field
//! in every error.

use super::*;

/// A free-text field: `str`, `bytes` (UTF-8, lossy), a non-negative `int` (a number stored
/// as an integer), or `None`/missing (empty). Undecodable strings (lone surrogates) become
/// U+FFFD, which the normaliser rejects.
pub(super) fn text<'a>(
    py: Python<'_>,
    field: &str,
    v: Option<&'a Bound<'_, PyAny>>,
) -> PyResult<Cow<'a, str>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Cow::Borrowed(""));
    };
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_cow().unwrap_or(Cow::Borrowed("\u{FFFD}")));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Cow::Owned(
            String::from_utf8_lossy(b.as_bytes()).into_owned(),
        ));
    }
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        // Any int is a number: negative or huge ones become text the normaliser rejects.
        return Ok(Cow::Owned(match v.extract::<u64>() {
            Ok(n) => n.to_string(),
            Err(_) => v
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "-".into()),
        }));
    }
    Err(type_error(
        py,
        field,
        "str, bytes, a non-negative int or None",
        v,
    ))
}

pub(super) fn ingress(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Ingress> {
    let Some(v) = v else {
        return Err(value_error(
            py,
            "ingress",
            "missing; expected 'international', 'national' or 'onnet'".into(),
        ));
    };
    let s = v
        .cast::<PyString>()
        .map_err(|_| type_error(py, "ingress", "str", v))?;
    ingress_arg(py, &s.to_cow().unwrap_or(Cow::Borrowed("")))
}

pub(super) fn ingress_arg(py: Python<'_>, s: &str) -> PyResult<Ingress> {
    Ingress::parse(s).ok_or_else(|| {
        value_error(
            py,
            "ingress",
            format!("{} is not 'international', 'national' or 'onnet'", quote(s)),
        )
    })
}

pub(super) fn roaming(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<bool>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Some(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        return match v.extract::<i64>() {
            Ok(0) => Ok(Some(false)),
            Ok(1) => Ok(Some(true)),
            _ => Err(value_error(py, "roaming", "an int must be 0 or 1".into())),
        };
    }
    let s = v
        .cast::<PyString>()
        .map_err(|_| type_error(py, "roaming", "bool, 0/1, str or None", v))?;
    let s = s.to_cow().unwrap_or(Cow::Borrowed("?"));
    crate::cdr::parse_roaming(&s).map_err(|_| {
        value_error(
            py,
            "roaming",
            format!("{} is not true/false/1/0/yes/no/unknown", quote(&s)),
        )
    })
}

pub(super) fn attestation(
    py: Python<'_>,
    v: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Attestation>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let s = v
        .cast::<PyString>()
        .map_err(|_| type_error(py, "attestation", "'A', 'B', 'C' or None", v))?;
    let s = s.to_cow().unwrap_or(Cow::Borrowed("?"));
    crate::cdr::parse_attestation(&s).map_err(|_| {
        value_error(
            py,
            "attestation",
            format!("{} is not 'A', 'B', 'C' or empty", quote(&s)),
        )
    })
}

/// Seconds: `int`, `float`, a numeric `str` or `None`/empty; finite, and `>= 0` for durations.
pub(super) fn seconds(
    py: Python<'_>,
    field: &str,
    v: Option<&Bound<'_, PyAny>>,
    non_negative: bool,
) -> PyResult<Option<f64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let x = if v.is_instance_of::<PyBool>() {
        return Err(type_error(py, field, "a number of seconds", v));
    } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
        v.extract::<f64>()
            .map_err(|_| value_error(py, field, "out of range".into()))?
    } else if let Ok(s) = v.cast::<PyString>() {
        let s = s.to_cow().unwrap_or(Cow::Borrowed("?"));
        match crate::cdr::parse_seconds(&s, non_negative) {
            Ok(x) => return Ok(x),
            Err(_) => {
                return Err(value_error(
                    py,
                    field,
                    format!("{} is not a number of seconds", quote(&s)),
                ))
            }
        }
    } else {
        return Err(type_error(py, field, "int, float, numeric str or None", v));
    };
    if !x.is_finite() || (non_negative && x < 0.0) {
        return Err(value_error(
            py,
            field,
            format!("{x} is not a valid number of seconds"),
        ));
    }
    Ok(Some(x))
}

/// A call read from a dict or Mapping, borrowing its strings.
pub(super) fn field<'py>(
    py: Python<'py>,
    dict: Option<&Bound<'py, PyDict>>,
    obj: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match dict {
        Some(d) => d.get_item(key),
        None => match obj.get_item(key) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_instance_of::<PyKeyError>(py) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// The call-field values of a dict or Mapping, in [`crate::cdr::CALL_FIELDS`] order.
fn mapping_values<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> PyResult<[Option<Bound<'py, PyAny>>; 9]> {
    let dict = obj.cast::<PyDict>().ok();
    if dict.is_none() && !obj.hasattr(intern!(py, "keys"))? {
        return Err(type_error(
            py,
            "call",
            "a dict, a Mapping or fraudcore.Call",
            obj,
        ));
    }
    let keys = [
        intern!(py, "timestamp"),
        intern!(py, "caller"),
        intern!(py, "callee"),
        intern!(py, "ingress"),
        intern!(py, "roaming"),
        intern!(py, "attestation"),
        intern!(py, "duration"),
        intern!(py, "trunk"),
        intern!(py, "network_number"),
    ];
    let mut out: [Option<Bound<'py, PyAny>>; 9] = Default::default();
    match dict {
        // One pass over the dict's entries instead of a hash lookup per field: keys written
        // as literals are the interned names, found by identity; other `str` keys by text;
        // keys that are no field name are ignored, as a lookup would ignore them.
        Some(d) => {
            for (k, v) in d.iter() {
                let at = keys.iter().position(|key| key.as_ptr() == k.as_ptr());
                let at = at.or_else(|| {
                    let name = k.cast::<PyString>().ok()?;
                    let name = name.to_str().ok()?;
                    crate::cdr::CALL_FIELDS.iter().position(|f| *f == name)
                });
                if let Some(slot) = at.and_then(|i| out.get_mut(i)) {
                    *slot = Some(v);
                }
            }
        }
        None => {
            for (slot, key) in out.iter_mut().zip(keys) {
                *slot = field(py, dict, obj, key)?;
            }
        }
    }
    Ok(out)
}

/// A call read from a dict or Mapping, its strings borrowed where Python allows.
pub(super) struct MappedCall<'a> {
    timestamp: Option<f64>,
    caller: Cow<'a, str>,
    callee: Cow<'a, str>,
    ingress: Ingress,
    roaming: Option<bool>,
    attestation: Option<Attestation>,
    duration: Option<f64>,
    trunk: Cow<'a, str>,
    network_number: Cow<'a, str>,
}

impl<'a> MappedCall<'a> {
    fn read(py: Python<'_>, v: &'a [Option<Bound<'_, PyAny>>; 9]) -> PyResult<Self> {
        Ok(MappedCall {
            timestamp: seconds(py, "timestamp", v[0].as_ref(), false)?,
            caller: text(py, "caller", v[1].as_ref())?,
            callee: text(py, "callee", v[2].as_ref())?,
            ingress: ingress(py, v[3].as_ref())?,
            roaming: roaming(py, v[4].as_ref())?,
            attestation: attestation(py, v[5].as_ref())?,
            duration: seconds(py, "duration", v[6].as_ref(), true)?,
            trunk: text(py, "trunk", v[7].as_ref())?,
            network_number: text(py, "network_number", v[8].as_ref())?,
        })
    }

    fn as_call(&self) -> Call<'_> {
        Call {
            timestamp: self.timestamp,
            caller: &self.caller,
            callee: &self.callee,
            ingress: self.ingress,
            roaming: self.roaming,
            attestation: self.attestation,
            duration: self.duration,
            trunk: &self.trunk,
            network_number: (!self.network_number.is_empty()).then_some(&*self.network_number),
        }
    }
}

/// Scores a dict or Mapping without copying its strings.
pub(super) fn score_mapping<'py>(
    py: Python<'py>,
    engine: &CoreEngine,
    obj: &Bound<'py, PyAny>,
) -> PyResult<CoreVerdict> {
    let values = mapping_values(py, obj)?;
    Ok(engine.score(&MappedCall::read(py, &values)?.as_call()))
}

/// A call read from a dict or Mapping into owned fields (for batch scoring without the GIL).
pub(super) fn owned_call<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<PyCall> {
    let values = mapping_values(py, obj)?;
    let m = MappedCall::read(py, &values)?;
    Ok(PyCall {
        timestamp: m.timestamp,
        caller: m.caller.into_owned(),
        callee: m.callee.into_owned(),
        ingress: m.ingress,
        roaming: m.roaming,
        attestation: m.attestation,
        duration: m.duration,
        trunk: m.trunk.into_owned(),
        network_number: (!m.network_number.is_empty()).then(|| m.network_number.into_owned()),
    })
}

/// An E.164 key for list operations: an `int` (the digits) or a `str` (`+` optional,
/// separators allowed). `None` if it is no E.164 number.
pub(super) fn list_key(v: &Bound<'_, PyAny>) -> Option<u64> {
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        return v
            .extract::<u64>()
            .ok()
            .filter(|&n| n > 0 && n < 10_000_000_000_000_000_000);
    }
    let s = v.cast::<PyString>().ok()?.to_cow().ok()?;
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut n: u64 = 0;
    let mut digits = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                if digits == 0 && b == b'0' {
                    return None;
                }
                n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    (1..=19).contains(&digits).then_some(n)
}

pub(super) fn required_key(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<u64> {
    list_key(v).ok_or_else(|| {
        let shown = v.repr().map(|r| r.to_string()).unwrap_or_default();
        value_error(
            py,
            "number",
            format!(
                "{} is not an E.164 number (int or '+CC…' str)",
                quote(&shown)
            ),
        )
    })
}
