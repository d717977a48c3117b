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

use pyo3::prelude::*;

/// The `resnext._native` module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<classifier::Classifier>()?;
    m.add_class::<results::Prediction>()?;
    m.add_class::<results::Timings>()?;
    m.add_class::<results::Classification>()?;
    m.add("__version__", resnext::VERSION)?;
    m.add("DEFAULT_MAX_PIXELS", resnext::preprocess::decode::DEFAULT_MAX_PIXELS)?;
    m.add("DEFAULT_MAX_MODEL_BYTES", resnext::options::DEFAULT_MAX_MODEL_BYTES)?;
    Ok(())
}
