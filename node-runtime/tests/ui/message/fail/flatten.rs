use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Inner { a: u32 }
#[derive(Message, Serialize, Deserialize)]
struct Outer { #[serde(flatten)] inner: Inner }
fn main() {}
