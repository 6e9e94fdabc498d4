use pinion::prelude::*;
#[derive(Node)]
struct Parts<T: Message> {
    #[pinion(publish = "a")]
    ping: Publisher<T>,
}
fn main() {}
