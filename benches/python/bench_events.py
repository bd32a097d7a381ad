#!/usr/bin/env python3
"""Events per second delivered to a Python consumer.

The in-process simulator (Rust threads, no GIL) sends N small AMI events
(``UserEvent: Burst``, ``Seq: 1..N``) over TCP on 127.0.0.1 as fast as the client reads
(``Simulator.emit_burst``). The clock starts when the burst is requested and stops when the
consumer has the N-th event as a Python object:

- ``ctilink-asyncio``: ``async for ev in session.events()`` (each a ``ctilink.events.UserEvent``,
  through the core's decoder, call tracker and session stream);
- ``ctilink-blocking``: ``for ev in session.events()`` of a ``SyncSession``;
- ``panoramisk``: panoramisk's ``Manager`` on the same simulator, an event handler registered
  for ``UserEvent`` (each a ``panoramisk.message.Message``).

Each implementation gets a simulator of its own and one untimed warm-up burst. ctilink's two
queues (``event_queue``, ``link_queue``) are sized for the whole burst, as panoramisk's are
unbounded; a dropped event (``Lagged``, ``Resynced``) fails the run. Prints one JSON object.
"""

import argparse
import asyncio
import json
import time

import ctilink
from ctilink import events


def version(name: str) -> str:
    try:
        from importlib.metadata import version as v

        return v(name)
    except Exception:  # pragma: no cover
        return "?"


class Lost(RuntimeError):
    """Events were dropped (the run is invalid: the queues are sized so that none is)."""


def count(ev: ctilink.Event) -> int:
    if isinstance(ev, events.UserEvent):
        return 1
    if isinstance(ev, (events.Lagged, events.Resynced, events.LinkDown)):
        raise Lost(repr(ev))
    return 0


# Both queues of the session big enough for the whole burst: the figure is the rate, not
# what a bounded queue drops when a consumer is slower than the wire.
QUEUES = {"event_queue": 1 << 20, "link_queue": 1 << 20}


async def ctilink_asyncio(sim: ctilink.Simulator, n: int) -> dict:
    s = await ctilink.connect(sim.url, **QUEUES)
    stream = s.events()

    async def burst(want: int) -> float:
        got = 0
        t0 = time.perf_counter()
        sim.emit_burst(want)
        async for ev in stream:
            got += count(ev)
            if got == want:
                return time.perf_counter() - t0
        raise Lost("the stream ended")

    await asyncio.wait_for(burst(min(n, 2000)), 60)
    seconds = await asyncio.wait_for(burst(n), 600)
    await s.close()
    return {"seconds": seconds, "lagged": 0}


def ctilink_blocking(sim: ctilink.Simulator, n: int) -> dict:
    s = ctilink.connect_sync(sim.url, **QUEUES)
    # Iteration ends if nothing comes for 10 s, so that a lost event fails the run.
    stream = s.events(timeout=10)

    def burst(want: int) -> float:
        got = 0
        t0 = time.perf_counter()
        sim.emit_burst(want)
        for ev in stream:
            got += count(ev)
            if got == want:
                return time.perf_counter() - t0
        raise Lost(f"{want - got} events never came")

    burst(min(n, 2000))
    seconds = burst(n)
    s.close()
    return {"seconds": seconds, "lagged": 0}


async def panoramisk_events(sim: ctilink.Simulator, n: int) -> dict:
    import panoramisk

    port = sim.port
    manager = panoramisk.Manager(
        loop=asyncio.get_running_loop(), host="127.0.0.1", port=port, username="admin", secret="secret",
        ping_delay=3600,
    )
    await manager.connect()
    deadline = time.monotonic() + 10
    while not getattr(manager, "authenticated", False):
        if time.monotonic() > deadline:
            raise RuntimeError("panoramisk did not log in")
        await asyncio.sleep(0.01)
    state = {"want": 0, "got": 0, "done": None}

    def on_event(_manager, message) -> None:
        if message.get("UserEvent") == "Burst":
            state["got"] += 1
            if state["got"] == state["want"] and state["done"] is not None:
                state["done"].set_result(None)

    manager.register_event("UserEvent", on_event)

    async def burst(count: int) -> float:
        state.update(want=count, got=0, done=asyncio.get_running_loop().create_future())
        t0 = time.perf_counter()
        sim.emit_burst(count)
        await asyncio.wait_for(state["done"], 600)
        return time.perf_counter() - t0

    await burst(min(n, 2000))
    seconds = await burst(n)
    manager.close()
    return {"seconds": seconds, "lagged": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("impl", choices=["ctilink-asyncio", "ctilink-blocking", "panoramisk"])
    ap.add_argument("-n", type=int, default=100_000, help="events in the timed burst")
    args = ap.parse_args()
    with ctilink.Simulator(extensions="100-109") as sim:
        if args.impl == "ctilink-asyncio":
            r = asyncio.run(ctilink_asyncio(sim, args.n))
            name = f"ctilink {ctilink.__version__} asyncio"
        elif args.impl == "ctilink-blocking":
            r = ctilink_blocking(sim, args.n)
            name = f"ctilink {ctilink.__version__} blocking"
        else:
            r = asyncio.run(panoramisk_events(sim, args.n))
            name = f"panoramisk {version('panoramisk')}"
    print(json.dumps({
        "implementation": name,
        "events": args.n,
        "seconds": r["seconds"],
        "events_per_s": args.n / r["seconds"],
    }))


if __name__ == "__main__":
    main()
