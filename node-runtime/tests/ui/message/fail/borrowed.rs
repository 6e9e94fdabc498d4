use pinion::prelude::*;
#[derive(Message, Serialize, Deserialize)]
struct Borrowed<'a> { text: &'a str }
fn main() {}
