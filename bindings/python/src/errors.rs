//! The panic boundary and the mapping of the SDK's errors to the Python exceptions defined in
//! `resnext/_errors.py` (one class per family of stable [`ErrorCode`]s, each carrying `.code`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use resnext::{Error, ErrorCode};

/// `resnext._errors._from_code`, looked up once.
static FROM_CODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for an SDK error: `resnext.Error`'s subclass for the code's family,
/// with `.code` and `.detail` set.
pub fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let from_code = FROM_CODE.get_or_try_init(py, || {
            py.import("resnext._errors")?.getattr("_from_code").map(Bound::unbind)
        })?;
        let exception =
            from_code.bind(py).call1((error.code() as u32, error.message(), error.to_string()))?;
        Ok(PyErr::from_value(exception))
    };
    // The exception module ships in the same wheel; should it be missing, the error still
    // surfaces, as a RuntimeError with the code's name.
    build().unwrap_or_else(|e| {
        PyRuntimeError::new_err(format!("[{}] {error} (resnext._errors: {e})", error.code().name()))
    })
}

/// An SDK error with `code` and `message`, as a Python exception.
pub fn sdk_error(py: Python<'_>, code: ErrorCode, message: impl Into<String>) -> PyErr {
    to_py(py, &Error::new(code, message))
}

/// An [`ErrorCode::InvalidArgument`] error (`resnext.InvalidArgument`, a `ValueError`).
pub fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    sdk_error(py, ErrorCode::InvalidArgument, message)
}

/// Converts an SDK result to a Python one.
pub trait IntoPyResult<T> {
    /// The value, or the error as a `resnext.Error`.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for resnext::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}

/// Runs the body of an exported function, turning a panic into `resnext.InternalError` (code
/// `PANIC`) instead of PyO3's `PanicException`, which derives from `BaseException` and is not
/// meant to be caught.
pub fn guard<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => Err(to_py(py, &Error::from_panic(payload.as_ref()))),
    }
}
