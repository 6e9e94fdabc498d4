#[derive(pinion::Node)]
enum Parts { A }
fn main() {}
