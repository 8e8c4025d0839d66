//! `fraudcore.Engine`: configuration, scoring and number lookups.

use super::*;

/// Scores calls (`fraudcore.Engine`) with a policy and its lists. Thread-safe.
#[pyclass(frozen, subclass, module = "fraudcore._fraudcore", name = "Engine")]
pub(super) struct PyEngine {
    pub(super) inner: Arc<CoreEngine>,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (policy=None, *, plan=None))]
    fn new(
        py: Python<'_>,
        policy: Option<&Bound<'_, PyAny>>,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<Self> {
        Ok(PyEngine {
            inner: Arc::new(CoreEngine::new(policy_arg(py, policy, plan)?)),
        })
    }

    /// Swaps in another policy (a `Policy` or a path) atomically; calls being scored finish
    /// with the old one. Lists whose declaration and file did not change keep their contents.
    #[pyo3(signature = (policy, *, plan=None))]
    fn reload(
        &self,
        py: Python<'_>,
        policy: &Bound<'_, PyAny>,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<()> {
        let policy = policy_arg(py, Some(policy), plan)?;
        self.inner.reload(policy);
        Ok(())
    }

    /// The policy in use.
    #[getter]
    fn policy(&self) -> PyPolicy {
        PyPolicy {
            inner: self.inner.policy(),
        }
    }

    /// Scores one call: a dict or Mapping with the call fields, or a `fraudcore.Call`.
    fn score(&self, py: Python<'_>, call: &Bound<'_, PyAny>) -> PyResult<PyVerdict> {
        let inner = if let Ok(c) = call.cast::<PyCall>() {
            self.inner.score(&c.get().as_call())
        } else if call.is_instance_of::<PyDict>() || call.hasattr(intern!(py, "keys"))? {
            score_mapping(py, &self.inner, call)?
        } else {
            return Err(type_error(
                py,
                "call",
                "a dict, a Mapping or fraudcore.Call",
                call,
            ));
        };
        Ok(PyVerdict { inner })
    }

    /// E.164 form of a raw number read on `ingress`, or None if it is not a number.
    #[pyo3(signature = (raw, ingress="national"))]
    fn normalize(
        &self,
        py: Python<'_>,
        raw: &Bound<'_, PyAny>,
        ingress: &str,
    ) -> PyResult<Option<String>> {
        let raw = text(py, "raw", Some(raw))?;
        let ingress = ingress_arg(py, ingress)?;
        Ok(self
            .inner
            .normalize(&raw, ingress)
            .ok()
            .map(|n| n.to_e164()))
    }

    /// Classifies a number in international form (`+` and country code first).
    fn classify(&self, py: Python<'_>, number: &Bound<'_, PyAny>) -> PyResult<PyNumberInfo> {
        let raw = text(py, "number", Some(number))?;
        let info = self.inner.lookup(&raw, Ingress::International);
        Ok(PyNumberInfo {
            info,
            policy: self.inner.policy(),
        })
    }

    /// Normalises a raw number read on `ingress` and classifies it.
    #[pyo3(signature = (raw, ingress="national"))]
    fn lookup(
        &self,
        py: Python<'_>,
        raw: &Bound<'_, PyAny>,
        ingress: &str,
    ) -> PyResult<PyNumberInfo> {
        let raw = text(py, "raw", Some(raw))?;
        let ingress = ingress_arg(py, ingress)?;
        let policy = self.inner.policy();
        Ok(PyNumberInfo {
            info: policy.lookup(&raw, ingress),
            policy,
        })
    }

    /// Whether a dialled number is a home emergency number.
    fn is_emergency(&self, py: Python<'_>, callee: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.is_emergency(&text(py, "callee", Some(callee))?))
    }

    /// Replaces the contents of the list the policy declares under `list.name`, atomically.
    /// Its kind must match the declaration.
    fn set_list(&self, py: Python<'_>, list: &Bound<'_, PyNumberList>) -> PyResult<()> {
        self.inner
            .set_list(list.get().inner.clone())
            .map_err(|e| to_py_err(py, e))
    }

    /// Empties a declared list; returns whether it held numbers.
    fn clear_list(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        self.inner.clear_list(name).map_err(|e| to_py_err(py, e))
    }

    /// The lists in use.
    #[getter]
    fn lists(&self) -> Vec<PyNumberList> {
        self.inner
            .lists()
            .iter()
            .map(|l| PyNumberList {
                inner: l.clone(),
                report: None,
            })
            .collect()
    }

    /// The home region's ISO code.
    #[getter]
    fn home_region(&self) -> String {
        self.inner.policy().dial_plan().region().to_string()
    }

    /// The numbering plan in use.
    #[getter]
    fn plan(&self) -> PyPlan {
        PyPlan {
            inner: self.inner.policy().plan().clone(),
        }
    }

    fn __repr__(&self) -> String {
        let p = self.inner.policy();
        format!(
            "Engine(policy={:?}, home_region={:?}, mode={:?}, rules={}, lists={}, plan={:?})",
            p.source_name(),
            p.home_region(),
            p.mode().as_str(),
            p.rules().len(),
            p.lists().len(),
            p.plan().source()
        )
    }
}
