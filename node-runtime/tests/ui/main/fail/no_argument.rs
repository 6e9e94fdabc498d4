#[pinion::main]
async fn main() -> pinion::Result<()> { Ok(()) }
