use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
#[message(version = 2)]
struct Versioned { a: u8 }
fn main() {}
