use pinion::prelude::*;
#[pinion::main]
async fn main<T>(node: Node) -> pinion::Result<()> { let _ = node; Ok(()) }
