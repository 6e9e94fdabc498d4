"""A master of its own for each test, and the workspace's binaries (built by the test
command before pytest runs)."""

import os
import pathlib
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("PINION_BIN_DIR", ROOT / "target" / "debug"))
EXAMPLES = ROOT / "nodes" / "python"
DEADLINE = 20.0


class Robot:
    def __init__(self, master, runtime_dir):
        self.master = master
        self.runtime_dir = runtime_dir
        self.procs = []

    def env(self, host=None):
        env = dict(os.environ)
        env.update(PINION_MASTER=self.master, PINION_RUNTIME_DIR=self.runtime_dir,
                   RUST_LOG="info,zeromq=error", PYTHONUNBUFFERED="1")
        if host is not None:
            # Another host id: nodes talk over tcp on loopback, as across Pis.
            env.update(PINION_HOST=host, PINION_IP="127.0.0.1")
        return env

    def rust(self, binary, *args, host=None):
        return self._start([str(BIN / binary), *args], host)

    def python(self, script, *args, host=None):
        return self._start(["python3", str(EXAMPLES / script), *args], host)

    def _start(self, argv, host):
        proc = subprocess.Popen(argv, env=self.env(host), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc


@pytest.fixture
def robot():
    with tempfile.TemporaryDirectory(prefix="pinion-py-") as runtime_dir:
        master = subprocess.Popen([str(BIN / "pinion"), "master", "--bind", "tcp://127.0.0.1:0"],
                                  env={**os.environ, "PINION_RUNTIME_DIR": runtime_dir},
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = master.stdout.readline().strip()
            assert line.startswith("PINION_MASTER="), line
            r = Robot(line.split("=", 1)[1], runtime_dir)
            yield r
            for p in r.procs:
                p.kill()
                p.wait()
        finally:
            master.kill()
            master.wait()
