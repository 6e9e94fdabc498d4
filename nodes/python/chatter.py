"""The talker/listener message, as `pinion_nodes::Chatter` in Rust."""

import pinion


@pinion.message("demo/Chatter")
class Chatter:
    seq: pinion.u64
    text: str
