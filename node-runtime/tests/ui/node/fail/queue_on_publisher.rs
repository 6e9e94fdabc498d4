use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Ping { n: u32 }
#[derive(Node)]
struct Parts {
    #[pinion(publish = "a", queue = 5)]
    ping: Publisher<Ping>,
}
fn main() {}
