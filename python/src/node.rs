//! A node, its publishers and subscribers. Every call that waits (registering,
//! publishing, receiving) releases the GIL, and a wait is cut into short slices so
//! that Ctrl-C reaches Python.

use crate::codec::{self, Plan};
use crate::error;
use crate::schema::type_info;
use pinion::message::TypeInfo;
use pinion::publisher::{AdvertiseOptions, RawPublisher};
use pinion::subscriber::RawSubscriber;
use pinion::{NodeOptions, SubscribeOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The longest a wait goes without looking for a signal (Ctrl-C) in Python.
const SLICE: Duration = Duration::from_millis(100);

/// A Pinion node: registered at the master (`PINION_MASTER`), like a Rust node.
#[pyclass(module = "pinion._native", frozen)]
#[derive(Debug)]
pub struct Node {
    runtime: Arc<Runtime>,
    node: pinion::Node,
}

#[pymethods]
impl Node {
    /// Registers node `name` (`PINION_NODE_NAME` renames it, as a launcher does).
    #[new]
    fn new(py: Python<'_>, name: &str) -> PyResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pinion")
            .enable_all()
            .build()
            .map_err(error)?;
        let options = NodeOptions::from_env(name);
        let node = py
            .detach(|| runtime.block_on(pinion::Node::init(options)))
            .map_err(error)?;
        Ok(Self {
            runtime: Arc::new(runtime),
            node,
        })
    }

    /// The node's name, as registered.
    #[getter]
    fn name(&self) -> String {
        self.node.name().to_string()
    }

    /// Starts publishing on `topic` messages of type `type_name`, described by
    /// `description` (JSON text, see `pinion._native` schema docs); `classes` names the
    /// message's classes (type name to class) that values must be instances of.
    /// Reliable: `publish` waits for room at every subscriber that keeps up.
    #[pyo3(signature = (topic, type_name, description, classes=None, reliable=false))]
    fn advertise(
        &self,
        py: Python<'_>,
        topic: &str,
        type_name: &str,
        description: &str,
        classes: Option<&Bound<'_, PyDict>>,
        reliable: bool,
    ) -> PyResult<Publisher> {
        let info = type_info(type_name, description).map_err(error)?;
        let plan = Plan::new(py, &info.schema, classes)?;
        let publisher = py
            .detach(|| {
                let options = if reliable {
                    AdvertiseOptions::reliable()
                } else {
                    AdvertiseOptions::default()
                };
                self.runtime
                    .block_on(self.node.advertise_raw(topic, info.clone(), options))
            })
            .map_err(error)?;
        Ok(Publisher {
            runtime: self.runtime.clone(),
            publisher: Arc::new(publisher),
            info,
            plan,
        })
    }

    /// Starts receiving `topic`, keeping up to `queue` unread messages (the newest),
    /// each built of `classes` (type name to class; dicts where a type has none).
    /// Reliable: a full queue holds reliable publishers back instead of dropping.
    #[pyo3(signature = (topic, type_name, description, queue, classes=None, reliable=false))]
    #[allow(clippy::too_many_arguments)]
    fn subscribe(
        &self,
        py: Python<'_>,
        topic: &str,
        type_name: &str,
        description: &str,
        queue: usize,
        classes: Option<&Bound<'_, PyDict>>,
        reliable: bool,
    ) -> PyResult<Subscriber> {
        let info = type_info(type_name, description).map_err(error)?;
        let mut options = SubscribeOptions::queue(queue.max(1));
        if reliable {
            options = options.reliable();
        }
        self.subscriber(py, topic, info, options, classes)
    }

    /// Serves service `name`: `handler` takes a request as JSON text and returns the
    /// response as JSON text; what it raises reaches the caller as the error.
    #[allow(clippy::too_many_arguments)]
    fn serve(
        &self,
        py: Python<'_>,
        name: &str,
        request_type: &str,
        request_description: &str,
        response_type: &str,
        response_description: &str,
        handler: Py<PyAny>,
    ) -> PyResult<Service> {
        let request = type_info(request_type, request_description).map_err(error)?;
        let response = type_info(response_type, response_description).map_err(error)?;
        let handler = Arc::new(handler);
        let (req, resp) = (request.clone(), response.clone());
        let raw = move |payload: Vec<u8>| {
            let (handler, req, resp) = (handler.clone(), req.clone(), resp.clone());
            async move {
                let value = pinion::json::decode(&req, &payload).map_err(|e| e.to_string())?;
                let answer = tokio::task::spawn_blocking(move || {
                    Python::attach(|py| -> Result<String, String> {
                        let out = handler
                            .call1(py, (value.to_string(),))
                            .map_err(|e| e.to_string())?;
                        out.extract::<String>(py).map_err(|e| e.to_string())
                    })
                })
                .await
                .map_err(|e| format!("the handler did not finish: {e}"))??;
                let value: serde_json::Value =
                    serde_json::from_str(&answer).map_err(|e| e.to_string())?;
                pinion::json::encode(&resp, &value).map_err(|e| e.to_string())
            }
        };
        let server = py
            .detach(|| {
                self.runtime
                    .block_on(self.node.serve_raw(name, request, response, raw))
            })
            .map_err(error)?;
        Ok(Service {
            _server: Mutex::new(Some(server)),
        })
    }

    /// A client of service `name` (looked up at its first call).
    fn client(
        &self,
        name: &str,
        request_type: &str,
        request_description: &str,
        response_type: &str,
        response_description: &str,
    ) -> PyResult<Client> {
        let request = type_info(request_type, request_description).map_err(error)?;
        let response = type_info(response_type, response_description).map_err(error)?;
        let client = self
            .node
            .client_raw(name, request.clone(), response.clone())
            .map_err(error)?;
        Ok(Client {
            runtime: self.runtime.clone(),
            client,
            request,
            response,
        })
    }

    /// The value of parameter `key` as JSON text (`None` if unset): the node's own
    /// (`rate` is `<node>/rate`), or global with a leading `/`.
    fn param_json(&self, py: Python<'_>, key: &str) -> PyResult<Option<String>> {
        let value = py
            .detach(|| {
                self.runtime
                    .block_on(self.node.param::<serde_json::Value>(key))
            })
            .map_err(error)?;
        Ok(value.map(|v| v.to_string()))
    }

    /// Watches parameter `key`: its value now, and each change.
    fn watch_param(&self, py: Python<'_>, key: &str) -> PyResult<ParamWatch> {
        let watch = py
            .detach(|| {
                self.runtime
                    .block_on(self.node.watch_param::<serde_json::Value>(key))
            })
            .map_err(error)?;
        Ok(ParamWatch {
            runtime: self.runtime.clone(),
            watch: Mutex::new(watch),
        })
    }

    /// Subscribes to `topic` with the type the master holds for it (no class needed):
    /// messages arrive as dicts (structs), lists, variant names and plain values.
    #[pyo3(signature = (topic, queue, reliable=false))]
    fn subscribe_any(
        &self,
        py: Python<'_>,
        topic: &str,
        queue: usize,
        reliable: bool,
    ) -> PyResult<Subscriber> {
        let link = master_link()?;
        let topics = py
            .detach(|| {
                self.runtime
                    .block_on(link.ask(pinion::protocol::node_to_master::ListTopics))
            })
            .map_err(error)?;
        let name = pinion::TopicName::new(topic).map_err(error)?;
        let info = topics
            .into_iter()
            .find(|t| t.name == name)
            .map(|t| t.type_info)
            .ok_or_else(|| {
                error(format!(
                    "topic `{topic}` is unknown to the master: no node publishes or subscribes it yet"
                ))
            })?;
        let mut options = SubscribeOptions::queue(queue.max(1));
        if reliable {
            options = options.reliable();
        }
        self.subscriber(py, topic, info, options, None)
    }

    /// Sets parameter `key` (the node's own, or global with a leading `/`) to a value
    /// given as JSON text, at the master; watchers (in any language) are told.
    fn set_param_json(&self, py: Python<'_>, key: &str, value: &str) -> PyResult<()> {
        serde_json::from_str::<serde_json::Value>(value).map_err(error)?;
        let full = pinion::params::resolve_key(self.node.name().as_str(), key);
        let link = master_link()?;
        let request = pinion::protocol::node_to_master::SetParam {
            key: full,
            value_json: value.to_owned(),
        };
        py.detach(|| self.runtime.block_on(link.ask(request)))
            .map_err(error)
    }

    /// Whether the node runs (not asked to stop).
    fn is_ok(&self) -> bool {
        self.node.is_ok()
    }

    /// Asks the node to stop, saying why.
    fn shutdown(&self, reason: &str) {
        self.node.request_shutdown(reason);
    }

    /// Waits until the node is asked to stop, or `timeout` seconds pass; whether it was
    /// asked to stop.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            let stopped = py.detach(|| {
                self.runtime
                    .block_on(async { tokio::time::timeout(SLICE, self.node.spin()).await.is_ok() })
            });
            if stopped {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// Unregisters and closes the node (flushing what its publishers sent).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.runtime.block_on(self.node.close()));
    }
}

impl Node {
    /// A subscriber of `topic` with type `info`.
    fn subscriber(
        &self,
        py: Python<'_>,
        topic: &str,
        info: TypeInfo,
        options: SubscribeOptions,
        classes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Subscriber> {
        let plan = Plan::new(py, &info.schema, classes)?;
        let subscriber = py
            .detach(|| {
                self.runtime
                    .block_on(self.node.subscribe_raw(topic, info.clone(), options))
            })
            .map_err(error)?;
        Ok(Subscriber {
            runtime: self.runtime.clone(),
            subscriber: Mutex::new(subscriber),
            info,
            plan,
        })
    }
}

/// A link to the master of the environment, for what tools ask (topic types, setting
/// parameters).
fn master_link() -> PyResult<pinion::base::master_link::MasterLink> {
    pinion::base::master_link::MasterLink::from_env(Duration::from_secs(2)).map_err(error)
}

/// Sends messages on one topic.
#[pyclass(module = "pinion._native", frozen)]
#[derive(Debug)]
pub struct Publisher {
    runtime: Arc<Runtime>,
    publisher: Arc<RawPublisher>,
    info: TypeInfo,
    plan: Plan,
}

#[pymethods]
impl Publisher {
    /// Publishes one message (an instance of the message class, or a dict of its
    /// fields); one that does not fit the type is refused with the place that does
    /// not. The GIL is released while the message is sent.
    fn publish(&self, message: &Bound<'_, PyAny>) -> PyResult<u64> {
        let frames = codec::encode(&self.info.name, &self.plan, message)?;
        message
            .py()
            .detach(|| self.runtime.block_on(self.publisher.publish_frames(frames)))
            .map_err(error)
    }

    /// Subscribers whose connection is confirmed.
    fn subscriber_count(&self) -> usize {
        self.publisher.registered_subscribers()
    }

    /// Waits until `count` subscribers receive this publisher, at most `timeout` s.
    fn wait_for_subscribers(&self, py: Python<'_>, count: usize, timeout: f64) -> PyResult<bool> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        loop {
            let done = py.detach(|| {
                self.runtime.block_on(async {
                    tokio::time::timeout(SLICE, self.publisher.wait_for_subscribers(count))
                        .await
                        .is_ok_and(|r| r.is_ok())
                })
            });
            if done {
                return Ok(true);
            }
            py.check_signals()?;
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }
}

/// Receives messages of one topic.
#[pyclass(module = "pinion._native", frozen)]
#[derive(Debug)]
pub struct Subscriber {
    runtime: Arc<Runtime>,
    subscriber: Mutex<RawSubscriber>,
    info: TypeInfo,
    plan: Plan,
}

#[pymethods]
impl Subscriber {
    /// The name of the topic's type.
    #[getter]
    fn type_name(&self) -> String {
        self.info.name.clone()
    }

    /// The next message, waiting at most `timeout` seconds (for ever when `None`);
    /// `None` when the time is up or the node stops.
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            let slice = deadline
                .map(|d| d.saturating_duration_since(Instant::now()).min(SLICE))
                .unwrap_or(SLICE);
            let got = py.detach(|| {
                let mut subscriber = self.subscriber.lock().map_err(error)?;
                Ok::<_, PyErr>(self.runtime.block_on(async {
                    tokio::time::timeout(slice, subscriber.recv_frames()).await
                }))
            })?;
            match got {
                Ok(Some((frames, _))) => {
                    return codec::decode(py, &self.info.name, &self.plan, &frames).map(Some);
                }
                Ok(None) => return Ok(None),
                Err(_) => {}
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }
}

/// A served service; it is withdrawn when this is closed or dropped.
#[pyclass(module = "pinion._native", frozen)]
#[derive(Debug)]
pub struct Service {
    _server: Mutex<Option<pinion::service::ServiceServer>>,
}

#[pymethods]
impl Service {
    /// Stops serving.
    fn close(&self) {
        if let Ok(mut server) = self._server.lock() {
            server.take();
        }
    }
}

/// Calls one service.
#[pyclass(module = "pinion._native", frozen)]
#[derive(Debug)]
pub struct Client {
    runtime: Arc<Runtime>,
    client: pinion::service::RawServiceClient,
    request: TypeInfo,
    response: TypeInfo,
}

#[pymethods]
impl Client {
    /// Calls with a request as JSON text; the response as JSON text. Waits at most
    /// `timeout` seconds.
    fn call_json(&self, py: Python<'_>, request: &str, timeout: f64) -> PyResult<String> {
        let value: serde_json::Value = serde_json::from_str(request).map_err(error)?;
        let bytes = pinion::json::encode(&self.request, &value).map_err(error)?;
        let timeout = Duration::from_secs_f64(timeout.clamp(0.001, 3600.0));
        let answer = py
            .detach(|| self.runtime.block_on(self.client.call(bytes, timeout)))
            .map_err(error)?;
        pinion::json::decode(&self.response, &answer)
            .map(|v| v.to_string())
            .map_err(error)
    }
}

/// A watched parameter.
#[pyclass(module = "pinion._native", frozen)]
#[derive(Debug)]
pub struct ParamWatch {
    runtime: Arc<Runtime>,
    watch: Mutex<pinion::params::ParamWatch<serde_json::Value>>,
}

#[pymethods]
impl ParamWatch {
    /// The value now, as JSON text (`None` while unset).
    fn current_json(&self) -> PyResult<Option<String>> {
        let watch = self.watch.lock().map_err(error)?;
        Ok(watch.current().map_err(error)?.map(|v| v.to_string()))
    }

    /// Waits at most `timeout` seconds for the next change: `(True, value)` with the
    /// new value as JSON text (`None`: deleted), or `(False, None)` if none came.
    fn changed_json(&self, py: Python<'_>, timeout: f64) -> PyResult<(bool, Option<String>)> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        loop {
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(SLICE);
            let got = py.detach(|| {
                let mut watch = self.watch.lock().map_err(error)?;
                Ok::<_, PyErr>(
                    self.runtime
                        .block_on(async { tokio::time::timeout(slice, watch.changed()).await }),
                )
            })?;
            match got {
                Ok(Some(value)) => {
                    return Ok((true, value.map_err(error)?.map(|v| v.to_string())));
                }
                Ok(None) => return Ok((false, None)),
                Err(_) => {}
            }
            py.check_signals()?;
            if Instant::now() >= deadline {
                return Ok((false, None));
            }
        }
    }
}
