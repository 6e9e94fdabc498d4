use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Ping { n: u32 }
#[derive(Node)]
struct Parts {
    #[pinion(publish = "a")]
    ping: Subscriber<Ping>,
}
fn main() {}
