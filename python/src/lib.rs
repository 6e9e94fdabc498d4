//! The native half of Pinion's Python package (`pinion._native`): a Pinion node and its
//! publishers and subscribers, driven from Python. Topic messages go from Python objects
//! to postcard bytes and back directly by the schema Python's `@pinion.message` classes
//! describe (`codec`); service requests and parameters cross as JSON text in
//! `pinion::json`'s form, which the Python half (`python/pinion/`) turns into dataclasses.

mod codec;
mod node;
mod schema;

use pyo3::prelude::*;

pyo3::create_exception!(
    _native,
    PinionError,
    pyo3::exceptions::PyException,
    "Something Pinion could not do: the message says what and where."
);

/// Raises [`PinionError`] with `e`'s text.
pub(crate) fn error(e: impl std::fmt::Display) -> PyErr {
    PinionError::new_err(e.to_string())
}

/// Hands one Python log record to the node's log (stderr, `pinion logs`, `/pinion/log`).
#[pyfunction]
fn log(level: &str, logger: &str, message: &str) {
    match level {
        "error" => tracing::error!(logger, "{message}"),
        "warn" => tracing::warn!(logger, "{message}"),
        "info" => tracing::info!(logger, "{message}"),
        "debug" => tracing::debug!(logger, "{message}"),
        _ => tracing::trace!(logger, "{message}"),
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // As `#[pinion::main]` does: RUST_LOG, stderr, and the capture for `pinion logs`.
    pinion::runtime::init_node_logging();
    m.add_function(wrap_pyfunction!(log, m)?)?;
    m.add("PinionError", m.py().get_type::<PinionError>())?;
    m.add_class::<node::Node>()?;
    m.add_class::<node::Publisher>()?;
    m.add_class::<node::Subscriber>()?;
    m.add_class::<node::Service>()?;
    m.add_class::<node::Client>()?;
    m.add_class::<node::ParamWatch>()?;
    m.add_function(wrap_pyfunction!(schema::schema_hash, m)?)?;
    m.add_function(wrap_pyfunction!(schema::standard_messages, m)?)?;
    Ok(())
}
