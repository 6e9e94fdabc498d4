"""Publishes Chatter on `chatter`, like the Rust talker: python3 talker.py [--count N] [--rate HZ]"""

import argparse
import pinion
from chatter import Chatter

args = argparse.ArgumentParser()
args.add_argument("--count", type=int, default=0)
args.add_argument("--rate", type=float, default=10.0)
args.add_argument("--wait-for", type=int, default=0)
opts = args.parse_args()

with pinion.Node("py_talker") as node:
    pub = node.advertise("chatter", Chatter)
    if opts.wait_for:
        pub.wait_for_subscribers(opts.wait_for, timeout=15.0)
    for seq in node.rate(opts.rate):
        pub.publish(Chatter(seq=seq, text="hello from python"))
        if seq + 1 == opts.count:
            break
