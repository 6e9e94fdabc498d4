use pinion::prelude::*;
mod hex {}
#[derive(Message, Serialize, Deserialize)]
struct Reading { #[serde(with = "hex")] raw: Vec<u8> }
fn main() {}
