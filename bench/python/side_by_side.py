"""Python nodes side by side: Pinion from Python (to Python and to Rust) beside rospy
(ROS 1's Python client, Debian's python3-rospy) on the same workloads, in one run:
round trips of 64 B and 1 MiB, and lossless throughput, with Rust to Rust over Pinion
as the reference for what Python costs.

    scripts/bench-python            # installs rospy, builds, then runs this

Every figure runs its two ends in processes of their own, one host: Pinion over ipc
(its same-host path), rospy over TCPROS on loopback (ROS 1's only path between
processes), TCP_NODELAY on (rospy's best latency). Round trips: the median and the
99th percentile of ROUNDS pings, each sent when the previous echo is back. Throughput:
a reliable publisher sends a burst as fast as publishing lets it, the subscriber counts
messages; the burst is timed from the source's first message to the sink's last, on
the host's monotonic clock (every message must arrive: none is lost).
The machine is shared and noisy: compare the ratios, measured in the same run.
"""

import argparse
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"
ROS_PYTHON = "/usr/bin/python3"  # where Debian's python3-rospy is installed
PATIENCE = 60.0
SIZES = [64, 1 << 20]
ROUNDS = {64: 2000, 1 << 20: 200}
BURST = {64: 20000, 1 << 20: 300}


# ---------------------------------------------------------------- the ends, per system

def pinion_payload():
    import pinion

    @pinion.message("bench/Payload")
    class Payload:
        data: bytes

    return pinion, Payload


def pinion_pong():
    pinion, Payload = pinion_payload()
    with pinion.Node("py_pong") as node:
        pings = node.subscribe("lat/ping", Payload, queue=10)
        pong = node.advertise("lat/pong", Payload, reliable=True)
        assert pong.wait_for_subscribers(1, timeout=PATIENCE)
        print("ready", flush=True)
        for msg in pings:
            pong.publish(msg)


def pinion_ping(size, rounds):
    pinion, Payload = pinion_payload()
    with pinion.Node("py_ping") as node:
        pongs = node.subscribe("lat/pong", Payload, queue=10)
        ping = node.advertise("lat/ping", Payload, reliable=True)
        assert ping.wait_for_subscribers(1, timeout=PATIENCE)
        msg = Payload(data=bytes(size))
        # The echo's publisher finds this subscriber on its own: ping until one is back.
        for _ in range(int(PATIENCE * 10)):
            ping.publish(msg)
            if pongs.recv(timeout=0.1) is not None:
                break
        else:
            raise SystemExit("no echo came back")
        while pongs.recv(timeout=0.2) is not None:
            pass
        times = []
        for _ in range(rounds + rounds // 10):
            start = time.perf_counter()
            ping.publish(msg)
            if pongs.recv(timeout=PATIENCE) is None:
                raise SystemExit("an echo was lost")
            times.append(time.perf_counter() - start)
        report_times(times[rounds // 10:])


def pinion_source(topic, count, size):
    pinion, Payload = pinion_payload()
    with pinion.Node("py_source") as node:
        pub = node.advertise(topic, Payload, reliable=True)
        assert pub.wait_for_subscribers(1, timeout=PATIENCE)
        print("ready", flush=True)
        msg = Payload(data=bytes(size))
        print(f"start {time.monotonic():.6f}", flush=True)
        for _ in range(count):
            pub.publish(msg)
        print(f"sent {count}", flush=True)
        node.sleep(PATIENCE)


def pinion_sink(topic, count):
    pinion, Payload = pinion_payload()
    with pinion.Node("py_sink") as node:
        sub = node.subscribe(topic, Payload, queue=1000, reliable=True)
        print("ready", flush=True)
        got, last = 0, 0.0
        while got < count and sub.recv(timeout=PATIENCE) is not None:
            last = time.monotonic()
            got += 1
        print(f"received {got} {last:.6f}", flush=True)


def ros_payload():
    import rospy
    from std_msgs.msg import UInt8MultiArray
    return rospy, UInt8MultiArray


def rospy_pong():
    rospy, Msg = ros_payload()
    rospy.init_node("ros_pong", disable_signals=True)
    pong = rospy.Publisher("lat/pong", Msg, queue_size=None)
    rospy.Subscriber("lat/ping", Msg, pong.publish, tcp_nodelay=True, buff_size=1 << 24)
    wait_for_connections(pong)
    print("ready", flush=True)
    while not rospy.is_shutdown():
        time.sleep(1)


def rospy_ping(size, rounds):
    import threading
    rospy, Msg = ros_payload()
    rospy.init_node("ros_ping", disable_signals=True)
    came = threading.Semaphore(0)
    rospy.Subscriber("lat/pong", Msg, lambda _: came.release(), tcp_nodelay=True,
                     buff_size=1 << 24)
    ping = rospy.Publisher("lat/ping", Msg, queue_size=None, tcp_nodelay=True)  # noqa: synchronous
    wait_for_connections(ping)
    msg = Msg(data=bytes(size))
    for _ in range(int(PATIENCE * 10)):
        ping.publish(msg)
        if came.acquire(timeout=0.1):
            break
    else:
        raise SystemExit("no echo came back")
    while came.acquire(timeout=0.2):
        pass
    times = []
    for _ in range(rounds + rounds // 10):
        start = time.perf_counter()
        ping.publish(msg)
        if not came.acquire(timeout=PATIENCE):
            raise SystemExit("an echo was lost")
        times.append(time.perf_counter() - start)
    report_times(times[rounds // 10:])
    rospy.signal_shutdown("done")


def rospy_source(topic, count, size):
    rospy, Msg = ros_payload()
    rospy.init_node("ros_source", disable_signals=True)
    pub = rospy.Publisher(topic, Msg, queue_size=None)  # synchronous: waits, drops nothing
    wait_for_connections(pub)
    print("ready", flush=True)
    msg = Msg(data=bytes(size))
    print(f"start {time.monotonic():.6f}", flush=True)
    for _ in range(count):
        pub.publish(msg)
    print(f"sent {count}", flush=True)
    time.sleep(PATIENCE)


def rospy_sink(topic, count):
    import threading
    rospy, Msg = ros_payload()
    rospy.init_node("ros_sink", disable_signals=True)
    seen = {"got": 0, "last": 0.0}
    done = threading.Event()

    def arrived(_):  # on rospy's receiving thread, as it arrives
        seen["last"] = time.monotonic()
        seen["got"] += 1
        if seen["got"] >= count:
            done.set()
    rospy.Subscriber(topic, Msg, arrived, queue_size=None, buff_size=1 << 24)
    print("ready", flush=True)
    done.wait(PATIENCE)
    print(f"received {seen['got']} {seen['last']:.6f}", flush=True)
    rospy.signal_shutdown("done")


def wait_for_connections(pub):
    deadline = time.monotonic() + PATIENCE
    while pub.get_num_connections() < 1:
        if time.monotonic() > deadline:
            raise SystemExit("no subscriber connected")
        time.sleep(0.01)


def report_times(times):
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"rtt {p50 * 1e6:.1f} {p99 * 1e6:.1f}", flush=True)


ROLES = {
    "pinion-pong": lambda a: pinion_pong(),
    "pinion-ping": lambda a: pinion_ping(int(a[0]), int(a[1])),
    "pinion-source": lambda a: pinion_source(a[0], int(a[1]), int(a[2])),
    "pinion-sink": lambda a: pinion_sink(a[0], int(a[1])),
    "rospy-pong": lambda a: rospy_pong(),
    "rospy-ping": lambda a: rospy_ping(int(a[0]), int(a[1])),
    "rospy-source": lambda a: rospy_source(a[0], int(a[1]), int(a[2])),
    "rospy-sink": lambda a: rospy_sink(a[0], int(a[1])),
}


# ---------------------------------------------------------------- the driver

class Run:
    """A master of each kind, and the children of the figures."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.env = dict(os.environ, PINION_RUNTIME_DIR=str(scratch / "pinion"),
                        RUST_LOG="error", PYTHONUNBUFFERED="1", ROS_HOME=str(scratch / "ros"),
                        # rospy's sources raise SyntaxWarnings on Python 3.11.
                        PYTHONWARNINGS="ignore::SyntaxWarning",
                        ROS_HOSTNAME="127.0.0.1", ROS_IP="127.0.0.1")
        (scratch / "pinion").mkdir()
        (scratch / "ros").mkdir()
        self.masters = []

    def start_masters(self):
        pinion = subprocess.Popen([str(RELEASE / "pinion"), "master", "--bind",
                                   "tcp://127.0.0.1:0"], env=self.env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = pinion.stdout.readline().strip()
        if not line.startswith("PINION_MASTER="):
            raise SystemExit(f"the Pinion master did not start: {line!r}")
        self.env["PINION_MASTER"] = line.split("=", 1)[1]
        port = free_port()
        ros = subprocess.Popen(["rosmaster", "--core", "-p", str(port)], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.env["ROS_MASTER_URI"] = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or ros.poll() is not None:
                    raise SystemExit("rosmaster did not start")
                time.sleep(0.05)
        self.masters = [pinion, ros]

    def child(self, end, *args):
        """An end of a figure: `rust ...` (pinion-bench role), or a role of this file."""
        if end == "rust":
            argv = [str(RELEASE / "pinion-bench"), "role", *args]
        else:
            python = ROS_PYTHON if end.startswith("rospy") else sys.executable
            argv = [python, __file__, "role", end, *args]
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, text=True)

    def close(self):
        for m in self.masters:
            m.kill()
            m.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def line_of(proc, prefix):
    """The child's first line starting with `prefix` (its exit is an error)."""
    for _ in range(1000):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{proc.args[2:5]} ended before `{prefix}`")
        if line.startswith(prefix):
            return line.split()
    raise SystemExit(f"{proc.args[2:5]} never said `{prefix}`")


def stop(*procs):
    for p in procs:
        p.kill()
        p.wait()


def round_trip(run, ping, pong, size, rounds):
    """Median and p99 round trip in microseconds: `ping` end to `pong` end and back."""
    echo = run.child(pong) if pong != "rust" else run.child("rust", "pong")
    pinger = run.child(ping, str(size), str(rounds))
    try:
        line_of(echo, "ready")
        _, p50, p99 = line_of(pinger, "rtt")
        return float(p50), float(p99)
    finally:
        stop(pinger, echo)


def throughput(run, source, sink, size, count):
    """Messages per second received, and how many arrived of `count`."""
    topic = f"tp/{source}_to_{sink}_s{size}".replace("-", "_")
    sink_args = (topic, str(count))
    source_args = (topic, str(count), str(size))
    receiver = run.child(*(("rust", "sink") if sink == "rust" else (sink,)), *sink_args)
    try:
        line_of(receiver, "ready")
        sender = run.child(*(("rust", "source") if source == "rust" else (source,)),
                           *source_args)
        try:
            _, start = line_of(sender, "start")
            _, got, last = line_of(receiver, "received")
            span = float(last) - float(start)
            return (int(got) / span if span > 0 else 0.0), int(got)
        finally:
            stop(sender)
    finally:
        stop(receiver)


PAIRS_RTT = [("Pinion Python → Python", "pinion-ping", "pinion-pong"),
             ("Pinion Python → Rust", "pinion-ping", "rust"),
             ("rospy → rospy", "rospy-ping", "rospy-pong")]
PAIRS_TP = [("Pinion Python → Python", "pinion-source", "pinion-sink"),
            ("Pinion Python → Rust", "pinion-source", "rust"),
            ("Pinion Rust → Rust", "rust", "rust"),
            ("rospy → rospy", "rospy-source", "rospy-sink")]


def human(size):
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} B"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of every figure; the median run is shown")
    args = parser.parse_args(argv)
    for need in (RELEASE / "pinion", RELEASE / "pinion-bench"):
        if not need.exists():
            raise SystemExit(f"{need} is missing: cargo build --release -p pinion-cli -p pinion-bench")
    if shutil.which("rosmaster") is None or subprocess.run(
            [ROS_PYTHON, "-c", "import rospy, std_msgs.msg"], capture_output=True).returncode:
        raise SystemExit("rospy is missing: apt-get install python3-rospy python3-rosmaster "
                         "python3-std-msgs (scripts/bench-python does)")
    with tempfile.TemporaryDirectory(prefix="pinion-pybench-") as scratch:
        run = Run(pathlib.Path(scratch))
        try:
            run.start_masters()
            report(run, args.repeat)
        finally:
            run.close()


def report(run, repeat):
    print(f"Round trips (median of {repeat} runs; µs, p50 / p99), one host:")
    print(f"{'size':>7}  {'pair':<24} {'p50':>9} {'p99':>9}  {'p50 rospy/this':>14}")
    for size in SIZES:
        results = {}
        for _ in range(repeat):  # the pairs alternate within a repeat
            for label, ping, pong in PAIRS_RTT:
                results.setdefault(label, []).append(round_trip(run, ping, pong, size, ROUNDS[size]))
        ros = statistics.median(r[0] for r in results["rospy → rospy"])
        for label, _, _ in PAIRS_RTT:
            p50 = statistics.median(r[0] for r in results[label])
            p99 = statistics.median(r[1] for r in results[label])
            print(f"{human(size):>7}  {label:<24} {p50:9.1f} {p99:9.1f}  {ros / p50:14.2f}")
    print()
    print(f"Throughput, lossless (median of {repeat} runs; messages/s, MB/s), one host:")
    print(f"{'size':>7}  {'pair':<24} {'msg/s':>9} {'MB/s':>8} {'lost':>5}  "
          f"{'this/rospy':>10} {'this/Rust→Rust':>14}")
    for size in SIZES:
        results = {}
        for _ in range(repeat):
            for label, source, sink in PAIRS_TP:
                results.setdefault(label, []).append(
                    throughput(run, source, sink, size, BURST[size]))
        rate = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
        for label, _, _ in PAIRS_TP:
            lost = sum(BURST[size] - r[1] for r in results[label])
            print(f"{human(size):>7}  {label:<24} {rate[label]:9.0f} "
                  f"{rate[label] * size / 1e6:8.1f} {lost:5d}  "
                  f"{rate[label] / rate['rospy → rospy']:10.2f} "
                  f"{rate[label] / rate['Pinion Rust → Rust']:14.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "role":
        ROLES[sys.argv[2]](sys.argv[3:])
    else:
        main(sys.argv[1:])
