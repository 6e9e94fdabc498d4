"""Drives the rover from Python: Twist on `cmd_vel` at 10 Hz (the motor driver stops
without a command for 0.5 s).

    python3 teleop.py --linear 0.3 --angular 0.2 --seconds 5
    python3 teleop.py --keys          # w/s: faster/slower, a/d: left/right, space: stop; Enter after each
"""

import argparse
import select
import sys

import pinion
from pinion.msgs.geometry import Twist, Vector3

args = argparse.ArgumentParser()
args.add_argument("--linear", type=float, default=0.0, help="m/s")
args.add_argument("--angular", type=float, default=0.0, help="rad/s")
args.add_argument("--seconds", type=float, default=0.0, help="0: until Ctrl-C")
args.add_argument("--keys", action="store_true", help="change the command from the keyboard")
opts = args.parse_args()

STEP = {"w": (0.1, 0.0), "s": (-0.1, 0.0), "a": (0.0, 0.3), "d": (0.0, -0.3)}
linear, angular = opts.linear, opts.angular
with pinion.Node("py_teleop") as node:
    cmd_vel = node.advertise("cmd_vel", Twist)
    for tick in node.rate(10):
        if opts.keys and select.select([sys.stdin], [], [], 0)[0]:
            for key in sys.stdin.readline().strip():
                if key == " ":
                    linear, angular = 0.0, 0.0
                elif key in STEP:
                    linear += STEP[key][0]
                    angular += STEP[key][1]
            node.logger.info("command: %.2f m/s, %.2f rad/s", linear, angular)
        cmd_vel.publish(Twist(linear=Vector3(x=linear), angular=Vector3(z=angular)))
        if opts.seconds and tick >= opts.seconds * 10:
            break
