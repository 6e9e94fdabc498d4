use pinion::prelude::*;
#[pinion::main(rate = 10)]
async fn main(node: Node) -> pinion::Result<()> { let _ = node; Ok(()) }
