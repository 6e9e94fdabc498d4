// A binary with its own global allocator must say `global_allocator = false`.
use pinion::prelude::*;

#[global_allocator]
static OWN: std::alloc::System = std::alloc::System;

#[pinion::main]
async fn main(node: Node) -> pinion::Result<()> { let _ = node; Ok(()) }
