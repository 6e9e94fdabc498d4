use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Ping { n: u32 }
#[derive(Node)]
struct Parts {
    #[pinion(advertise = "a")]
    ping: Publisher<Ping>,
}
fn main() {}
