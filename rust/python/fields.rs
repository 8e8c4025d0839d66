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
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" => Ok(Some(true)),
        "false" | "0" | "no" | "n" | "f" => Ok(Some(false)),
        "" | "unknown" | "none" | "null" => Ok(None),
        _ => Err(value_error(
            py,
            "roaming",
            format!("{} is not true/false/1/0/yes/no/unknown", quote(&s)),
        )),
    }
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
    if s.trim().is_empty() {
        return Ok(None);
    }
    Attestation::parse(&s).map(Some).ok_or_else(|| {
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
        if s.trim().is_empty() {
            return Ok(None);
        }
        s.trim()
            .parse::<f64>()
            .map_err(|_| value_error(py, field, format!("{} is not a number", quote(&s))))?
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

pub(super) fn score_mapping<'py>(
    py: Python<'py>,
    engine: &CoreEngine,
    obj: &Bound<'py, PyAny>,
) -> PyResult<CoreVerdict> {
    let dict = obj.cast::<PyDict>().ok();
    let get = |key: &Bound<'py, PyString>| field(py, dict, obj, key);
    let caller = get(intern!(py, "caller"))?;
    let callee = get(intern!(py, "callee"))?;
    let ingress_v = get(intern!(py, "ingress"))?;
    let roaming_v = get(intern!(py, "roaming"))?;
    let attestation_v = get(intern!(py, "attestation"))?;
    let timestamp_v = get(intern!(py, "timestamp"))?;
    let duration_v = get(intern!(py, "duration"))?;
    let trunk = get(intern!(py, "trunk"))?;
    let network = get(intern!(py, "network_number"))?;
    let caller = text(py, "caller", caller.as_ref())?;
    let callee = text(py, "callee", callee.as_ref())?;
    let trunk = text(py, "trunk", trunk.as_ref())?;
    let network = text(py, "network_number", network.as_ref())?;
    let call = Call {
        timestamp: seconds(py, "timestamp", timestamp_v.as_ref(), false)?,
        caller: &caller,
        callee: &callee,
        ingress: ingress(py, ingress_v.as_ref())?,
        roaming: roaming(py, roaming_v.as_ref())?,
        attestation: attestation(py, attestation_v.as_ref())?,
        duration: seconds(py, "duration", duration_v.as_ref(), true)?,
        trunk: &trunk,
        network_number: (!network.is_empty()).then_some(&*network),
    };
    Ok(engine.score(&call))
}

/// A call read from a dict or Mapping into owned fields (for batch scoring without the GIL).
pub(super) fn owned_call<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<PyCall> {
    let dict = obj.cast::<PyDict>().ok();
    if dict.is_none() && !obj.hasattr(intern!(py, "keys"))? {
        return Err(type_error(
            py,
            "call",
            "a dict, a Mapping or fraudcore.Call",
            obj,
        ));
    }
    let get = |key: &Bound<'py, PyString>| field(py, dict, obj, key);
    let network_v = get(intern!(py, "network_number"))?;
    let network = text(py, "network_number", network_v.as_ref())?;
    Ok(PyCall {
        timestamp: seconds(
            py,
            "timestamp",
            get(intern!(py, "timestamp"))?.as_ref(),
            false,
        )?,
        caller: text(py, "caller", get(intern!(py, "caller"))?.as_ref())?.into_owned(),
        callee: text(py, "callee", get(intern!(py, "callee"))?.as_ref())?.into_owned(),
        ingress: ingress(py, get(intern!(py, "ingress"))?.as_ref())?,
        roaming: roaming(py, get(intern!(py, "roaming"))?.as_ref())?,
        attestation: attestation(py, get(intern!(py, "attestation"))?.as_ref())?,
        duration: seconds(py, "duration", get(intern!(py, "duration"))?.as_ref(), true)?,
        trunk: text(py, "trunk", get(intern!(py, "trunk"))?.as_ref())?.into_owned(),
        network_number: (!network.is_empty()).then(|| network.into_owned()),
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
