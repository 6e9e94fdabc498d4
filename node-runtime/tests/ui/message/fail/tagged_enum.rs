use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Command { Stop, Go { speed: f32 } }
fn main() {}
