//! The only module that knows Python: type conversion, error mapping, GIL handling.
//!
//! Every core error becomes one `fraudcore.FraudcoreError` subclass in `errors`; call fields
//! are converted once (`fields`); each Python class has its own file.

mod arrow;
mod batch;
mod call;
mod engine;
mod errors;
mod fields;
mod gc;
mod lists;
mod plan;
mod policy;
mod verdict;

use crate::call::{Attestation, Call};
use crate::engine::Engine as CoreEngine;
use crate::listload::{parse_list, LoadReport};
use crate::metadata::PlanSource;
use crate::normalize::{Ingress, Invalid};
use crate::numberlist::{ListKind, Membership, NumberList};
use crate::numplan::NumberingPlan as CorePlan;
use crate::policy::Policy;
use crate::verdict::{NumberInfo as CoreInfo, ReasonId, Verdict as CoreVerdict};
use crate::Error;
use batch::*;
use call::*;
use engine::*;
use errors::*;
use fields::*;
use lists::*;
use plan::*;
use policy::*;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{
    IntoPyDict, PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use pyo3::{intern, IntoPyObjectExt};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use verdict::*;

/// Values that identify an invalid number, for `fraudcore.INVALID_REASONS`.
const INVALID_REASONS: [Invalid; 6] = [
    Invalid::Empty,
    Invalid::Withheld,
    Invalid::BadCharacter,
    Invalid::TooShort,
    Invalid::TooLong,
    Invalid::UnknownCountryCode,
];

#[pymodule(gil_used = false)]
fn _fraudcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PLAN_FORMAT_VERSION", crate::numplan::PLAN_VERSION)?;
    m.add_class::<PyCall>()?;
    m.add_class::<PyNumberInfo>()?;
    m.add_class::<PyVerdict>()?;
    m.add_class::<PyPlan>()?;
    m.add_class::<PyEngine>()?;
    m.add_class::<PyPolicy>()?;
    m.add_class::<PyNumberList>()?;
    let mut features: Vec<String> = crate::policy::features::FEATURES
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    features.extend(
        crate::policy::features::COUNTERS
            .iter()
            .map(|c| format!("V.{}", c.name)),
    );
    m.add(
        "POLICY_FEATURES",
        PyTuple::new(m.py(), features)?.into_py_any(m.py())?,
    )?;
    let reasons: Vec<&str> = INVALID_REASONS.iter().map(|i| i.as_str()).collect();
    m.add(
        "INVALID_REASONS",
        PyTuple::new(m.py(), reasons)?.into_py_any(m.py())?,
    )?;
    Ok(())
}
