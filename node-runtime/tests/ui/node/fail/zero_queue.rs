use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Ping { n: u32 }
#[derive(Node)]
struct Parts {
    #[pinion(subscribe = "a", queue = 0)]
    ping: Subscriber<Ping>,
}
fn main() {}
