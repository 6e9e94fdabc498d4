"""Services and parameters between Python and Rust nodes."""

import pytest

import pinion
from conftest import DEADLINE


@pinion.message("demo/AddTwoIntsRequest")
class AddRequest:
    a: int
    b: int


@pinion.message("demo/AddTwoIntsResponse")
class AddResponse:
    sum: int


@pytest.fixture
def env(robot, monkeypatch):
    for k, v in robot.env().items():
        monkeypatch.setenv(k, v)
    return robot


def test_python_calls_a_rust_service_and_its_errors_arrive(env):
    server = env.rust("add_server")
    with pinion.Node("py_caller") as node:
        add = node.client("add_two_ints", AddRequest, AddResponse)
        answer = None
        for _ in range(50):  # the server registers after it starts
            try:
                answer = add(AddRequest(a=40, b=2), timeout=1.0)
                break
            except pinion.PinionError as e:
                assert "add_two_ints" in str(e), e
                node.sleep(0.1)
        assert answer == AddResponse(sum=42)
        with pytest.raises(pinion.PinionError, match="overflows"):
            add(AddRequest(a=2**63 - 1, b=1))
    server.kill()


def test_rust_calls_a_python_service(env):
    with pinion.Node("py_server") as node:
        served = node.serve("add_two_ints", AddRequest, AddResponse,
                            lambda r: AddResponse(sum=r.a + r.b))
        client = env.rust("add_client", "20", "22")
        out, _ = client.communicate(timeout=DEADLINE)
        assert client.returncode == 0, out
        assert "42" in out, out
        served.close()


def test_a_python_node_reads_its_parameters(env):
    import subprocess
    from conftest import BIN
    subprocess.run([str(BIN / "pinion"), "param", "set", "py_params/rate", "25"],
                   env=env.env(), check=True, timeout=DEADLINE)
    subprocess.run([str(BIN / "pinion"), "param", "set", "robot_name", '"rover"'],
                   env=env.env(), check=True, timeout=DEADLINE)
    with pinion.Node("py_params") as node:
        assert node.param("rate") == 25
        assert node.param("/robot_name") == "rover"
        assert node.param("missing", default=5) == 5


def test_python_log_records_reach_pinion_logs(env):
    import subprocess
    from conftest import BIN
    with pinion.Node("py_logger") as node:
        node.logger.info("hello from the python log")
        out = subprocess.run([str(BIN / "pinion"), "logs", "py_logger"], env=env.env(),
                             capture_output=True, text=True, timeout=DEADLINE)
        assert "hello from the python log" in out.stdout, out.stdout + out.stderr
        listed = subprocess.run([str(BIN / "pinion"), "node", "list"], env=env.env(),
                                capture_output=True, text=True, timeout=DEADLINE)
        assert "py_logger" in listed.stdout, listed.stdout


def test_parameters_go_from_python_to_rust_and_back(env):
    import subprocess
    from conftest import BIN
    talker = env.rust("talker", "--rate", "20")
    listener = env.rust("listener")
    with pinion.Node("py_params_both") as node:
        # Python to Rust: the talker watches talker/text.
        node.set_param("/talker/text", "set from python")
        end_lines = []
        for _ in range(400):  # 20 Hz: 20 s at the most
            line = listener.stdout.readline()
            end_lines.append(line)
            if "text=set from python" in line:
                break
        else:
            raise AssertionError("".join(end_lines[-10:]))
        # Rust to Python: the Rust CLI sets a parameter the Python node watches.
        watch = node.watch_param("mode")
        assert watch.current() is None
        subprocess.run([str(BIN / "pinion"), "param", "set", "py_params_both/mode", '"fast"'],
                       env=env.env(), check=True, timeout=DEADLINE)
        assert watch.changed(timeout=DEADLINE) == (True, "fast")
        assert node.param("mode") == "fast"
    talker.kill()
    listener.kill()


def test_tools_see_a_python_topic(env):
    import subprocess
    from conftest import BIN
    talker = env.python("talker.py", "--rate", "20")
    # Until the master knows the topic (each look is a process: 50 take seconds).
    for _ in range(50):
        info = subprocess.run([str(BIN / "pinion"), "topic", "info", "chatter"],
                              env=env.env(), capture_output=True, text=True, timeout=DEADLINE)
        if "py_talker" in info.stdout:
            break
    out = subprocess.run([str(BIN / "pinion"), "topic", "echo", "chatter", "--count", "1",
                          "--json"], env=env.env(), capture_output=True, text=True,
                         timeout=DEADLINE)
    assert '"text":"hello from python"' in out.stdout, out.stdout + out.stderr
    info = subprocess.run([str(BIN / "pinion"), "topic", "info", "chatter"], env=env.env(),
                          capture_output=True, text=True, timeout=DEADLINE)
    assert "demo/Chatter" in info.stdout and "py_talker" in info.stdout, info.stdout
    talker.kill()


def test_a_python_topic_is_recorded(env, tmp_path):
    import subprocess
    from conftest import BIN
    from mcap.reader import make_reader
    talker = env.python("talker.py", "--rate", "20")
    for _ in range(50):  # until the master knows the topic (each look is a process)
        info = subprocess.run([str(BIN / "pinion"), "topic", "info", "chatter"],
                              env=env.env(), capture_output=True, text=True, timeout=DEADLINE)
        if "py_talker" in info.stdout:
            break
    out = tmp_path / "py.mcap"
    rec = subprocess.run([str(BIN / "pinion"), "record", "-o", str(out), "chatter", "--count", "3"],
                         env=env.env(), capture_output=True, text=True, timeout=DEADLINE)
    assert rec.returncode == 0, rec.stderr
    with open(out, "rb") as f:
        messages = list(make_reader(f).iter_messages())
    assert len(messages) == 3
    assert {channel.topic for _, channel, _ in messages} == {"chatter"}
    talker.kill()
