//! The live bridge: a Foxglove WebSocket server (the Foxglove SDK's) in front of a
//! Pinion node. Every topic of the graph is a channel; a channel is subscribed to in
//! the graph while at least one client wants it; what clients publish goes to the
//! topic after it is checked against the topic's schema.

mod events;
mod params;
mod services;
mod state;

use events::{Event, Listener, Params};
use foxglove::websocket::Capability;
use foxglove::{Context, WebSocketServer};
use pinion::Node;
use state::State;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The WebSocket server could not start (the address is taken, say).
    #[error("the Foxglove WebSocket server cannot listen on {listen}: {source}")]
    Listen {
        /// The address asked for.
        listen: String,
        /// The SDK's error.
        #[source]
        source: foxglove::FoxgloveError,
    },
    /// The master could not be reached for the graph.
    #[error("cannot read the graph from the master at {master}: {source}")]
    Master {
        /// The master's endpoint.
        master: String,
        /// What went wrong.
        #[source]
        source: pinion::Error,
    },
}

/// How the bridge runs.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// Host to listen on (`0.0.0.0` for every interface).
    pub host: String,
    /// Port to listen on (0 for any free one).
    pub port: u16,
    /// The master, for the graph (`PINION_MASTER`).
    pub master: String,
    /// The robot's key, if it has one.
    pub key: Option<pinion::auth::Key>,
    /// Messages queued per client before the oldest are dropped. With the largest
    /// message of the graph this bounds what one slow client costs the bridge.
    pub backlog: usize,
    /// How often the graph is read for new topics.
    pub discovery_period: Duration,
}

impl BridgeOptions {
    /// Listening on `host:port`, the master and key from the environment.
    pub fn new(host: &str, port: u16) -> Result<Self, pinion::auth::KeyError> {
        Ok(Self {
            host: host.to_owned(),
            port,
            master: std::env::var("PINION_MASTER")
                .unwrap_or_else(|_| pinion::host::DEFAULT_MASTER.to_owned()),
            key: pinion::auth::key_from_env()?,
            backlog: 16,
            discovery_period: Duration::from_millis(500),
        })
    }
}

/// A running bridge.
#[derive(Debug)]
pub struct Bridge {
    port: u16,
    state: State,
    events: mpsc::Receiver<Event>,
    discovery_period: Duration,
}

/// Events from clients waiting for the bridge at the most; past that a client's
/// requests are refused with a status (a client cannot make the bridge buffer more).
const EVENT_QUEUE: usize = 4096;

impl Bridge {
    /// Starts the server and reads the graph once.
    pub async fn start(node: Node, options: BridgeOptions) -> Result<Self, BridgeError> {
        let context = Context::new();
        let (sender, events) = mpsc::channel(EVENT_QUEUE);
        let listener = Arc::new(Listener::new(sender));
        let server = WebSocketServer::new()
            .name(format!("pinion {}", node.name()))
            .context(&context)
            .bind(options.host.clone(), options.port)
            .capabilities([
                Capability::ClientPublish,
                Capability::Services,
                Capability::Parameters,
            ])
            .supported_encodings(["json"])
            .message_backlog_size(options.backlog)
            .listener(listener.clone())
            .parameter_handler(Arc::new(Params(listener)))
            .start()
            .await
            .map_err(|source| BridgeError::Listen {
                listen: format!("{}:{}", options.host, options.port),
                source,
            })?;
        let port = server.port();
        let mut state =
            State::new(node, context, server, &options).map_err(|source| BridgeError::Master {
                master: options.master.clone(),
                source,
            })?;
        state
            .discover()
            .await
            .map_err(|source| BridgeError::Master {
                master: options.master.clone(),
                source,
            })?;
        Ok(Self {
            port,
            state,
            events,
            discovery_period: options.discovery_period,
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the node shuts down.
    pub async fn run(mut self) {
        let mut discovery = tokio::time::interval(self.discovery_period);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let node = self.state.node().clone();
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.state.handle(event).await,
                    None => break,
                },
                _ = discovery.tick() => {
                    if let Err(e) = self.state.discover().await {
                        tracing::warn!(error = %e, "cannot read the graph from the master; keeping the topics known so far");
                    }
                }
                _ = node.spin() => break,
            }
        }
        self.state.close();
    }
}
