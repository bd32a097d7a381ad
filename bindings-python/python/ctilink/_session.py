"""The Session, for asyncio (``Session``, ``connect``) and for blocking code
(``SyncSession``, ``connect_sync``).

Both are thin: each command is one call into the core's ``Session``, which validates it,
sends it and tracks the call. The asyncio flavour awaits the core's future on the ctilink
runtime; the blocking one waits with the GIL released and comes back every 50 ms to let
Ctrl-C raise ``KeyboardInterrupt``.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence, Union

from . import _native
from ._enums import ForwardKind, LinkStatus, PhoneControl
from ._errors import Closed
from ._native import Call, Device, Event, Snapshot

__all__ = ["EventStream", "Session", "SyncEventStream", "SyncSession", "connect", "connect_sync"]


def _options(
    event_queue: Optional[int],
    link_queue: Optional[int],
    monitor: Optional[Sequence[str]],
    timeout: Optional[float],
    connect_timeout: Optional[float],
    reconnect: Optional[bool],
    phone_control: Union[PhoneControl, str, None],
    astdb: Union[bool, str, None],
    context: Optional[str],
    technology: Optional[str],
    originate_timeout: Optional[float],
    consultation_timeout: Optional[float],
) -> dict[str, Any]:
    return {
        "event_queue": event_queue,
        "link_queue": link_queue,
        "monitor": None if monitor is None else list(monitor),
        "timeout": timeout,
        "connect_timeout": connect_timeout,
        "reconnect": reconnect,
        "phone_control": None if phone_control is None else str(phone_control),
        "astdb": astdb,
        "context": context,
        "technology": technology,
        "originate_timeout": originate_timeout,
        "consultation_timeout": consultation_timeout,
    }


async def connect(
    url: str,
    *,
    event_queue: Optional[int] = None,
    link_queue: Optional[int] = None,
    monitor: Optional[Sequence[str]] = None,
    timeout: Optional[float] = None,
    connect_timeout: Optional[float] = None,
    reconnect: Optional[bool] = None,
    phone_control: Union[PhoneControl, str, None] = None,
    astdb: Union[bool, str, None] = None,
    context: Optional[str] = None,
    technology: Optional[str] = None,
    originate_timeout: Optional[float] = None,
    consultation_timeout: Optional[float] = None,
) -> Session:
    """Connects to a PBX: ``ami://user:secret@host:5038`` (``amis://`` for TLS), with the
    URL parameters of the core (``control=pjsip``, ``astdb=1`` or ``astdb=freepbx``, ``auth=md5``,
    ``monitor=100,101``, ``timeout_ms=``, ``reconnect=0``...). Keywords override them;
    durations are in seconds. ``event_queue`` (4096) bounds each ``events()`` stream: a
    consumer further behind gets ``Lagged``. ``link_queue`` (4096) bounds the AMI link
    between the socket and the call model: a burst from the PBX larger than that, faster
    than the model takes it, makes the link resynchronise (``Resynced``).

    Returns once logged in and once the model holds the PBX's devices and calls, so that
    ``snapshot()`` is complete at once. Raises ``InvalidUrl``, ``ConnectError``,
    ``AuthFailed``, ``TlsError`` or ``Timeout``.
    """
    op = _native.connect(
        url,
        **_options(
            event_queue, link_queue, monitor, timeout, connect_timeout, reconnect, phone_control, astdb,
            context, technology, originate_timeout, consultation_timeout,
        ),
    )
    return Session(await op)


def connect_sync(
    url: str,
    *,
    event_queue: Optional[int] = None,
    link_queue: Optional[int] = None,
    monitor: Optional[Sequence[str]] = None,
    timeout: Optional[float] = None,
    connect_timeout: Optional[float] = None,
    reconnect: Optional[bool] = None,
    phone_control: Union[PhoneControl, str, None] = None,
    astdb: Union[bool, str, None] = None,
    context: Optional[str] = None,
    technology: Optional[str] = None,
    originate_timeout: Optional[float] = None,
    consultation_timeout: Optional[float] = None,
) -> SyncSession:
    """``connect`` for code without asyncio: blocks until connected (Ctrl-C interrupts it)
    and returns a ``SyncSession``."""
    op = _native.connect(
        url,
        **_options(
            event_queue, link_queue, monitor, timeout, connect_timeout, reconnect, phone_control, astdb,
            context, technology, originate_timeout, consultation_timeout,
        ),
    )
    return SyncSession(op.wait())


class _Base:
    """What both flavours share: the parts that never wait."""

    __slots__ = ("_n",)

    def __init__(self, native: _native.NativeSession) -> None:
        """Sessions are made by ``connect`` / ``connect_sync``."""
        self._n = native

    def snapshot(self) -> Snapshot:
        """Devices and calls now (complete from the moment ``connect`` returned)."""
        return self._n.snapshot()

    def device(self, id: str) -> Optional[Device]:
        """The device ``id`` now, or ``None`` if the PBX did not report it."""
        return self._n.device(id)

    def call(self, id: str) -> Optional[Call]:
        """The open call ``id`` now, or ``None``."""
        return self._n.call(id)

    def status(self) -> LinkStatus:
        """``UP``, ``DOWN`` (reconnecting: commands fail with ``LinkDown``) or ``CLOSED``."""
        return self._n.status()

    def down_reason(self) -> Optional[str]:
        """Why the link is down, while it is."""
        return self._n.down_reason()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status().value}>"


class Session(_Base):
    """A connection to a PBX with its call model, for asyncio.

    Every command returns when the PBX accepted or refused it (raising ``UnknownDevice``,
    ``UnknownCall``, ``NotAllowed``, ``InvalidArgument``, ``Unsupported``, ``PbxRefused``,
    ``Timeout``, ``LinkDown`` or ``Closed``); what follows arrives as events. Subscribe with
    ``events()`` before acting, to miss nothing.
    """

    __slots__ = ()

    def events(self) -> EventStream:
        """The events from now on, as an async iterator that ends when the session closes."""
        return EventStream(self._n.events())

    async def make_call(self, from_: str, to: str) -> str:
        """Click-to-dial: rings ``from_`` (the user's phone); when it answers, calls ``to``.
        Returns the call's id at once; its events follow."""
        result: str = await self._n.make_call(from_, to)
        return result

    async def answer(self, call: str, device: str) -> None:
        """Answers ``call`` ringing at ``device`` (needs phone control)."""
        await self._n.answer(call, device)

    async def clear_connection(self, call: str, device: str) -> None:
        """Hangs up ``device``'s part of ``call``."""
        await self._n.clear_connection(call, device)

    async def clear_call(self, call: str) -> None:
        """Ends ``call`` for every party."""
        await self._n.clear_call(call)

    async def hold(self, call: str, device: str) -> None:
        """Puts ``call`` on hold at ``device`` (needs phone control)."""
        await self._n.hold(call, device)

    async def retrieve(self, call: str, device: str) -> None:
        """Takes ``call`` off hold at ``device`` (needs phone control)."""
        await self._n.retrieve(call, device)

    async def single_step_transfer(self, call: str, device: str, to: str) -> None:
        """Blind transfer: the party talking to ``device`` goes to ``to``; ``device`` is
        released."""
        await self._n.single_step_transfer(call, device, to)

    async def consultation_call(self, call: str, device: str, to: str) -> str:
        """Holds ``call`` and calls ``to`` from ``device``; returns the new call's id.
        Complete with ``transfer_call``."""
        result: str = await self._n.consultation_call(call, device, to)
        return result

    async def transfer_call(self, held: str, active: str) -> None:
        """Attended transfer: joins the other party of ``held`` with the other party of
        ``active`` (the consultation call) and releases the transferring device."""
        await self._n.transfer_call(held, active)

    async def deflect(self, call: str, device: str, to: str) -> None:
        """Sends ``call``, ringing at ``device``, to ``to`` instead."""
        await self._n.deflect(call, device, to)

    async def pickup(self, device: str, call_or_device: str) -> None:
        """Takes at ``device`` a call ringing elsewhere (a call id or the ringing device)."""
        await self._n.pickup(device, call_or_device)

    async def send_dtmf(self, call: str, device: str, digits: str) -> None:
        """Sends DTMF ``digits`` (``0-9*#A-D``) from ``device`` to the other party."""
        await self._n.send_dtmf(call, device, digits)

    async def set_do_not_disturb(self, device: str, on: bool) -> None:
        """Do-not-disturb on or off (needs the AstDB convention)."""
        await self._n.set_do_not_disturb(device, on)

    async def set_forwarding(
        self, device: str, kind: Union[ForwardKind, str], to: Optional[str] = None
    ) -> None:
        """Forwarding of ``kind`` to ``to``, or off with ``None`` (needs the AstDB
        convention)."""
        await self._n.set_forwarding(device, str(kind), to)

    async def close(self) -> None:
        """Logs off: event streams end, later commands raise ``Closed``."""
        await self._n.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SyncSession(_Base):
    """``Session`` for code without asyncio: the same methods, blocking. Safe to share
    between threads (one thread may read events while others send commands); every wait
    releases the GIL, and Ctrl-C interrupts it."""

    __slots__ = ()

    def events(self, timeout: Optional[float] = None) -> SyncEventStream:
        """The events from now on, as an iterator that ends when the session closes or, with
        ``timeout``, when no event came for that many seconds."""
        return SyncEventStream(self._n.events(), timeout)

    def make_call(self, from_: str, to: str) -> str:
        """Click-to-dial: rings ``from_`` (the user's phone); when it answers, calls ``to``.
        Returns the call's id at once; its events follow."""
        result: str = self._n.make_call(from_, to).wait()
        return result

    def answer(self, call: str, device: str) -> None:
        """Answers ``call`` ringing at ``device`` (needs phone control)."""
        self._n.answer(call, device).wait()

    def clear_connection(self, call: str, device: str) -> None:
        """Hangs up ``device``'s part of ``call``."""
        self._n.clear_connection(call, device).wait()

    def clear_call(self, call: str) -> None:
        """Ends ``call`` for every party."""
        self._n.clear_call(call).wait()

    def hold(self, call: str, device: str) -> None:
        """Puts ``call`` on hold at ``device`` (needs phone control)."""
        self._n.hold(call, device).wait()

    def retrieve(self, call: str, device: str) -> None:
        """Takes ``call`` off hold at ``device`` (needs phone control)."""
        self._n.retrieve(call, device).wait()

    def single_step_transfer(self, call: str, device: str, to: str) -> None:
        """Blind transfer: the party talking to ``device`` goes to ``to``; ``device`` is
        released."""
        self._n.single_step_transfer(call, device, to).wait()

    def consultation_call(self, call: str, device: str, to: str) -> str:
        """Holds ``call`` and calls ``to`` from ``device``; returns the new call's id.
        Complete with ``transfer_call``."""
        result: str = self._n.consultation_call(call, device, to).wait()
        return result

    def transfer_call(self, held: str, active: str) -> None:
        """Attended transfer: joins the other party of ``held`` with the other party of
        ``active`` (the consultation call) and releases the transferring device."""
        self._n.transfer_call(held, active).wait()

    def deflect(self, call: str, device: str, to: str) -> None:
        """Sends ``call``, ringing at ``device``, to ``to`` instead."""
        self._n.deflect(call, device, to).wait()

    def pickup(self, device: str, call_or_device: str) -> None:
        """Takes at ``device`` a call ringing elsewhere (a call id or the ringing device)."""
        self._n.pickup(device, call_or_device).wait()

    def send_dtmf(self, call: str, device: str, digits: str) -> None:
        """Sends DTMF ``digits`` (``0-9*#A-D``) from ``device`` to the other party."""
        self._n.send_dtmf(call, device, digits).wait()

    def set_do_not_disturb(self, device: str, on: bool) -> None:
        """Do-not-disturb on or off (needs the AstDB convention)."""
        self._n.set_do_not_disturb(device, on).wait()

    def set_forwarding(
        self, device: str, kind: Union[ForwardKind, str], to: Optional[str] = None
    ) -> None:
        """Forwarding of ``kind`` to ``to``, or off with ``None`` (needs the AstDB
        convention)."""
        self._n.set_forwarding(device, str(kind), to).wait()

    def close(self) -> None:
        """Logs off: event streams end, later commands raise ``Closed``."""
        self._n.close().wait()

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventStream:
    """One subscription's events, in the PBX's order, for ``async for``. Ends when the
    session closes. A consumer that falls more than ``event_queue`` events behind gets one
    ``Lagged`` event and continues with the newest."""

    __slots__ = ("_n",)

    def __init__(self, native: _native.NativeEvents) -> None:
        self._n = native

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        n = self._n
        ev = n.try_next()
        while ev is None:
            # Only waits for the buffer to fill: a cancelled wait loses no event.
            if not await n.wait():
                raise StopAsyncIteration
            ev = n.try_next()
        return ev

    async def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event; ``None`` after ``timeout`` seconds; raises ``Closed`` once the
        session is closed and every event was handed out."""
        n = self._n
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ev = n.try_next()
            if ev is not None:
                return ev
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = await n.wait(left)
            if ready is None:
                return None
            if not ready:
                raise Closed("closed")


class SyncEventStream:
    """One subscription's events for blocking code: ``for ev in stream`` ends when the
    session closes or, if the stream has a timeout, when no event came for that long;
    ``next(timeout)`` pulls one. Waits release the GIL; Ctrl-C interrupts them."""

    __slots__ = ("_n", "_timeout")

    def __init__(self, native: _native.NativeEvents, timeout: Optional[float] = None) -> None:
        self._n = native
        self._timeout = timeout

    def __iter__(self) -> SyncEventStream:
        return self

    def __next__(self) -> Event:
        n = self._n
        ev = n.try_next()
        while ev is None:
            if not n.wait_blocking(self._timeout):
                raise StopIteration
            ev = n.try_next()
        return ev

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event; ``None`` after ``timeout`` seconds; raises ``Closed`` once the
        session is closed and every event was handed out."""
        n = self._n
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ev = n.try_next()
            if ev is not None:
                return ev
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = n.wait_blocking(left)
            if ready is None:
                return None
            if not ready:
                raise Closed("closed")
