use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Reading { #[serde(rename(serialize = "v"))] value: f32 }
fn main() {}
