//! `fraudcore.Engine`: configuration, scoring and number lookups.

use super::*;

pub(super) fn read_overlay(path: &std::path::Path) -> crate::Result<Overlay> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Overlay::parse(&text, &path.display().to_string())
}

/// Scores calls (`fraudcore.Engine`). Immutable and thread-safe.
#[pyclass(frozen, subclass, module = "fraudcore._fraudcore", name = "Engine")]
pub(super) struct PyEngine {
    pub(super) inner: Arc<CoreEngine>,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (home_region="KZ", *, international_prefixes=Vec::new(), emergency_numbers=Vec::new(), overlay=None, flag_threshold=0.5, block_threshold=0.9, plan=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        home_region: &str,
        international_prefixes: Vec<String>,
        emergency_numbers: Vec<String>,
        overlay: Option<PathBuf>,
        flag_threshold: f64,
        block_threshold: f64,
        plan: Option<&Bound<'_, PyPlan>>,
    ) -> PyResult<Self> {
        let plan = match plan {
            Some(p) => p.get().inner.clone(),
            None => load_default_plan(py)?,
        };
        let config = EngineConfig {
            home_region: home_region.to_owned(),
            international_prefixes,
            emergency_numbers,
            flag_threshold,
            block_threshold,
        };
        let overlay = match overlay {
            Some(path) => read_overlay(&path).map_err(|e| to_py_err(py, e))?,
            None => Overlay::empty(),
        };
        let engine =
            CoreEngine::with_overlay(plan, config, overlay).map_err(|e| to_py_err(py, e))?;
        Ok(PyEngine {
            inner: Arc::new(engine),
        })
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
        Ok(PyVerdict {
            inner,
            engine: self.inner.clone(),
        })
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
            engine: self.inner.clone(),
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
        Ok(PyNumberInfo {
            info: self.inner.lookup(&raw, ingress),
            engine: self.inner.clone(),
        })
    }

    /// Whether a dialled number is a home emergency number.
    fn is_emergency(&self, py: Python<'_>, callee: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.is_emergency(&text(py, "callee", Some(callee))?))
    }

    /// Adds a list, or atomically replaces the list of the same name.
    fn set_list(&self, list: &Bound<'_, PyNumberList>) {
        self.inner.set_list(list.get().inner.clone());
    }

    /// Removes a list by name; returns whether one was there.
    fn remove_list(&self, name: &str) -> bool {
        self.inner.remove_list(name)
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
        self.inner.dial_plan().region().to_string()
    }

    /// The numbering plan in use.
    #[getter]
    fn plan(&self) -> PyPlan {
        PyPlan {
            inner: self.inner.plan_arc(),
        }
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "Engine(home_region={:?}, international_prefixes={:?}, overlay_prefixes={}, plan={:?})",
            c.home_region,
            c.international_prefixes,
            self.inner.overlay().len(),
            self.inner.plan().source()
        )
    }
}
