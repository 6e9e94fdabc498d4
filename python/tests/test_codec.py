"""Messages from Python objects to the wire and back, every field kind: what a
subscriber gets equals what was published, a value that does not fit is refused with
its place, and a subscriber without a class gets plain values (bytes as bytes)."""

import enum
import math
import typing

import pytest

import pinion
from conftest import DEADLINE


class Mode(enum.Enum):
    IDLE = 0
    DRIVE = 1


@pinion.message("test/Inner")
class Inner:
    label: str
    weight: pinion.f32


@pinion.message("test/Kinds")
class Kinds:
    flag: bool
    small: pinion.u8
    signed: pinion.i16
    count: pinion.u64
    big: pinion.i128
    ratio: pinion.f32
    value: float
    text: str
    data: bytes
    maybe: typing.Optional[pinion.u32]
    items: typing.List[pinion.u8]
    inner: Inner
    inners: typing.List[Inner]
    mode: Mode
    pair: typing.Tuple[pinion.u16, str]
    table: typing.Dict[str, pinion.i32]


def sample(seq):
    return Kinds(flag=True, small=255, signed=-32768, count=2**64 - 1 - seq, big=-(2**100),
                 ratio=0.5, value=math.pi, text="héllo ✓", data=bytes(range(256)) * 3,
                 maybe=None if seq % 2 else seq, items=[0, 1, 254], inner=Inner("a", 1.25),
                 inners=[Inner("b", -2.0), Inner("", 0.0)], mode=Mode.DRIVE, pair=(7, "x"),
                 table={"left": -1, "right": 2**31 - 1})


@pytest.fixture
def node(robot, monkeypatch):
    for k, v in robot.env().items():
        monkeypatch.setenv(k, v)
    with pinion.Node("py_codec") as node:
        yield node


def test_every_field_kind_arrives_as_published(node):
    sub = node.subscribe("kinds", Kinds)
    pub = node.advertise("kinds", Kinds)
    assert pub.wait_for_subscribers(1, timeout=DEADLINE)
    for seq in range(2):
        pub.publish(sample(seq))
        got = sub.recv(timeout=DEADLINE)
        assert got == sample(seq), got
        assert isinstance(got.inner, Inner) and got.mode is Mode.DRIVE
        assert got.pair == (7, "x") and isinstance(got.data, bytes)


def test_a_subscriber_without_a_class_gets_plain_values(node):
    pub = node.advertise("kinds_any", Kinds)
    sub = node.subscribe("kinds_any")
    assert pub.wait_for_subscribers(1, timeout=DEADLINE)
    pub.publish(sample(0))
    got = sub.recv(timeout=DEADLINE)
    assert got["data"] == bytes(range(256)) * 3
    assert got["inner"] == {"label": "a", "weight": 1.25}
    assert got["mode"] == "DRIVE" and got["maybe"] == 0 and got["big"] == -(2**100)


@pytest.mark.parametrize("field, value, place, want", [
    ("small", 256, "test/Kinds.small", "0 or more, of 8 bits"),
    ("signed", 40000, "test/Kinds.signed", "of 16 bits"),
    ("count", -1, "test/Kinds.count", "0 or more, of 64 bits"),
    ("flag", 1, "test/Kinds.flag", "True or False"),
    ("text", b"bytes", "test/Kinds.text", "a str"),
    ("data", "text", "test/Kinds.data", "bytes"),
    ("items", [1, "two"], "test/Kinds.items[1]", "of 8 bits"),
    ("inners", [Inner("ok", 1.0), Inner(3, 1.0)], "test/Kinds.inners[1].label", "a str"),
    ("mode", "REVERSE", "test/Kinds.mode", "a variant of Mode (IDLE, DRIVE)"),
    ("pair", (1,), "test/Kinds.pair", "2 items"),
    ("inner", {"label": "no weight"}, "test/Kinds.inner", "no field `weight`"),
])
def test_a_value_that_does_not_fit_is_refused_with_its_place(node, field, value, place, want):
    pub = node.advertise("kinds_bad", Kinds)
    msg = sample(0)
    setattr(msg, field, value)
    with pytest.raises(TypeError) as refused:
        pub.publish(msg)
    text = str(refused.value)
    assert text.startswith(place + ":") and want in text, text


def test_byte_buffers_are_taken_as_bytes(node):
    sub = node.subscribe("kinds_buffers", Kinds)
    pub = node.advertise("kinds_buffers", Kinds)
    assert pub.wait_for_subscribers(1, timeout=DEADLINE)
    for data in (bytearray(b"\x00\x01"), memoryview(b"\x00\x01")):
        msg = sample(0)
        msg.data = data
        pub.publish(msg)
        assert sub.recv(timeout=DEADLINE).data == b"\x00\x01"


def test_a_large_python_image_reaches_a_rust_subscriber_intact(node, robot):
    import base64
    import json
    import subprocess
    import threading

    from conftest import BIN
    from pinion.msgs.sensor import Image

    data = bytes(range(256)) * 4096  # 1 MiB: a frame of its own, not copied
    pub = node.advertise("camera", Image)
    image = Image(width=512, height=512, encoding="mono32", step=2048, data=data)
    stop = threading.Event()

    def keep_publishing():  # until the Rust tool has one (it subscribes late)
        while not stop.is_set():
            pub.publish(image)
            stop.wait(0.05)
    thread = threading.Thread(target=keep_publishing, daemon=True)
    thread.start()
    try:
        out = subprocess.run([str(BIN / "pinion"), "topic", "echo", "camera", "--count", "1",
                              "--json"], env=robot.env(), capture_output=True, text=True,
                             timeout=DEADLINE)
    finally:
        stop.set()
        thread.join(DEADLINE)
    got = json.loads(out.stdout.splitlines()[0])
    assert got["width"] == 512 and got["encoding"] == "mono32", out.stderr
    assert base64.b64decode(got["data"]) == data
