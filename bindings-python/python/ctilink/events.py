"""The event classes: ``Event`` and one subclass per kind, as the core defines them.

Each is immutable, compares by value, prints its fields, and supports ``isinstance`` and
``match`` (``case Delivered(device="100", click_to_dial=False)``). Field names are the
core's, except where Python needs another: ``Diverted.from_`` (``from`` is a keyword),
``Transferred.transfer_kind`` and ``Forwarding.forward_kind`` (``kind`` is the
``EventKind`` every event has). ``to_dict()`` gives the JSON form the CLI and the other
bindings use.

They live in this module, not at the top of the package, because a few kinds share a name
with an exception (``LinkDown``) or an enum (``DeviceState``).
"""

from ._native import (
    CallCleared,
    Conferenced,
    ConnectionCleared,
    DeviceState,
    Delivered,
    DeviceRemoved,
    Diverted,
    DoNotDisturb,
    Established,
    Event,
    Failed,
    Forwarding,
    Held,
    Lagged,
    LinkDown,
    LinkUp,
    Originated,
    Presence,
    Queued,
    Resynced,
    Retrieved,
    Transferred,
    UserEvent,
)

__all__ = [
    "CallCleared",
    "Conferenced",
    "ConnectionCleared",
    "Delivered",
    "DeviceRemoved",
    "DeviceState",
    "Diverted",
    "DoNotDisturb",
    "Established",
    "Event",
    "Failed",
    "Forwarding",
    "Held",
    "Lagged",
    "LinkDown",
    "LinkUp",
    "Originated",
    "Presence",
    "Queued",
    "Resynced",
    "Retrieved",
    "Transferred",
    "UserEvent",
]
