//! The one error type of the SDK. Every language maps it: result codes in C,
//! exception classes in Python, `code` strings in Node.

use std::time::Duration;

/// What went wrong. Messages never contain a password or token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection URL could not be understood.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// An argument was rejected before anything was sent (e.g. a line break in a value).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The PBX could not be reached.
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// The TLS handshake or configuration failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The PBX refused the login (wrong user or secret, or not allowed from here).
    #[error("login refused by the PBX: {0}")]
    AuthFailed(String),
    /// The link to the PBX is down; the action was not sent or its answer was lost.
    #[error("PBX link is down")]
    LinkDown,
    /// No answer within the time allowed.
    #[error("no answer from the PBX within {0:?}")]
    Timeout(Duration),
    /// The PBX answered `Response: Error`, with its message.
    #[error("PBX refused: {0}")]
    PbxRefused(String),
    /// The PBX sent something the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Too many actions are waiting for answers.
    #[error("too many actions in flight (limit {0})")]
    Busy(usize),
    /// The client was closed.
    #[error("closed")]
    Closed,
    /// The device is not one the PBX reported (not in its hints or device states).
    #[error("unknown device {0:?}")]
    UnknownDevice(String),
    /// No open call has this id.
    #[error("unknown call {0:?}")]
    UnknownCall(String),
    /// The command does not fit the state of the call or device (e.g. answering a call
    /// that does not ring at that device).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The PBX is not set up for this command (phone control, the AstDB convention), or
    /// does not know the action. See `docs/call-control.md`.
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::ami::EncodeError> for Error {
    fn from(e: crate::ami::EncodeError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}
