"""Click-to-dial with asyncio: ring your own phone, and when you answer, call a number.
Prints the call's progress and, last, the outcome as one word: ``answered``, ``busy``,
``no-answer`` or ``failed`` (the same words as the Rust example and ``ctilink dial``).

    python examples/python/click_to_dial.py ami://admin:secret@pbx:5038 100 0301234567
    python examples/python/click_to_dial.py       # no PBX: an in-process simulator
"""

import asyncio
import sys
import time

import ctilink
from ctilink import events


async def run(url: str, from_: str, to: str, limit: float) -> ctilink.DialOutcome:
    """Places the call and follows its events until the outcome is known or ``limit``
    seconds passed (then the outcome is ``failed``, or the failure seen so far)."""
    async with await ctilink.connect(url) as session:
        # Subscribe before dialing, so that no event of the call is missed.
        stream = session.events()
        call = await session.make_call(from_, to)
        print(f"call {call}: your phone {from_} rings; answer it to call {to}", flush=True)
        # DialProgress (from the core) turns the call's events into the outcome a user tells.
        progress = ctilink.DialProgress(call, from_, to)
        deadline = time.monotonic() + limit
        outcome = None
        while outcome is None:
            ev = await stream.next(timeout=max(0.0, deadline - time.monotonic()))
            if ev is None:
                outcome = progress.pending_failure or ctilink.DialOutcome.FAILED
            elif isinstance(ev, events.LinkDown):
                outcome = ctilink.DialOutcome.FAILED
            else:
                if ev.call == call:
                    print(f"  {ev.kind} {ev.device or ''}", flush=True)
                outcome = progress.apply(ev)
    print(outcome)
    return outcome


def main(argv: list[str]) -> int:
    if len(argv) == 3:
        url, from_, to = argv
        asyncio.run(run(url, from_, to, 120.0))
    elif not argv:
        # No PBX: a simulated one in this process, whose phones answer after a second.
        with ctilink.Simulator(extensions="100-104", ring_delay=0.5, answer_delay=1.0) as sim:
            asyncio.run(run(sim.url, "100", "101", 10.0))
    else:
        print("usage: click_to_dial.py [URL FROM TO]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ctilink.CtiError as e:
        print(f"click_to_dial: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
