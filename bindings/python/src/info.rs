//! `ModelInfo`, `TensorInfo` and `PreprocessConfig`: the SDK's descriptions as the frozen
//! dataclasses of `resnext/_types.py`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;
use resnext::{Dim, TensorInfo};

fn tensor_info<'py>(types: &Bound<'py, PyModule>, t: &TensorInfo) -> PyResult<Bound<'py, PyAny>> {
    let py = types.py();
    let shape: Vec<Bound<'py, PyAny>> = t
        .shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.into_bound_py_any(py),
            Dim::Symbolic(s) => s.into_bound_py_any(py),
        })
        .collect::<PyResult<_>>()?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("name", &t.name)?;
    kwargs.set_item("shape", PyTuple::new(py, shape)?)?;
    kwargs.set_item("dtype", t.dtype.to_string())?;
    types.getattr("TensorInfo")?.call((), Some(&kwargs))
}

/// The classifier's `ModelInfo` and `PreprocessConfig`.
pub fn model_info(
    py: Python<'_>,
    classifier: &resnext::Classifier,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let types = py.import("resnext._types")?;
    let info = classifier.info();
    let kwargs = PyDict::new(py);
    kwargs.set_item("input", tensor_info(&types, &info.input)?)?;
    kwargs.set_item("output", tensor_info(&types, &info.output)?)?;
    kwargs.set_item("height", info.height)?;
    kwargs.set_item("width", info.width)?;
    kwargs.set_item("classes", info.classes)?;
    kwargs.set_item("precision", info.precision.name())?;
    kwargs.set_item("output_kind", info.output_kind.name())?;
    kwargs.set_item("parameters", info.parameters)?;
    kwargs.set_item("model_bytes", info.model_bytes)?;
    kwargs.set_item("producer", &info.producer)?;
    kwargs.set_item("backend", &info.backend)?;
    kwargs.set_item("provider", &info.provider)?;
    kwargs.set_item("compute", &info.compute)?;
    kwargs.set_item("threads", info.threads)?;
    let model_info = types.getattr("ModelInfo")?.call((), Some(&kwargs))?.unbind();
    let p = classifier.preprocess_config();
    let kwargs = PyDict::new(py);
    kwargs.set_item("resize_short", p.resize_short)?;
    kwargs.set_item("crop", p.crop)?;
    kwargs.set_item("mean", PyTuple::new(py, p.mean)?)?;
    kwargs.set_item("std", PyTuple::new(py, p.std)?)?;
    let config = types.getattr("PreprocessConfig")?.call((), Some(&kwargs))?.unbind();
    Ok((model_info, config))
}
