//! The bridge's view of the graph and of its clients, changed only by the bridge's
//! loop: topics as channels, who wants each, and what clients publish.

use super::events::Event;
use super::params::Params;
use super::services::Services;
use super::BridgeOptions;
use crate::Transcoder;
use foxglove::websocket::{Client, ClientChannel, ClientChannelId, ClientId, Status};
use foxglove::{ChannelBuilder, ChannelId, Context, RawChannel, Schema, WebSocketServerHandle};
use pinion::base::master_link::MasterLink;
use pinion::message::TypeInfo;
use pinion::protocol::node_to_master::{ListServices, ListTopics};
use pinion::publisher::{AdvertiseOptions, RawPublisher};
use pinion::subscriber::SubscribeOptions;
use pinion::Node;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Messages the bridge keeps per topic while it turns them into JSON: the newest win.
const TOPIC_QUEUE: usize = 8;

#[derive(Debug)]
pub struct State {
    node: Node,
    context: Arc<Context>,
    server: Option<WebSocketServerHandle>,
    services: Services,
    services_unsupported: bool,
    params: Params,
    master: MasterLink,
    topics: HashMap<String, Topic>,
    by_channel: HashMap<ChannelId, String>,
    incoming: HashMap<(ClientId, ClientChannelId), String>,
    publishers: HashMap<String, Outlet>,
}

/// A topic of the graph, advertised to clients as one channel.
#[derive(Debug)]
struct Topic {
    type_info: TypeInfo,
    channel: Arc<RawChannel>,
    transcoder: Arc<Transcoder>,
    clients: HashSet<ClientId>,
    forward: Option<JoinHandle<()>>,
}

/// Where the messages of clients on one topic go: one publisher, shared.
#[derive(Debug)]
struct Outlet {
    type_info: TypeInfo,
    publisher: RawPublisher,
    channels: usize,
}

impl State {
    pub fn new(
        node: Node,
        context: Arc<Context>,
        server: WebSocketServerHandle,
        options: &BridgeOptions,
    ) -> Result<Self, pinion::Error> {
        let master =
            MasterLink::with_timeout(&options.master, options.key.clone(), Duration::from_secs(2))?;
        Ok(Self {
            node,
            context,
            server: Some(server),
            services: Services::default(),
            services_unsupported: false,
            params: Params::default(),
            master,
            topics: HashMap::new(),
            by_channel: HashMap::new(),
            incoming: HashMap::new(),
            publishers: HashMap::new(),
        })
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Reads the topics from the master: new ones become channels, gone ones are
    /// withdrawn, one whose type changed is advertised again with its new schema.
    pub async fn discover(&mut self) -> Result<(), pinion::Error> {
        let topics = self.master.ask(ListTopics).await?;
        let mut seen = HashSet::new();
        for summary in topics {
            let name = summary.name.as_str().to_owned();
            seen.insert(name.clone());
            let known = self.topics.get(&name).map(|t| t.type_info.hash);
            if known == Some(summary.type_info.hash) {
                continue;
            }
            if known.is_some() {
                self.withdraw(&name);
            }
            self.advertise(name, summary.type_info);
        }
        let gone: Vec<String> = self
            .topics
            .keys()
            .filter(|t| !seen.contains(*t))
            .cloned()
            .collect();
        for name in gone {
            self.withdraw(&name);
        }
        let services = match self.master.ask(ListServices).await {
            Ok(services) => services,
            Err(pinion::Error::Master(e)) => {
                if !self.services_unsupported {
                    tracing::warn!(error = %e, "the master cannot list services (an older master?); Foxglove clients get topics and parameters only");
                    self.services_unsupported = true;
                }
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        if let Some(server) = &self.server {
            self.services.update(server, &self.node, &services);
            let changed = self.params.changes(&self.master).await?;
            if !changed.is_empty() {
                server.publish_parameter_values(changed);
            }
        }
        Ok(())
    }

    fn advertise(&mut self, name: String, type_info: TypeInfo) {
        let transcoder = Transcoder::new(&type_info);
        let schema = Schema::new(
            transcoder.schema_name(),
            "jsonschema",
            transcoder.schema().to_vec(),
        );
        let channel = match ChannelBuilder::new(name.clone())
            .message_encoding("json")
            .schema(schema)
            .add_metadata("pinion_type", &type_info.name)
            .context(&self.context)
            .build_raw()
        {
            Ok(channel) => channel,
            Err(e) => {
                tracing::warn!(topic = %name, error = %e, "cannot advertise the topic to Foxglove clients");
                return;
            }
        };
        tracing::info!(topic = %name, schema = transcoder.schema_name(), "advertised to Foxglove clients");
        self.by_channel.insert(channel.id(), name.clone());
        self.topics.insert(
            name,
            Topic {
                type_info,
                channel,
                transcoder: Arc::new(transcoder),
                clients: HashSet::new(),
                forward: None,
            },
        );
    }

    fn withdraw(&mut self, name: &str) {
        if let Some(topic) = self.topics.remove(name) {
            if let Some(task) = topic.forward {
                task.abort();
            }
            self.by_channel.remove(&topic.channel.id());
            topic.channel.close();
        }
    }

    pub async fn handle(&mut self, event: Event) {
        match event {
            Event::Subscribe(client, channel) => self.subscribe(client.id(), channel),
            Event::Unsubscribe(client, channel) => self.unsubscribe(client.id(), channel),
            Event::Advertise(client, channel) => self.client_advertise(&client, channel).await,
            Event::Unadvertise(client, channel) => self.client_unadvertise(client.id(), channel),
            Event::Data(client, channel, payload) => {
                self.client_publish(&client, channel, &payload).await
            }
            Event::GetParams(names, responder) => match Params::get(&self.master, &names).await {
                Ok(values) => responder.respond(values),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read parameters for a Foxglove client");
                    responder.respond(Vec::new());
                }
            },
            Event::SetParams(client, parameters, responder) => {
                let (set, refused) = Params::set(&self.master, parameters).await;
                if !refused.is_empty() {
                    let why = format!("parameters not set: {}", refused.join("; "));
                    tracing::warn!("{why}");
                    client.send_error(why);
                }
                responder.respond(set.clone());
                if let Some(server) = &self.server {
                    server.publish_parameter_values(set);
                }
            }
            Event::WatchParams(names) => self.params.subscribe(names),
            Event::UnwatchParams(names) => self.params.unsubscribe(names),
        }
    }

    fn topic_of(&mut self, channel: ChannelId) -> Option<&mut Topic> {
        let name = self.by_channel.get(&channel)?;
        self.topics.get_mut(name)
    }

    /// The first client of a topic makes the bridge subscribe to it in the graph.
    fn subscribe(&mut self, client: ClientId, channel: ChannelId) {
        let node = self.node.clone();
        let Some(topic) = self.topic_of(channel) else {
            return;
        };
        topic.clients.insert(client);
        if topic.forward.is_none() {
            topic.forward = Some(tokio::spawn(forward(
                node,
                topic.channel.topic().to_owned(),
                topic.type_info.clone(),
                topic.transcoder.clone(),
                topic.channel.clone(),
            )));
        }
    }

    /// The last client of a topic leaving makes the bridge unsubscribe from it.
    fn unsubscribe(&mut self, client: ClientId, channel: ChannelId) {
        let Some(topic) = self.topic_of(channel) else {
            return;
        };
        topic.clients.remove(&client);
        if topic.clients.is_empty() {
            if let Some(task) = topic.forward.take() {
                task.abort();
                tracing::info!(topic = %topic.channel.topic(), "no Foxglove client wants the topic any more; unsubscribed");
            }
        }
    }

    /// A client will publish on a topic: the topic must exist with a type, and its
    /// messages must be JSON.
    async fn client_advertise(&mut self, client: &Client, channel: ClientChannel) {
        let refuse = |why: String| {
            tracing::warn!(client = ?client.id(), topic = %channel.topic, "{why}");
            client.send_status(Status::error(why));
        };
        if channel.encoding != "json" {
            return refuse(format!(
                "cannot publish on `{}` in `{}`: the bridge takes JSON messages only",
                channel.topic, channel.encoding
            ));
        }
        let name = channel.topic.trim_start_matches('/').to_owned();
        let type_info = match self.topics.get(&name) {
            Some(topic) => topic.type_info.clone(),
            None => {
                return refuse(format!(
                    "cannot publish on `{}`: the graph has no such topic, so its type is unknown \
                     (start the node that publishes or subscribes to it first)",
                    channel.topic
                ))
            }
        };
        if !self.publishers.contains_key(&name) {
            match self
                .node
                .advertise_raw(&name, type_info.clone(), AdvertiseOptions::default())
                .await
            {
                Ok(publisher) => {
                    self.publishers.insert(
                        name.clone(),
                        Outlet {
                            type_info,
                            publisher,
                            channels: 0,
                        },
                    );
                }
                Err(e) => return refuse(format!("cannot publish on `{name}`: {e}")),
            }
        }
        if let Some(outlet) = self.publishers.get_mut(&name) {
            outlet.channels += 1;
        }
        self.incoming.insert((client.id(), channel.id), name);
    }

    fn client_unadvertise(&mut self, client: ClientId, channel: ClientChannelId) {
        let Some(name) = self.incoming.remove(&(client, channel)) else {
            return;
        };
        let last = self.publishers.get_mut(&name).is_some_and(|outlet| {
            outlet.channels = outlet.channels.saturating_sub(1);
            outlet.channels == 0
        });
        if last {
            self.publishers.remove(&name);
        }
    }

    /// A client's message: checked against the topic's schema, then published; one that
    /// does not fit reaches nobody and the client gets an error status saying why.
    async fn client_publish(&mut self, client: &Client, channel: ClientChannelId, payload: &[u8]) {
        let Some((topic, outlet)) = self
            .incoming
            .get(&(client.id(), channel))
            .and_then(|name| Some((name.clone(), self.publishers.get(name)?)))
        else {
            client.send_status(Status::error(
                "a message on a channel the bridge does not know (advertise it first)",
            ));
            return;
        };
        let bytes = serde_json::from_slice::<serde_json::Value>(payload)
            .map_err(|e| format!("the message is not JSON: {e}"))
            .and_then(|value| {
                pinion::json::encode(&outlet.type_info, &value).map_err(|e| e.to_string())
            });
        match bytes {
            Ok(bytes) => {
                if let Err(e) = outlet.publisher.publish_bytes(bytes).await {
                    client.send_status(Status::error(format!(
                        "publishing on `{topic}` failed: {e}"
                    )));
                }
            }
            Err(why) => {
                let why = format!(
                    "refused a message on `{topic}` ({}): {why}; nothing was published",
                    outlet.type_info.name
                );
                tracing::warn!(client = ?client.id(), "{why}");
                client.send_status(Status::error(why));
            }
        }
    }

    pub fn close(&mut self) {
        let names: Vec<String> = self.topics.keys().cloned().collect();
        for name in names {
            self.withdraw(&name);
        }
        self.publishers.clear();
        if let Some(server) = self.server.take() {
            let _ = server.stop();
        }
    }
}

/// Subscribes to one topic and sends each message to the clients of its channel.
async fn forward(
    node: Node,
    topic: String,
    type_info: TypeInfo,
    transcoder: Arc<Transcoder>,
    channel: Arc<RawChannel>,
) {
    let mut subscriber = match node
        .subscribe_raw(&topic, type_info, SubscribeOptions::queue(TOPIC_QUEUE))
        .await
    {
        Ok(subscriber) => subscriber,
        Err(e) => {
            tracing::warn!(topic = %topic, error = %e, "cannot subscribe for Foxglove clients");
            return;
        }
    };
    tracing::info!(topic = %topic, "subscribed for Foxglove clients");
    let mut failures: u64 = 0;
    while let Some((bytes, _)) = subscriber.recv().await {
        match transcoder.to_json(&bytes) {
            Ok(json) => channel.log(&json),
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::warn!(topic = %topic, failures, error = %e, "a message could not be sent to Foxglove clients");
                }
            }
        }
    }
}
