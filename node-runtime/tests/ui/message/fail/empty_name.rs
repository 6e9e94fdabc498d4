use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
#[message(name = " ")]
struct Empty { a: u8 }
fn main() {}
