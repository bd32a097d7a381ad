"""ctilink: a CTI SDK for PBXs (Asterisk Manager Interface). Click-to-dial, incoming-call
events, extension states and call control, from asyncio or from blocking code::

    import asyncio, ctilink
    from ctilink import events

    async def main() -> None:
        async with await ctilink.connect("ami://admin:secret@pbx:5038?control=pjsip") as s:
            stream = s.events()
            call = await s.make_call("100", "0301234567")
            progress = ctilink.DialProgress(call, "100", "0301234567")
            async for ev in stream:
                if (outcome := progress.apply(ev)) is not None:
                    print(outcome)  # answered, busy, no-answer or failed
                    break

    asyncio.run(main())

``ctilink.Simulator()`` runs a simulated PBX in-process for trying and testing scripts.
The core is Rust; this package is a thin binding over it (``ctilink._native``).
"""

import atexit

from . import _native, events
from ._enums import (
    ConnectionState,
    DeviceState,
    DialOutcome,
    DivertReason,
    EventKind,
    FailureReason,
    ForwardKind,
    LinkStatus,
    PhoneControl,
    Presentation,
    TransferKind,
)
from ._errors import (
    AuthFailed,
    Busy,
    Closed,
    ConnectError,
    CtiError,
    InvalidArgument,
    InvalidUrl,
    LinkDown,
    NotAllowed,
    PbxRefused,
    ProtocolError,
    SimulatorError,
    Timeout,
    TlsError,
    UnknownCall,
    UnknownDevice,
    Unsupported,
)
from ._native import (
    Call,
    Connection,
    Device,
    DialProgress,
    Diversion,
    Endpoint,
    Event,
    Party,
    Simulator,
    Snapshot,
    __version__,
    cause_name,
)
from ._session import EventStream, Session, SyncEventStream, SyncSession, connect, connect_sync

# Runtime threads hand asyncio results over with the GIL; let the last ones leave Python
# before the interpreter finalizes (see ctilink._native._quiesce).
atexit.register(_native._quiesce)

__all__ = [
    "AuthFailed",
    "Busy",
    "Call",
    "Closed",
    "ConnectError",
    "Connection",
    "ConnectionState",
    "CtiError",
    "Device",
    "DeviceState",
    "DialOutcome",
    "DialProgress",
    "Diversion",
    "DivertReason",
    "Endpoint",
    "Event",
    "EventKind",
    "EventStream",
    "FailureReason",
    "ForwardKind",
    "InvalidArgument",
    "InvalidUrl",
    "LinkDown",
    "LinkStatus",
    "NotAllowed",
    "Party",
    "PbxRefused",
    "PhoneControl",
    "Presentation",
    "ProtocolError",
    "Session",
    "Simulator",
    "SimulatorError",
    "Snapshot",
    "SyncEventStream",
    "SyncSession",
    "Timeout",
    "TlsError",
    "TransferKind",
    "UnknownCall",
    "UnknownDevice",
    "Unsupported",
    "__version__",
    "cause_name",
    "connect",
    "connect_sync",
    "events",
]
