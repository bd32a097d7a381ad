"""Shared pieces of the tests: a fast simulated office, and one client interface with two
implementations (asyncio and blocking) so that every scenario runs through both APIs.

Everything runs against ``ctilink.Simulator`` over real TCP on 127.0.0.1, port 0.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import pytest

import ctilink
from ctilink import events

REPO = Path(__file__).resolve().parents[2]
WAIT = 5.0  # seconds any single expected event may take


def sigint_default() -> None:
    """For a child process that must see Ctrl-C: a shell running the tests in the background
    makes its children ignore SIGINT, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def fast_office(**overrides: Any) -> ctilink.Simulator:
    """Phones 100-109 ringing briefly; 108 and 109 ring until Dial() gives up after 1.5 s
    (as the Rust tests' ``fast_office``)."""
    settings: dict = dict(
        extensions="100-109",
        ring_delay=0.05,
        answer_delay=0.15,
        no_answer=["108", "109"],
        dial_timeout=1.5,
    )
    settings.update(overrides)
    return ctilink.Simulator(**settings)


@pytest.fixture
def sim() -> Iterator[ctilink.Simulator]:
    s = fast_office()
    try:
        yield s
    finally:
        s.shutdown()


def is_(ev: ctilink.Event, cls: type, device: Optional[str] = None, call: Optional[str] = None) -> bool:
    """``ev`` is of class ``cls`` (at ``device``, in ``call``, when given)."""
    return (
        isinstance(ev, cls)
        and (device is None or ev.device == device)
        and (call is None or ev.call == call)
    )


class Client:
    """A session and one event subscription, driven the same way whichever API is under
    test. ``until`` waits for a matching event and keeps what it saw for failure messages."""

    flavour = ""

    def __init__(self) -> None:
        self.seen: List[ctilink.Event] = []

    def cmd(self, name: str, *args: Any) -> Any:
        raise NotImplementedError

    def next(self, timeout: Optional[float]) -> Optional[ctilink.Event]:
        raise NotImplementedError

    @property
    def session(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def until(self, what: str, pred: Callable[[ctilink.Event], bool], timeout: float = WAIT) -> ctilink.Event:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ev = self.next(max(0.0, left)) if left > 0 else None
            if ev is None:
                seen = "\n  ".join(repr(e) for e in self.seen[-40:])
                raise AssertionError(f"[{self.flavour}] timed out waiting for {what}; saw:\n  {seen}")
            self.seen.append(ev)
            if pred(ev):
                return ev


class AsyncClient(Client):
    """The asyncio API, on an event loop of its own that runs while a call is made."""

    flavour = "asyncio"

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        try:
            self._s = self.run(ctilink.connect(url, **options))
        except BaseException:
            self.loop.close()
            raise
        self.stream = self._s.events()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 30))

    @property
    def session(self) -> ctilink.Session:
        return self._s

    def cmd(self, name: str, *args: Any) -> Any:
        return self.run(getattr(self._s, name)(*args))

    def next(self, timeout: Optional[float]) -> Optional[ctilink.Event]:
        return self.run(self.stream.next(timeout))

    def close(self) -> None:
        if not self.loop.is_closed():
            self.run(self._s.close())
            self.loop.close()


class SyncClient(Client):
    """The blocking API."""

    flavour = "blocking"

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__()
        self._s = ctilink.connect_sync(url, **options)
        self.stream = self._s.events()

    @property
    def session(self) -> ctilink.SyncSession:
        return self._s

    def cmd(self, name: str, *args: Any) -> Any:
        return getattr(self._s, name)(*args)

    def next(self, timeout: Optional[float]) -> Optional[ctilink.Event]:
        return self.stream.next(timeout)

    def close(self) -> None:
        self._s.close()


FLAVOURS = {"asyncio": AsyncClient, "blocking": SyncClient}


@pytest.fixture(params=sorted(FLAVOURS))
def connect(request: Any) -> Iterator[Callable[..., Client]]:
    """``connect(url, **options)`` with the API of the test's parameter; closes what it made."""
    made: List[Client] = []

    def make(url: str, **options: Any) -> Client:
        c = FLAVOURS[request.param](url, **options)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def talking(sim: ctilink.Simulator, c: Client, from_: str, to: str) -> str:
    """A call from phone ``from_`` to ``to``, answered; its id."""
    sim.place_call(from_, to)
    return c.until(f"{to} answers", lambda e: is_(e, events.Established, to)).call or ""


def ringing(sim: ctilink.Simulator, c: Client, from_: str, to: str) -> str:
    """A call from ``from_`` ringing at ``to`` (a phone that does not answer by itself)."""
    sim.place_call(from_, to)
    return c.until(f"{to} rings", lambda e: is_(e, events.Delivered, to)).call or ""


def state(c: Client, call: str, device: str) -> Optional[ctilink.ConnectionState]:
    """The connection state of ``device`` in ``call`` in the session's model now."""
    found = c.session.call(call)
    conn = found.connection(device) if found else None
    return conn.state if conn else None
