//! Pausing Python's cyclic garbage collector while a batch creates its results.
//!
//! Every `Verdict` is a GC-tracked object (PyO3 makes each class one), so creating a
//! million of them for `score_many` set off thousands of young-generation collections and
//! full ones over the whole heap: in one run, more time than the scoring itself. The
//! verdicts hold no Python references, so no cycle can form through them; the collector runs
//! again as soon as the list is built (and sees every object then).

use pyo3::prelude::*;

/// Results at least this many are created with the collector paused; fewer set off at most a
/// young-generation collection or two (its threshold is 700 objects by default before Python
/// 3.13, 2000 from it).
pub(super) const GC_PAUSE_MIN: usize = 1024;

/// While alive, the collector is disabled; dropping it enables the collector again if this
/// guard disabled it (a collector the caller had disabled stays disabled).
pub(super) struct GcPaused<'py> {
    disabled: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPaused<'py> {
    /// Disables the collector if it is enabled.
    pub(super) fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        let enabled = gc.call_method0("isenabled")?.is_truthy()?;
        if enabled {
            gc.call_method0("disable")?;
        }
        Ok(GcPaused {
            disabled: enabled.then_some(gc),
        })
    }
}

impl Drop for GcPaused<'_> {
    fn drop(&mut self) {
        if let Some(gc) = self.disabled.take() {
            if let Err(e) = gc.call_method0("enable") {
                e.write_unraisable(gc.py(), None);
            }
        }
    }
}
