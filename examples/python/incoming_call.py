"""Incoming-call pop-up, blocking (no asyncio): when a call rings at a phone, show who
calls (number and name), as a CRM opens the caller's record. One line per ringing call.

    python examples/python/incoming_call.py ami://admin:secret@pbx:5038   # until Ctrl-C
    python examples/python/incoming_call.py      # no PBX: an in-process simulator, 2 calls
"""

import sys
import threading
import time
from typing import Optional

import ctilink
from ctilink import events


def run(url: str, count: Optional[int], limit: Optional[float]) -> int:
    """Shows a pop-up per call ringing at a phone until ``count`` were shown or ``limit``
    seconds passed; returns how many were shown."""
    shown = 0
    with ctilink.connect_sync(url) as session:
        stream = session.events()
        print("waiting for calls...", flush=True)
        deadline = None if limit is None else time.monotonic() + limit
        while count is None or shown < count:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            # Blocks with the GIL released; Ctrl-C interrupts it.
            ev = stream.next(timeout=left)
            if ev is None:
                break
            # The user's own phone ringing for a click-to-dial is not an incoming call.
            if not isinstance(ev, events.Delivered) or ev.click_to_dial:
                continue
            number = ev.caller.number or "unknown number"
            print(f"pop-up at {ev.device}: call from {number} {ev.caller.name}".rstrip(), flush=True)
            shown += 1
    return shown


def main(argv: list[str]) -> int:
    if len(argv) == 1:
        run(argv[0], None, None)
    elif not argv:
        with ctilink.Simulator(extensions="100-104", answer_delay=0.5) as sim:

            def place_calls() -> None:
                # Once the session logged in (and a moment to subscribe), as a caller would.
                give_up = time.monotonic() + 10
                while sim.logins() < 1 and time.monotonic() < give_up:
                    time.sleep(0.02)
                for from_, to in (("101", "100"), ("103", "102")):
                    time.sleep(0.5)
                    sim.place_call(from_, to)

            caller = threading.Thread(target=place_calls, daemon=True)
            caller.start()
            run(sim.url, 2, 10.0)
            caller.join(timeout=5)
            sim.hangup_all()
    else:
        print("usage: incoming_call.py [URL]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ctilink.CtiError as e:
        print(f"incoming_call: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
