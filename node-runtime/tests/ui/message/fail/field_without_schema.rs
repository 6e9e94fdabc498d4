use pinion::prelude::*;
#[derive(Serialize, Deserialize)]
struct NotAMessage { a: u8 }
#[derive(Message, Serialize, Deserialize)]
struct Outer { inner: NotAMessage }
fn main() {}
