"""The exceptions of ctilink: one class per error of the core, all under ``CtiError``.

Each also derives from the built-in exception a Python programmer would catch for it
(``Timeout`` is a ``TimeoutError``, ``InvalidArgument`` a ``ValueError``, ``LinkDown`` a
``ConnectionError``), so that generic handlers keep working. Messages come from the core
and never contain the AMI secret.
"""

__all__ = [
    "AuthFailed",
    "Busy",
    "Closed",
    "ConnectError",
    "CtiError",
    "InvalidArgument",
    "InvalidUrl",
    "LinkDown",
    "NotAllowed",
    "PbxRefused",
    "ProtocolError",
    "SimulatorError",
    "Timeout",
    "TlsError",
    "Unsupported",
    "UnknownCall",
    "UnknownDevice",
]


class CtiError(Exception):
    """Root of every error the SDK raises."""


class InvalidUrl(CtiError, ValueError):
    """The connection URL could not be understood."""


class InvalidArgument(CtiError, ValueError):
    """An argument was rejected before anything was sent (empty, too long, a line break,
    not a DTMF digit, an unknown option value)."""


class ConnectError(CtiError, ConnectionError):
    """The PBX could not be reached."""


class TlsError(CtiError, ConnectionError):
    """The TLS handshake or configuration failed."""


class AuthFailed(CtiError):
    """The PBX refused the login."""


class LinkDown(CtiError, ConnectionError):
    """The link to the PBX is down, or dropped before the answer came."""


class Timeout(CtiError, TimeoutError):
    """No answer from the PBX in time."""


class PbxRefused(CtiError):
    """The PBX answered with an error; the message is the PBX's."""


class ProtocolError(CtiError):
    """The PBX sent something the protocol does not allow."""


class Busy(CtiError):
    """Too many commands are waiting for the PBX's answers."""


class Closed(CtiError):
    """The session was closed."""


class UnknownDevice(CtiError, LookupError):
    """The device is not one the PBX reported."""


class UnknownCall(CtiError, LookupError):
    """No open call has this id."""


class NotAllowed(CtiError):
    """The command does not fit the state of the call or device."""


class Unsupported(CtiError):
    """The PBX is not set up for this command (phone control, the AstDB convention), or
    does not know the action."""


class SimulatorError(RuntimeError):
    """The in-process simulator refused a request (an unknown phone, a phone already in a
    call, or it was shut down). Not a ``CtiError``: the simulator is not the SDK."""
