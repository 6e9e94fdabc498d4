"""Pinion's standard messages, as in Rust's `pinion::msgs`: `pinion.msgs.geometry.Twist`,
`pinion.msgs.sensor.Image`, ... Their schemas come from the Rust types themselves (the
native module), so they always match; each is a dataclass whose fields default to
zero values.

    from pinion.msgs.geometry import Twist, Vector3
    cmd = Twist(linear=Vector3(x=0.3))
"""

import dataclasses
import enum
import json
import sys
import types
import typing

from . import _message, _native

_PRIMITIVES = {
    "bool": bool, "i64": int, "f64": float, "string": str, "char": str, "bytes": bytes,
    "u8": _message.u8, "u16": _message.u16, "u32": _message.u32, "u64": _message.u64,
    "u128": _message.u128, "i8": _message.i8, "i16": _message.i16, "i32": _message.i32,
    "i128": _message.i128, "f32": _message.f32,
}
_DEFAULTS = {bool: False, int: 0, float: 0.0, str: "", bytes: b""}
_built = {}


def _hint_and_default(desc, type_name):
    """The type hint of a described field, and a default factory for it."""
    if isinstance(desc, str):
        hint = _PRIMITIVES[desc]
        base = hint.base if isinstance(hint, _message._Width) else hint
        value = _DEFAULTS[base]
        return hint, (lambda: value)
    (kind, inner), = desc.items()
    if kind == "option":
        hint, _ = _hint_and_default(inner, type_name)
        return typing.Optional[hint], (lambda: None)
    if kind in ("list", "array"):
        item = inner if kind == "list" else inner[0]
        hint, make = _hint_and_default(item, type_name)
        if kind == "array":
            return typing.List[hint], (lambda: [make() for _ in range(inner[1])])
        return typing.List[hint], list
    if kind == "struct":
        cls = _build(inner["name"], desc, None)
        return cls, cls
    if kind == "enum" and all(body is None for _, body in inner["variants"]):
        cls = _built.get(inner["name"]) or enum.Enum(inner["name"], [n for n, _ in inner["variants"]])
        _built[inner["name"]] = cls
        return cls, (lambda: next(iter(cls)))
    return typing.Any, (lambda: None)  # maps, tuples, enums with data: plain values


def _build(class_name, desc, type_name):
    """A dataclass for a described struct (nested structs are built once, by name)."""
    if type_name is None and class_name in _built:
        return _built[class_name]
    fields = []
    for name, field_desc in desc["struct"]["fields"]:
        hint, make = _hint_and_default(field_desc, class_name)
        fields.append((name, hint, dataclasses.field(default_factory=make)))
    cls = dataclasses.make_dataclass(class_name, fields)
    cls.__pinion_description__ = desc
    cls.__pinion_type__ = (type_name or class_name, json.dumps(desc))
    cls.__pinion_hints__ = {name: hint for name, hint, _ in fields}
    _built.setdefault(class_name, cls)
    return cls


for _module, _class, _type_name, _description in _native.standard_messages():
    _cls = _build(_class, json.loads(_description), _type_name)
    _cls.__module__ = f"{__name__}.{_module}"
    _mod = sys.modules.setdefault(f"{__name__}.{_module}", types.ModuleType(f"{__name__}.{_module}"))
    setattr(_mod, _class, _cls)
    globals()[_module] = _mod
