#!/usr/bin/env python3
"""Command round trip from Python: from calling a command to having the PBX's acceptance,
one command at a time, against the in-process simulator over TCP on 127.0.0.1.

- ``make_call``: one AMI ``Originate`` and its ``Response`` (ctilink also validates it
  against the call model first); panoramisk sends the same ``Originate``.
- ``set_do_not_disturb``: ``DBPut`` then ``Setvar``, one after the other; panoramisk sends
  the same two actions in turn.

Phones ring for a minute so that calls stay up while they are counted; they are hung up in
batches so that the simulated PBX does not fill up (outside the timing). Prints one JSON
object per (implementation, command) with nearest-rank percentiles in microseconds.
"""

import argparse
import asyncio
import json
import math
import time

import ctilink


def pct(sorted_ns: list, p: float) -> float:
    i = min(len(sorted_ns), max(1, math.ceil(len(sorted_ns) * p))) - 1
    return sorted_ns[i] / 1000.0


def report(impl: str, command: str, ns: list) -> None:
    ns.sort()
    print(json.dumps({
        "implementation": impl, "command": command, "n": len(ns),
        "p50_us": pct(ns, 0.5), "p99_us": pct(ns, 0.99), "max_us": pct(ns, 1.0),
    }))


def simulator() -> ctilink.Simulator:
    return ctilink.Simulator(extensions="100-199", ring_delay=60.0)


async def ctilink_asyncio(n: int) -> None:
    with simulator() as sim:
        s = await ctilink.connect(sim.url + "?astdb=1")
        calls = []
        for i in range(n):
            t = time.perf_counter_ns()
            await s.make_call(str(100 + i % 100), "200")
            calls.append(time.perf_counter_ns() - t)
            if i % 100 == 99:
                sim.hangup_all()
        sim.hangup_all()
        dnd = []
        for i in range(n):
            t = time.perf_counter_ns()
            await s.set_do_not_disturb("150", i % 2 == 0)
            dnd.append(time.perf_counter_ns() - t)
        await s.close()
    report("ctilink asyncio", "make_call", calls)
    report("ctilink asyncio", "set_do_not_disturb", dnd)


def ctilink_blocking(n: int) -> None:
    with simulator() as sim:
        s = ctilink.connect_sync(sim.url + "?astdb=1")
        calls = []
        for i in range(n):
            t = time.perf_counter_ns()
            s.make_call(str(100 + i % 100), "200")
            calls.append(time.perf_counter_ns() - t)
            if i % 100 == 99:
                sim.hangup_all()
        sim.hangup_all()
        dnd = []
        for i in range(n):
            t = time.perf_counter_ns()
            s.set_do_not_disturb("150", i % 2 == 0)
            dnd.append(time.perf_counter_ns() - t)
        s.close()
    report("ctilink blocking", "make_call", calls)
    report("ctilink blocking", "set_do_not_disturb", dnd)


async def panoramisk_roundtrip(n: int) -> None:
    import panoramisk

    with simulator() as sim:
        m = panoramisk.Manager(
            loop=asyncio.get_running_loop(), host="127.0.0.1", port=sim.port, username="admin",
            secret="secret", ping_delay=3600,
        )
        await m.connect()
        deadline = time.monotonic() + 10
        while not getattr(m, "authenticated", False):
            if time.monotonic() > deadline:
                raise RuntimeError("panoramisk did not log in")
            await asyncio.sleep(0.01)
        calls = []
        for i in range(n):
            dev = str(100 + i % 100)
            t = time.perf_counter_ns()
            r = await m.send_action({
                "Action": "Originate", "Channel": f"PJSIP/{dev}", "Context": "internal", "Exten": "200",
                "Priority": "1", "Async": "true", "CallerID": f"<{dev}>", "ChannelId": f"pano-{i}",
            }, as_list=False)  # the Response only: panoramisk would also wait for OriginateResponse
            calls.append(time.perf_counter_ns() - t)
            assert r.success, r
            if i % 100 == 99:
                sim.hangup_all()
        sim.hangup_all()
        dnd = []
        for i in range(n):
            on = i % 2 == 0
            t = time.perf_counter_ns()
            r1 = await m.send_action({"Action": "DBPut", "Family": "DND", "Key": "150", "Val": "YES"})
            r2 = await m.send_action({
                "Action": "Setvar", "Variable": "DEVICE_STATE(Custom:DND150)",
                "Value": "BUSY" if on else "NOT_INUSE",
            })
            dnd.append(time.perf_counter_ns() - t)
            assert r1.success and r2.success, (r1, r2)
        m.close()
    report("panoramisk", "make_call (Originate)", calls)
    report("panoramisk", "set_do_not_disturb (DBPut + Setvar)", dnd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("impl", choices=["ctilink-asyncio", "ctilink-blocking", "panoramisk"])
    ap.add_argument("-n", type=int, default=2000, help="commands of each kind")
    args = ap.parse_args()
    if args.impl == "ctilink-asyncio":
        asyncio.run(ctilink_asyncio(args.n))
    elif args.impl == "ctilink-blocking":
        ctilink_blocking(args.n)
    else:
        asyncio.run(panoramisk_roundtrip(args.n))


if __name__ == "__main__":
    main()
