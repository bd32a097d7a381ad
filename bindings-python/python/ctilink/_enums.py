"""The enums of ctilink. Values are the core's snake_case names, as in the JSON form of
events (``Event.to_json``), so that a value read from a log compares equal to a member.

Compare with members (``event.state is ConnectionState.ALERTING``) or with ``.value``;
``str(member)`` and f-strings give the value, so printing one prints the word.
"""

import enum

__all__ = [
    "ConnectionState",
    "DeviceState",
    "DialOutcome",
    "DivertReason",
    "EventKind",
    "FailureReason",
    "ForwardKind",
    "LinkStatus",
    "PhoneControl",
    "Presentation",
    "TransferKind",
]


class _StrEnum(enum.Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class EventKind(_StrEnum):
    """The kind of an event, one per class of ``ctilink.events``."""

    ORIGINATED = "originated"
    DELIVERED = "delivered"
    ESTABLISHED = "established"
    HELD = "held"
    RETRIEVED = "retrieved"
    DIVERTED = "diverted"
    TRANSFERRED = "transferred"
    CONFERENCED = "conferenced"
    QUEUED = "queued"
    FAILED = "failed"
    CONNECTION_CLEARED = "connection_cleared"
    CALL_CLEARED = "call_cleared"
    DEVICE_STATE = "device_state"
    DEVICE_REMOVED = "device_removed"
    PRESENCE = "presence"
    DO_NOT_DISTURB = "do_not_disturb"
    FORWARDING = "forwarding"
    USER_EVENT = "user_event"
    RESYNCED = "resynced"
    LINK_UP = "link_up"
    LINK_DOWN = "link_down"
    LAGGED = "lagged"


class ConnectionState(_StrEnum):
    """A device's connection to a call (CSTA, ECMA-269)."""

    NULL = "null"
    INITIATED = "initiated"
    ALERTING = "alerting"
    CONNECTED = "connected"
    HELD = "held"
    QUEUED = "queued"
    FAILED = "failed"


class DeviceState(_StrEnum):
    """What a device is doing, as the PBX reports it."""

    IDLE = "idle"
    IN_USE = "in_use"
    BUSY = "busy"
    RINGING = "ringing"
    RING_IN_USE = "ring_in_use"
    ON_HOLD = "on_hold"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


class FailureReason(_StrEnum):
    """Why a connection failed."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    CONGESTION = "congestion"
    OTHER = "other"


class TransferKind(_StrEnum):
    """How a transfer was made."""

    BLIND = "blind"
    ATTENDED = "attended"
    BLONDE = "blonde"


class DivertReason(_StrEnum):
    """Why a call moved to another device without being answered."""

    FORWARD = "forward"
    DEFLECT = "deflect"
    PICKUP = "pickup"


class ForwardKind(_StrEnum):
    """Which calls a forwarding applies to."""

    IMMEDIATE = "immediate"
    BUSY = "busy"
    NO_ANSWER = "no_answer"


class Presentation(_StrEnum):
    """Whether the caller lets the number be shown."""

    ALLOWED = "allowed"
    RESTRICTED = "restricted"
    UNAVAILABLE = "unavailable"


class DialOutcome(_StrEnum):
    """How a click-to-dial ended, in the words every ctilink program prints."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"


class LinkStatus(_StrEnum):
    """Whether the session's link to the PBX carries commands."""

    UP = "up"
    DOWN = "down"
    CLOSED = "closed"


class PhoneControl(_StrEnum):
    """How the PBX makes phones answer and hold (``connect(..., phone_control=)``)."""

    NONE = "none"
    PJSIP = "pjsip"
    SIP = "sip"
