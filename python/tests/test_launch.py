"""A launch file with a Rust node and a Python node: both start, the Python node is
respawned when it dies, and Ctrl-C stops both."""

import os
import re
import signal
import subprocess
import time

from conftest import BIN, DEADLINE, EXAMPLES


def read_until(proc, pattern, seen):
    """Reads the launcher's output until a line matches; bounded by DEADLINE."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(seen[-40:]))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_a_launch_file_runs_respawns_and_stops_a_python_node(tmp_path):
    launch = tmp_path / "mixed.toml"
    launch.write_text(f"""
robot = "mixed"

[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "20"]

[[node]]
name = "py_listener"
binary = "{EXAMPLES / 'listener.py'}"
respawn = "always"
respawn_delay = "100ms"
""")
    env = {**os.environ, "PINION_RUNTIME_DIR": str(tmp_path), "RUST_LOG": "info,zeromq=error",
           "PYTHONUNBUFFERED": "1"}
    launcher = subprocess.Popen([str(BIN / "pinion"), "launch", str(launch), "--bind",
                                 "tcp://127.0.0.1:0"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        started = {}
        while len(started) < 2:
            m = read_until(launcher, r"started node=(talker|py_listener) pid=(\d+)", seen)
            started[m.group(1)] = int(m.group(2))
        first, talker = started["py_listener"], started["talker"]
        read_until(launcher, r"py_listener.*seq=\d+ text=hello", seen)

        os.kill(first, signal.SIGKILL)
        second = int(read_until(launcher, r"started node=py_listener pid=(\d+)", seen).group(1))
        assert second != first
        read_until(launcher, r"py_listener.*seq=\d+ text=hello", seen)

        launcher.send_signal(signal.SIGINT)
        launcher.communicate(timeout=DEADLINE)
        assert not alive(second) and not alive(talker), "\n".join(seen[-30:])
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
