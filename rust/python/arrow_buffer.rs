//! Arrow buffers read in place. `fraudcore._table` hands over a column's buffers as the
//! `pyarrow.Buffer` objects themselves, not as copies in `bytes`: copying the text columns of
//! a million-row table took 40–90 ns a row, as long as scoring the row on one of two threads.

use pyo3::buffer::{PyBuffer, PyUntypedBuffer};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

/// The bytes of one buffer: a `bytes` object, or a `pyarrow.Buffer` held through the buffer
/// protocol, both in place; anything else copied.
pub(super) enum ColumnBuffer {
    /// A `bytes` object.
    Bytes(PyBackedBytes),
    /// A `pyarrow.Buffer`: C-contiguous bytes (its format is `b`, signed bytes).
    Arrow(PyUntypedBuffer),
    /// A copy, of any other object with the buffer protocol.
    Copied(Vec<u8>),
}

impl ColumnBuffer {
    /// The buffer of `obj`: a `bytes`, a `pyarrow.Buffer`, or anything with the buffer
    /// protocol (copied).
    pub(super) fn get(obj: &Bound<'_, PyAny>) -> PyResult<ColumnBuffer> {
        if let Ok(bytes) = obj.extract::<PyBackedBytes>() {
            return Ok(ColumnBuffer::Bytes(bytes));
        }
        if obj.get_type().fully_qualified_name()?.to_cow()? == "pyarrow.lib.Buffer" {
            let view = PyUntypedBuffer::get(obj)?;
            if view.is_c_contiguous() && view.item_size() == 1 {
                return Ok(ColumnBuffer::Arrow(view));
            }
        }
        Ok(ColumnBuffer::Copied(
            PyBuffer::<u8>::get(obj)?.to_vec(obj.py())?,
        ))
    }
}

impl AsRef<[u8]> for ColumnBuffer {
    fn as_ref(&self) -> &[u8] {
        match self {
            ColumnBuffer::Bytes(b) => b,
            ColumnBuffer::Copied(v) => v,
            ColumnBuffer::Arrow(view) => {
                let len = view.len_bytes();
                if len == 0 {
                    return &[];
                }
                #[allow(unsafe_code)]
                // SAFETY: `view` holds a buffer-protocol view of a `pyarrow.Buffer`, which keeps
                // its memory alive and in place until the view is released (when `view` drops,
                // after the last borrow of this slice). The view is C-contiguous, of `len`
                // bytes from a non-null pointer. Arrow buffers are immutable once an array
                // holds them (the Arrow columnar format's rule, which pyarrow keeps): nothing
                // writes them while this slice is read, on any thread.
                unsafe {
                    std::slice::from_raw_parts(view.buf_ptr().cast::<u8>(), len)
                }
            }
        }
    }
}
