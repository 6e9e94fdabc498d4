"""The asyncio face: `async for` over a subscriber, `await publish_async`, with Rust
nodes on the other side."""

import asyncio

import pinion
from conftest import DEADLINE


@pinion.message("demo/Chatter")
class Chatter:
    seq: pinion.u64
    text: str


def test_asyncio_receives_from_rust_and_publishes_to_rust(robot, monkeypatch):
    for k, v in robot.env().items():
        monkeypatch.setenv(k, v)
    talker = robot.rust("talker", "--rate", "20", "--topic", "to_python", "--text", "async")
    listener = robot.rust("listener", "--count", "3")

    async def main(node):
        got = []
        async for msg in node.subscribe("to_python", Chatter):
            got.append(msg)
            if len(got) == 3:
                break
        pub = node.advertise("chatter", Chatter)
        await asyncio.get_running_loop().run_in_executor(None, pub.wait_for_subscribers, 1, 10.0)
        for seq in range(50):
            await pub.publish_async(Chatter(seq=seq, text="from asyncio"))
            if listener.poll() is not None:
                break
            await asyncio.sleep(0.05)  # the publishing rate, not a wait for an event
        return got

    with pinion.Node("py_async") as node:
        got = asyncio.run(asyncio.wait_for(main(node), DEADLINE))
    assert [m.text for m in got] == ["async"] * 3
    out, _ = listener.communicate(timeout=DEADLINE)
    assert out.count("text=from asyncio") == 3, out
    talker.kill()
