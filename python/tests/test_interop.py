"""Python and Rust nodes in one graph: messages both ways, over ipc (one host id) and
over tcp (two host ids on loopback), with the example nodes of both languages."""

import subprocess

import pytest

import pinion
from conftest import BIN, DEADLINE

# The Python listener and the Rust one each print `seq=N text=T`.
TRANSPORTS = {"ipc": (None, None), "tcp": ("py-host", "rust-host")}


def lines_of(proc):
    out, _ = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, out
    return [l for l in out.splitlines() if l.startswith("seq=")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_python_talker_reaches_the_rust_listener(robot, transport):
    py_host, rust_host = TRANSPORTS[transport]
    listener = robot.rust("listener", "--count", "3", host=rust_host)
    talker = robot.python("talker.py", "--wait-for", "1", "--count", "50", "--rate", "20",
                          host=py_host)
    got = lines_of(listener)
    assert len(got) == 3, got
    assert all(l.endswith("text=hello from python") for l in got), got
    talker.kill()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_rust_talker_reaches_a_python_listener(robot, transport):
    py_host, rust_host = TRANSPORTS[transport]
    listener = robot.python("listener.py", "--count", "3", host=py_host)
    # Its log lines come first (stderr shares the pipe): a few at most.
    seen = []
    while "subscribed" not in seen and len(seen) < 20:
        seen.append(listener.stdout.readline().strip())
    assert "subscribed" in seen, seen
    talker = robot.rust("talker", "--rate", "20", "--text", "hello from rust", host=rust_host)
    got = lines_of(listener)
    assert len(got) == 3, got
    seqs = [int(l.split()[0].removeprefix("seq=")) for l in got]
    assert seqs == sorted(seqs), got
    assert all(l.endswith("text=hello from rust") for l in got), got
    talker.kill()


def test_a_mismatching_python_type_is_refused_with_the_field(robot, monkeypatch):
    for k, v in robot.env().items():
        monkeypatch.setenv(k, v)
    talker = robot.rust("talker", "--rate", "20")

    @pinion.message("demo/Chatter")
    class Chatter:
        seq: pinion.u32  # the Rust field is a u64
        text: str

    # The first to register a topic sets its type: wait until the talker has (each
    # look is a process of its own, so 100 looks take seconds).
    for _ in range(100):
        info = subprocess.run([str(BIN / "pinion"), "topic", "info", "chatter"],
                              env=robot.env(), capture_output=True, text=True, timeout=DEADLINE)
        if "demo/Chatter" in info.stdout:
            break
        assert talker.poll() is None, talker.communicate()[0]
    else:
        pytest.fail("the talker never registered its topic")
    node = pinion.Node("py_wrong_type")
    try:
        with pytest.raises(pinion.PinionError) as refused:
            node.subscribe("chatter", Chatter)
        message = str(refused.value)
        assert "seq" in message and "u32" in message and "u64" in message, message
    finally:
        node.close()
        talker.kill()


def test_a_python_subscriber_takes_the_type_from_the_master(robot, monkeypatch):
    for k, v in robot.env().items():
        monkeypatch.setenv(k, v)
    talker = robot.rust("talker", "--rate", "20", "--text", "typed by rust")
    with pinion.Node("py_any") as node:
        sub = None
        for tick in node.rate(20):  # until the talker has registered its topic: 5 s at most
            try:
                sub = node.subscribe("chatter")
                break
            except pinion.PinionError as e:
                assert "unknown to the master" in str(e), e
            if tick >= 100:
                break
        assert sub is not None, "the talker's topic never appeared"
        msg = sub.recv(timeout=DEADLINE)
        assert msg["text"] == "typed by rust" and isinstance(msg["seq"], int), msg
    talker.kill()


def test_the_python_teleop_drives_the_rust_motor_driver(robot, monkeypatch):
    for k, v in robot.env().items():
        monkeypatch.setenv(k, v)

    @pinion.message("rover/WheelSpeeds")
    class WheelSpeeds:
        header: pinion.msgs.std_msgs.Header
        left: float
        right: float

    driver = robot.rust("motor_driver")
    teleop = robot.python("teleop.py", "--linear", "0.5", "--angular", "0.5", "--seconds", "20")
    with pinion.Node("py_wheel_watch") as node:
        speeds = node.subscribe("wheel_speeds", WheelSpeeds, queue=1)
        moving = None
        for _ in range(500):  # 50 Hz: 10 s at the most
            s = speeds.recv(timeout=1.0)
            if s is not None and s.left > 5.0 and s.right > s.left:
                moving = s
                break
        assert moving is not None, "the driver never followed the Python teleop"
    teleop.kill()
    driver.kill()
