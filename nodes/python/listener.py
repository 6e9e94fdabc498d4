"""Prints the Chatter messages of `chatter`, like the Rust listener: python3 listener.py [--count N]"""

import argparse
import pinion
from chatter import Chatter

args = argparse.ArgumentParser()
args.add_argument("--count", type=int, default=0)
opts = args.parse_args()

with pinion.Node("py_listener") as node:
    chatter = node.subscribe("chatter", Chatter)
    print("subscribed", flush=True)
    for n, msg in enumerate(chatter, start=1):
        print(f"seq={msg.seq} text={msg.text}", flush=True)
        if n == opts.count:
            break
