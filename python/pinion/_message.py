"""Message classes: dataclasses whose type hints describe the postcard schema."""

import base64
import dataclasses
import enum
import json
import typing

from . import _native


class _Width:
    """A number type of a given width: use it as a type hint, values stay int/float."""

    def __init__(self, name, base):
        self.name = name
        self.base = base

    def __repr__(self):
        return f"pinion.{self.name}"


u8, u16, u32, u64, u128 = (_Width(n, int) for n in ("u8", "u16", "u32", "u64", "u128"))
i8, i16, i32, i64, i128 = (_Width(n, int) for n in ("i8", "i16", "i32", "i64", "i128"))
f32, f64 = _Width("f32", float), _Width("f64", float)

_PLAIN = {bool: "bool", int: "i64", float: "f64", str: "string", bytes: "bytes"}


def _describe(hint, where):
    """The type description `pinion._native` turns into a postcard schema."""
    if isinstance(hint, _Width):
        return hint.name
    if hint in _PLAIN:
        return _PLAIN[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        return {"option": _describe(inner, where)}
    if origin in (list, typing.List):
        return {"list": _describe(args[0], where)}
    if origin in (dict, typing.Dict):
        return {"map": [_describe(args[0], where), _describe(args[1], where)]}
    if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:
        return {"tuple": [_describe(a, where) for a in args]}
    if isinstance(hint, type) and hasattr(hint, "__pinion_description__"):
        return hint.__pinion_description__
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": {"name": hint.__name__, "variants": [[m.name, None] for m in hint]}}
    raise TypeError(f"{where}: Pinion has no message type for {hint!r}")


def message(name=None):
    """Makes a class a Pinion message (and a dataclass): `@pinion.message("pkg/Type")`."""

    def wrap(cls):
        cls = dataclasses.dataclass(cls)
        hints = typing.get_type_hints(cls)
        type_name = name or cls.__name__
        fields = [[f.name, _describe(hints[f.name], f"{type_name}.{f.name}")]
                  for f in dataclasses.fields(cls)]
        cls.__pinion_description__ = {"struct": {"name": cls.__name__, "fields": fields}}
        cls.__pinion_type__ = (type_name, json.dumps(cls.__pinion_description__))
        cls.__pinion_hints__ = hints
        return cls

    if isinstance(name, type):  # used bare: @pinion.message
        cls, name = name, None
        return wrap(cls)
    return wrap


def classes(cls):
    """The classes a message is built of, by the type names of its schema: the message
    class, the message classes of its fields and their `enum.Enum` classes."""
    found = cls.__dict__.get("__pinion_classes__")
    if found is not None:
        return found
    found, seen, todo = {}, set(), [cls]
    while todo:
        hint = todo.pop()
        if id(hint) in seen:
            continue
        seen.add(id(hint))
        if isinstance(hint, type) and hasattr(hint, "__pinion_hints__"):
            name = hint.__pinion_description__["struct"]["name"]
            if found.setdefault(name, hint) is not hint:
                raise TypeError(f"{cls.__name__}: two message classes named {name} in one message")
            todo.extend(hint.__pinion_hints__.values())
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            if found.setdefault(hint.__name__, hint) is not hint:
                raise TypeError(f"{cls.__name__}: two types named {hint.__name__} in one message")
        else:
            todo.extend(typing.get_args(hint))
    cls.__pinion_classes__ = found
    return found


def schema_hash(cls):
    """The schema hash of a message class: equal to the Rust struct's."""
    type_name, description = cls.__pinion_type__
    return _native.schema_hash(type_name, description)


def to_json(value):
    """A message (or any value of a field) in Pinion's JSON form."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(hint, value):
    """A value of type `hint` from Pinion's JSON form."""
    if value is None:
        return None
    if isinstance(hint, type) and hasattr(hint, "__pinion_hints__"):
        hints = hint.__pinion_hints__
        return hint(**{k: from_json(hints[k], v) for k, v in value.items() if k in hints})
    if hint is bytes:
        return base64.b64decode(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint[value]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        inner = args[0] if args[1] is type(None) else args[1]
        return from_json(inner, value)
    if origin in (list, typing.List):
        return [from_json(args[0], v) for v in value]
    if origin in (tuple, typing.Tuple):
        return tuple(from_json(a, v) for a, v in zip(args, value))
    if origin in (dict, typing.Dict):
        return {k: from_json(args[1], v) for k, v in value.items()}
    if isinstance(hint, _Width) and hint.base is float and value is None:
        return float("nan")
    return value
