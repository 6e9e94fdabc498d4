//! Every field kind of derive(Node), and the manifest it writes.
use pinion::prelude::*;

#[derive(Message, Serialize, Deserialize)]
struct Ping { n: u32 }
#[derive(Message, Serialize, Deserialize)]
struct Pong { n: u32 }

#[derive(Node)]
struct Parts {
    #[pinion(publish = "ping")]
    ping: Publisher<Ping>,
    #[pinion(publish = "/global/map", latched)]
    map: Publisher<Ping>,
    #[pinion(subscribe = "pong")]
    pong: Subscriber<Pong>,
    #[pinion(subscribe = "pong_fast", queue = 1)]
    pong_fast: Subscriber<Pong>,
    #[pinion(param = "rate")]
    rate: ParamWatch<f64>,
    #[pinion(client = "echo")]
    echo: ServiceClient<Ping, Pong>,
}

fn main() {
    use pinion::parts::NodeParts;
    let m = Parts::manifest();
    assert_eq!(m.publishes.len(), 2);
    assert_eq!(m.publishes[1].topic, "/global/map");
    assert_eq!(m.subscribes[0].type_info.name, "Pong");
    assert_eq!(m.params, vec!["rate".to_owned()]);
    assert_eq!(m.calls[0].request.name, "Ping");
    let _unused = |p: Parts| (p.ping, p.map, p.pong, p.pong_fast, p.rate, p.echo);
}
