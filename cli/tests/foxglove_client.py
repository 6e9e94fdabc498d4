"""A Foxglove WebSocket client written from the protocol's specification
(https://github.com/foxglove/ws-protocol/blob/main/docs/spec.md, subprotocol
foxglove.sdk.v1), independent of the bridge's SDK. Used by cli/tests/foxglove.rs.

    foxglove_client.py URL watch TOPIC... [--count N]
        Prints the server info, every advertised channel, then for each TOPIC N
        messages, each validated against its channel's JSON Schema (exit 1 if one
        does not validate).
    foxglove_client.py URL publish TOPIC SCHEMA_NAME MESSAGE_JSON... [--every S]
        Advertises TOPIC and sends each message in turn, S seconds apart, printing
        every status the server sends.
    foxglove_client.py URL call SERVICE REQUEST_JSON
        Calls SERVICE once it is advertised and prints the response or the failure.
    foxglove_client.py URL setparam NAME VALUE_JSON
        Subscribes to NAME's updates, sets it, and prints the values the server sends.
    foxglove_client.py URL rate TOPIC SECONDS
        Subscribes to TOPIC and prints how many messages arrived in each second.
    foxglove_client.py URL stall TOPIC SECONDS
        Subscribes to TOPIC and stops reading for SECONDS, then reads again and
        prints how many messages it got after.

Output: one JSON object per line.
"""

import asyncio
import json
import struct
import sys
import time

import jsonschema
import websockets

SUBPROTOCOL = "foxglove.sdk.v1"
MESSAGE_DATA = 0x01  # server binary opcode, and client binary opcode
SERVICE_CALL_REQUEST = 0x02  # client binary opcode
SERVICE_CALL_RESPONSE = 0x03  # server binary opcode
DEADLINE = 20.0


def say(**fields):
    print(json.dumps(fields), flush=True)


async def connect(url):
    ws = await websockets.connect(
        url, subprotocols=[SUBPROTOCOL], max_size=64 * 1024 * 1024
    )
    channels = {}
    info = None
    return ws, channels, info


async def read_until(ws, channels, wanted, statuses=None):
    """Reads text messages until `wanted(channels)`; keeps advertisements."""
    end = time.monotonic() + DEADLINE
    while not wanted(channels):
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit(f"timed out; channels so far: {sorted(c['topic'] for c in channels.values())}")
        raw = await asyncio.wait_for(ws.recv(), left)
        if isinstance(raw, bytes):
            continue
        handle_text(json.loads(raw), channels, statuses)


def handle_text(msg, channels, statuses):
    op = msg.get("op")
    if op == "serverInfo":
        say(event="serverInfo", name=msg.get("name"), capabilities=msg.get("capabilities"),
            supportedEncodings=msg.get("supportedEncodings"))
    elif op == "advertise":
        for ch in msg["channels"]:
            channels[ch["id"]] = ch
            schema = json.loads(ch["schema"]) if ch.get("schemaEncoding") == "jsonschema" else None
            if schema is not None:
                jsonschema.Draft202012Validator.check_schema(schema)
            say(event="advertise", topic=ch["topic"], encoding=ch["encoding"],
                schemaName=ch["schemaName"], schemaEncoding=ch.get("schemaEncoding"),
                schemaValid=schema is not None)
    elif op == "unadvertise":
        for cid in msg["channelIds"]:
            channels.pop(cid, None)
    elif op == "status":
        say(event="status", level=msg["level"], message=msg["message"])
        if statuses is not None:
            statuses.append(msg)


def by_topic(channels, topic):
    for ch in channels.values():
        if ch["topic"] == topic:
            return ch
    return None


async def watch(url, topics, count):
    ws, channels, _ = await connect(url)
    await read_until(ws, channels, lambda chs: all(by_topic(chs, t) for t in topics))
    subs = {}
    validators = {}
    for i, topic in enumerate(topics):
        ch = by_topic(channels, topic)
        subs[i + 1] = topic
        validators[i + 1] = jsonschema.Draft202012Validator(json.loads(ch["schema"]))
    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
        {"id": sid, "channelId": by_topic(channels, t)["id"]} for sid, t in subs.items()]}))
    got = {sid: 0 for sid in subs}
    end = time.monotonic() + DEADLINE
    while any(n < count for n in got.values()):
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit(f"timed out waiting for messages: {got}")
        raw = await asyncio.wait_for(ws.recv(), left)
        if isinstance(raw, str):
            handle_text(json.loads(raw), channels, None)
            continue
        if raw[0] != MESSAGE_DATA:
            continue
        sid, stamp = struct.unpack_from("<IQ", raw, 1)
        if sid not in subs or got[sid] >= count:
            continue
        message = json.loads(raw[13:])
        errors = [e.message for e in validators[sid].iter_errors(message)]
        got[sid] += 1
        say(event="message", topic=subs[sid], valid=not errors, errors=errors[:3],
            bytes=len(raw) - 13, message=message)
        if errors:
            raise SystemExit(f"a message on {subs[sid]} does not validate: {errors[:3]}")
    await ws.close()


async def publish(url, topic, schema_name, messages, every):
    ws, channels, _ = await connect(url)
    statuses = []
    await read_until(ws, channels, lambda chs: by_topic(chs, topic) is not None, statuses)
    await ws.send(json.dumps({"op": "advertise", "channels": [
        {"id": 7, "topic": topic, "encoding": "json", "schemaName": schema_name}]}))
    for message in messages:
        await ws.send(struct.pack("<BI", MESSAGE_DATA, 7) + message.encode())
        say(event="sent", message=message)
        end = time.monotonic() + every
        while (left := end - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                break
            if isinstance(raw, str):
                handle_text(json.loads(raw), channels, statuses)
    await ws.send(json.dumps({"op": "unadvertise", "channelIds": [7]}))
    await ws.close()


async def call(url, service, request):
    ws, channels, _ = await connect(url)
    services = {}
    end = time.monotonic() + DEADLINE
    while not any(s["name"] == service for s in services.values()):
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit(f"{service} was never advertised; services: {sorted(s['name'] for s in services.values())}")
        raw = await asyncio.wait_for(ws.recv(), left)
        if isinstance(raw, str):
            msg = json.loads(raw)
            if msg.get("op") == "advertiseServices":
                for s in msg["services"]:
                    services[s["id"]] = s
                    say(event="advertiseService", name=s["name"],
                        request=s["request"]["schemaName"], response=s["response"]["schemaName"])
            else:
                handle_text(msg, channels, None)
    sid = next(i for i, s in services.items() if s["name"] == service)
    encoding = b"json"
    await ws.send(struct.pack("<BIII", SERVICE_CALL_REQUEST, sid, 42, len(encoding)) + encoding + request.encode())
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit("no answer to the call")
        raw = await asyncio.wait_for(ws.recv(), left)
        if isinstance(raw, bytes) and raw[0] == SERVICE_CALL_RESPONSE:
            _, call_id, enc_len = struct.unpack_from("<III", raw, 1)
            payload = raw[13 + enc_len:]
            say(event="response", callId=call_id, response=json.loads(payload))
            break
        if isinstance(raw, str):
            msg = json.loads(raw)
            if msg.get("op") == "serviceCallFailure":
                say(event="failure", callId=msg["callId"], message=msg["message"])
                break
            handle_text(msg, channels, None)
    await ws.close()


async def setparam(url, name, value):
    ws, channels, _ = await connect(url)
    await ws.send(json.dumps({"op": "subscribeParameterUpdates", "parameterNames": [name]}))
    await ws.send(json.dumps({"op": "setParameters", "parameters": [{"name": name, "value": json.loads(value)}], "id": "set-1"}))
    await ws.send(json.dumps({"op": "getParameters", "parameterNames": [name], "id": "get-1"}))
    replies = set()
    end = time.monotonic() + DEADLINE
    while replies != {"set-1", "get-1"}:
        left = end - time.monotonic()
        if left <= 0:
            raise SystemExit(f"parameter replies so far: {replies}")
        raw = await asyncio.wait_for(ws.recv(), left)
        if isinstance(raw, bytes):
            continue
        msg = json.loads(raw)
        if msg.get("op") == "parameterValues":
            say(event="parameterValues", id=msg.get("id"), parameters=msg["parameters"])
            if msg.get("id"):
                replies.add(msg["id"])
        else:
            handle_text(msg, channels, None)
    await ws.close()


async def rate(url, topic, seconds):
    ws, channels, _ = await connect(url)
    await read_until(ws, channels, lambda chs: by_topic(chs, topic) is not None)
    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
        {"id": 1, "channelId": by_topic(channels, topic)["id"]}]}))
    counts = []
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        try:
            raw = await asyncio.wait_for(ws.recv(), seconds - elapsed)
        except asyncio.TimeoutError:
            break
        if isinstance(raw, bytes) and raw[0] == MESSAGE_DATA:
            second = int(time.monotonic() - start)
            counts.extend([0] * (second + 1 - len(counts)))
            counts[second] += 1
    say(event="rate", per_second=counts)
    await ws.close()


async def stall(url, topic, seconds):
    ws, channels, _ = await connect(url)
    await read_until(ws, channels, lambda chs: by_topic(chs, topic) is not None)
    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
        {"id": 1, "channelId": by_topic(channels, topic)["id"]}]}))
    say(event="stalling", seconds=seconds)
    await asyncio.sleep(seconds)  # the point of this client: it stops reading
    got = 0
    end = time.monotonic() + 5.0
    while (left := end - time.monotonic()) > 0:
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        if isinstance(raw, bytes) and raw[0] == MESSAGE_DATA:
            got += 1
    say(event="resumed", received=got)
    await ws.close()


def main():
    url, command, *rest = sys.argv[1:]
    if command == "watch":
        count = 3
        if "--count" in rest:
            i = rest.index("--count")
            count = int(rest[i + 1])
            del rest[i:i + 2]
        asyncio.run(watch(url, rest, count))
    elif command == "publish":
        every = 0.5
        if "--every" in rest:
            i = rest.index("--every")
            every = float(rest[i + 1])
            del rest[i:i + 2]
        topic, schema_name, *messages = rest
        asyncio.run(publish(url, topic, schema_name, messages, every))
    elif command == "call":
        service, request = rest
        asyncio.run(call(url, service, request))
    elif command == "setparam":
        name, value = rest
        asyncio.run(setparam(url, name, value))
    elif command == "rate":
        topic, seconds = rest
        asyncio.run(rate(url, topic, float(seconds)))
    elif command == "stall":
        topic, seconds = rest
        asyncio.run(stall(url, topic, float(seconds)))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
