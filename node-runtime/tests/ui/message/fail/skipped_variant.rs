use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
enum Mode { Auto, #[serde(skip)] Debug }
fn main() {}
