//! Core errors and bad call fields as `fraudcore.FraudcoreError` subclasses: the one place
//! Rust errors become Python exceptions.

use super::*;

/// Longest slice of a bad value quoted back in an error message.
pub(super) const QUOTE_MAX: usize = 40;

/// The same error, its message prefixed with `calls[i]: `.
pub(super) fn at_index(py: Python<'_>, e: PyErr, i: usize) -> PyErr {
    let message = format!("calls[{i}]: {}", e.value(py));
    match e.get_type(py).call1((message,)) {
        Ok(v) => PyErr::from_value(v),
        Err(_) => e,
    }
}

pub(super) fn error_type<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("fraudcore._errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

pub(super) fn raise<'py>(
    py: Python<'py>,
    class: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyErr {
    match error_type(py, class).and_then(|t| t.call1(args)) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// Maps a core error to its Python exception. The one place this happens.
pub(crate) fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::InvalidValue { .. } => raise(py, "InvalidValueError", (message,)),
        Error::Parse { .. } => raise(py, "ParseError", (message,)),
        Error::Corrupt { .. } => raise(py, "CorruptFileError", (message,)),
        Error::Io { path, source } => {
            let errno = source.raw_os_error().unwrap_or(0);
            raise(
                py,
                "FileError",
                (errno, message, path.display().to_string()),
            )
        }
    }
}

pub(super) fn type_error(
    py: Python<'_>,
    field: &str,
    expected: &str,
    got: &Bound<'_, PyAny>,
) -> PyErr {
    let got = got
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    raise(
        py,
        "InvalidTypeError",
        (format!("{field}: expected {expected}, got {got}"),),
    )
}

pub(super) fn value_error(py: Python<'_>, field: &str, message: String) -> PyErr {
    to_py_err(py, Error::invalid(field, message))
}

/// Python's `repr` of an optional string.
pub(super) fn py_repr(s: Option<&str>) -> String {
    match s {
        None => "None".into(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

pub(super) fn quote(s: &str) -> String {
    let cut: String = s.chars().take(QUOTE_MAX).collect();
    if cut.len() < s.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}
