//! The native extension of the `resnext` Python package (`resnext._native`): the Rust SDK's
//! [`resnext::Classifier`] behind a Pythonic API. The pure-Python part of the package
//! (`bindings/python/python/resnext`) defines the exceptions and the dataclasses and re-exports
//! these classes.

mod classifier;
mod errors;
mod images;
mod info;
mod options;
mod results;

use errors::{guard, IntoPyResult};
use pyo3::prelude::*;

/// Panics inside the boundary, with the GIL held or (``released=True``) inside the released
/// section as a real call's work does, so tests check that a panic becomes
/// ``resnext.InternalError`` (code ``PANIC``) and the interpreter carries on. Not API.
#[pyfunction]
#[pyo3(signature = (message, released=false))]
fn _panic_for_test(py: Python<'_>, message: &str, released: bool) -> PyResult<()> {
    guard(py, || {
        if released {
            py.detach(|| {
                resnext::error::catch_panic(|| -> resnext::Result<()> { panic!("{message}") })
            })
            .py_err(py)
        } else {
            panic!("{message}")
        }
    })
}

/// The `resnext._native` module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<classifier::Classifier>()?;
    m.add_class::<images::Yuv420>()?;
    m.add_class::<results::Prediction>()?;
    m.add_class::<results::Timings>()?;
    m.add_class::<results::Classification>()?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add("__version__", resnext::VERSION)?;
    m.add("DEFAULT_MAX_PIXELS", resnext::preprocess::decode::DEFAULT_MAX_PIXELS)?;
    m.add("DEFAULT_MAX_MODEL_BYTES", resnext::options::DEFAULT_MAX_MODEL_BYTES)?;
    Ok(())
}
