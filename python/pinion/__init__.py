"""Pinion for Python: nodes that join the same graph as Rust nodes.

    import pinion

    @pinion.message("demo/Chatter")
    class Chatter:
        seq: pinion.u64
        text: str

    node = pinion.Node("py_talker")
    chatter = node.advertise("chatter", Chatter)
    for seq in range(10):
        chatter.publish(Chatter(seq=seq, text="hello"))

A message class gets the same schema, and the same schema hash, as the Rust struct
with the same field names and types, so a Python publisher and a Rust subscriber of
one type meet at the master (and a mismatch is refused with the field that differs).
Field types: ``bool``, ``int`` (i64), ``float`` (f64), ``str``, ``bytes`` (a Rust
``Blob``), the widths ``pinion.u8`` ... ``pinion.i128``, ``pinion.f32``, ``pinion.f64``,
``list[T]``, ``Optional[T]``, nested message classes and ``enum.Enum`` classes (unit
variants).
"""

from ._message import (
    message,
    u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64,
    schema_hash,
)
from ._node import Node, Publisher, Subscriber
from ._native import PinionError
from . import msgs

__all__ = [
    "message", "msgs", "Node", "Publisher", "Subscriber", "PinionError", "schema_hash",
    "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "f32", "f64",
]
