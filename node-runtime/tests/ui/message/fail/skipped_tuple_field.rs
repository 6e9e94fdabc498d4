use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Pair(u32, #[serde(skip)] u32);
fn main() {}
