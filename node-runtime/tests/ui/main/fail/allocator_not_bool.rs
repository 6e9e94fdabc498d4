use pinion::prelude::*;
#[pinion::main(global_allocator = "system")]
async fn main(node: Node) -> pinion::Result<()> { let _ = node; Ok(()) }
