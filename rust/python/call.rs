//! `fraudcore.Call`: a call validated once, scored without conversion.

use super::*;

/// One call, validated at construction (`fraudcore.Call`).
#[pyclass(frozen, module = "fraudcore._fraudcore", name = "Call")]
pub(super) struct PyCall {
    pub(super) timestamp: Option<f64>,
    pub(super) caller: String,
    pub(super) callee: String,
    pub(super) ingress: Ingress,
    pub(super) roaming: Option<bool>,
    pub(super) attestation: Option<Attestation>,
    pub(super) duration: Option<f64>,
    pub(super) trunk: String,
    pub(super) network_number: Option<String>,
}

impl PyCall {
    pub(super) fn as_call(&self) -> Call<'_> {
        Call {
            timestamp: self.timestamp,
            caller: &self.caller,
            callee: &self.callee,
            ingress: self.ingress,
            roaming: self.roaming,
            attestation: self.attestation,
            duration: self.duration,
            trunk: &self.trunk,
            network_number: self.network_number.as_deref(),
        }
    }
}

#[pymethods]
impl PyCall {
    #[new]
    #[pyo3(signature = (caller, callee, ingress, *, timestamp=None, roaming=None, attestation=None, duration=None, trunk=None, network_number=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        caller: &Bound<'_, PyAny>,
        callee: &Bound<'_, PyAny>,
        ingress: &Bound<'_, PyAny>,
        timestamp: Option<&Bound<'_, PyAny>>,
        roaming: Option<&Bound<'_, PyAny>>,
        attestation: Option<&Bound<'_, PyAny>>,
        duration: Option<&Bound<'_, PyAny>>,
        trunk: Option<&Bound<'_, PyAny>>,
        network_number: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let network = text(py, "network_number", network_number)?.into_owned();
        Ok(PyCall {
            timestamp: seconds(py, "timestamp", timestamp, false)?,
            caller: text(py, "caller", Some(caller))?.into_owned(),
            callee: text(py, "callee", Some(callee))?.into_owned(),
            ingress: self::ingress(py, Some(ingress))?,
            roaming: self::roaming(py, roaming)?,
            attestation: self::attestation(py, attestation)?,
            duration: seconds(py, "duration", duration, true)?,
            trunk: text(py, "trunk", trunk)?.into_owned(),
            network_number: (!network.is_empty()).then_some(network),
        })
    }

    /// Unix seconds, or None.
    #[getter]
    fn timestamp(&self) -> Option<f64> {
        self.timestamp
    }
    /// The presented CLI, raw.
    #[getter]
    fn caller(&self) -> &str {
        &self.caller
    }
    /// The dialled number, raw.
    #[getter]
    fn callee(&self) -> &str {
        &self.callee
    }
    /// `"international"`, `"national"` or `"onnet"`.
    #[getter]
    fn ingress(&self) -> &'static str {
        self.ingress.as_str()
    }
    /// True, False or None (unknown).
    #[getter]
    fn roaming(&self) -> Option<bool> {
        self.roaming
    }
    /// `"A"`, `"B"`, `"C"` or None.
    #[getter]
    fn attestation(&self) -> Option<&'static str> {
        self.attestation.map(Attestation::as_str)
    }
    /// Seconds, or None before the call ends.
    #[getter]
    fn duration(&self) -> Option<f64> {
        self.duration
    }
    /// Trunk, free text.
    #[getter]
    fn trunk(&self) -> &str {
        &self.trunk
    }
    /// The network-asserted identity, or None.
    #[getter]
    fn network_number(&self) -> Option<&str> {
        self.network_number.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "Call(caller={:?}, callee={:?}, ingress={:?}, roaming={:?}, attestation={:?})",
            self.caller,
            self.callee,
            self.ingress.as_str(),
            self.roaming,
            self.attestation.map(Attestation::as_str)
        )
    }
}
