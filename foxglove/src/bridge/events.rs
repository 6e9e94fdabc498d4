//! What clients do, as events for the bridge's loop: the SDK calls the listener on its
//! own tasks, which must not wait, so each call becomes one bounded queue entry.

use foxglove::websocket::{
    AnyClient, ChannelView, Client, ClientChannel, ClientChannelId, GetParametersResponder,
    Parameter, ParameterHandler, ServerListener, SetParametersResponder,
};
use foxglove::ChannelId;
use tokio::sync::mpsc;

/// One thing a client did.
#[derive(Debug)]
pub enum Event {
    /// A client subscribed to a channel.
    Subscribe(Client, ChannelId),
    /// A client unsubscribed from a channel (or left).
    Unsubscribe(Client, ChannelId),
    /// A client advertised a channel it will publish on.
    Advertise(Client, ClientChannel),
    /// A client stopped publishing on a channel (or left).
    Unadvertise(Client, ClientChannelId),
    /// A client published a message.
    Data(Client, ClientChannelId, Vec<u8>),
    /// A client asks for parameter values (all when the list is empty).
    GetParams(Vec<String>, GetParametersResponder),
    /// A client sets parameters.
    SetParams(AnyClient, Vec<Parameter>, SetParametersResponder),
    /// Clients want to hear of changes to these parameters.
    WatchParams(Vec<String>),
    /// No client wants to hear of these any more.
    UnwatchParams(Vec<String>),
}

/// The SDK's listener and parameter handler: turns calls into [`Event`]s.
pub struct Listener {
    events: mpsc::Sender<Event>,
}

impl Listener {
    pub fn new(events: mpsc::Sender<Event>) -> Self {
        Self { events }
    }

    fn send(&self, client: &Client, event: Event) {
        if self.events.try_send(event).is_err() {
            client.send_status(foxglove::websocket::Status::error(
                "the bridge is busy: this request was dropped; try again",
            ));
            tracing::warn!(client = ?client.id(), "the bridge's event queue is full; a client request was dropped");
        }
    }
}

impl ServerListener for Listener {
    fn on_subscribe(&self, client: Client, channel: ChannelView) {
        let id = channel.id();
        self.send(&client.clone(), Event::Subscribe(client, id));
    }

    fn on_unsubscribe(&self, client: Client, channel: ChannelView) {
        let id = channel.id();
        self.send(&client.clone(), Event::Unsubscribe(client, id));
    }

    fn on_client_advertise(&self, client: Client, channel: &ClientChannel) {
        self.send(&client.clone(), Event::Advertise(client, channel.clone()));
    }

    fn on_client_unadvertise(&self, client: Client, channel: &ClientChannel) {
        self.send(&client.clone(), Event::Unadvertise(client, channel.id));
    }

    fn on_parameters_subscribe(&self, names: Vec<String>) {
        self.send_quietly(Event::WatchParams(names));
    }

    fn on_parameters_unsubscribe(&self, names: Vec<String>) {
        self.send_quietly(Event::UnwatchParams(names));
    }

    fn on_message_data(&self, client: Client, channel: &ClientChannel, payload: &[u8]) {
        self.send(
            &client.clone(),
            Event::Data(client, channel.id, payload.to_vec()),
        );
    }
}

impl Listener {
    fn send_quietly(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("the bridge's event queue is full; a client request was dropped");
        }
    }
}

/// The SDK's parameter handler, on the same queue.
pub struct Params(pub std::sync::Arc<Listener>);

impl ParameterHandler for Params {
    fn get(
        &self,
        _client: AnyClient,
        names: Vec<String>,
        _request_id: Option<String>,
        responder: GetParametersResponder,
    ) {
        if let Err(mpsc::error::TrySendError::Full(Event::GetParams(_, responder))) =
            self.0.events.try_send(Event::GetParams(names, responder))
        {
            responder.respond(Vec::new());
        }
    }

    fn set(
        &self,
        client: AnyClient,
        parameters: Vec<Parameter>,
        _request_id: Option<String>,
        responder: SetParametersResponder,
    ) {
        if let Err(mpsc::error::TrySendError::Full(Event::SetParams(_, _, responder))) = self
            .0
            .events
            .try_send(Event::SetParams(client, parameters, responder))
        {
            responder.respond(Vec::new());
        }
    }
}
