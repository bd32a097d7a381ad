//! Errors on the wire: one code per [`Error`] variant, so that a client of the gateway
//! gets the same typed error as a direct session would (a `NotAllowed` stays a
//! `NotAllowed`, with its message).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The code of a [`WireError`]: the snake_case name of the [`Error`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidUrl,
    InvalidArgument,
    Connect,
    Tls,
    AuthFailed,
    LinkDown,
    Timeout,
    PbxRefused,
    Protocol,
    Busy,
    Closed,
    UnknownDevice,
    UnknownCall,
    NotAllowed,
    Unsupported,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::InvalidUrl,
        ErrorCode::InvalidArgument,
        ErrorCode::Connect,
        ErrorCode::Tls,
        ErrorCode::AuthFailed,
        ErrorCode::LinkDown,
        ErrorCode::Timeout,
        ErrorCode::PbxRefused,
        ErrorCode::Protocol,
        ErrorCode::Busy,
        ErrorCode::Closed,
        ErrorCode::UnknownDevice,
        ErrorCode::UnknownCall,
        ErrorCode::NotAllowed,
        ErrorCode::Unsupported,
    ];

    /// The code as it stands in `code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Connect => "connect",
            ErrorCode::Tls => "tls",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::LinkDown => "link_down",
            ErrorCode::Timeout => "timeout",
            ErrorCode::PbxRefused => "pbx_refused",
            ErrorCode::Protocol => "protocol",
            ErrorCode::Busy => "busy",
            ErrorCode::Closed => "closed",
            ErrorCode::UnknownDevice => "unknown_device",
            ErrorCode::UnknownCall => "unknown_call",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::Unsupported => "unsupported",
        }
    }

    /// From its text; `None` for a code this build does not know (a newer server's).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The code of an error.
    pub fn of(e: &Error) -> Self {
        match e {
            Error::InvalidUrl(_) => ErrorCode::InvalidUrl,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::Connect { .. } => ErrorCode::Connect,
            Error::Tls(_) => ErrorCode::Tls,
            Error::AuthFailed(_) => ErrorCode::AuthFailed,
            Error::LinkDown => ErrorCode::LinkDown,
            Error::Timeout(_) => ErrorCode::Timeout,
            Error::PbxRefused(_) => ErrorCode::PbxRefused,
            Error::Protocol(_) => ErrorCode::Protocol,
            Error::Busy(_) => ErrorCode::Busy,
            Error::Closed => ErrorCode::Closed,
            Error::UnknownDevice(_) => ErrorCode::UnknownDevice,
            Error::UnknownCall(_) => ErrorCode::UnknownCall,
            Error::NotAllowed(_) => ErrorCode::NotAllowed,
            Error::Unsupported(_) => ErrorCode::Unsupported,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it crosses the wire: `{"code":"not_allowed","message":"..."}`. `message`
/// is the variant's text (for `unknown_device`, the device), so that the client rebuilds
/// the very [`Error`]; the few variants with other data carry it in their own field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// An [`ErrorCode`] as text; kept as text so that a code this build does not know
    /// still reaches the application (as [`Error::Protocol`]).
    pub code: String,
    #[serde(default)]
    pub message: String,
    /// `timeout`: how long was waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// `connect`: the address that could not be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `busy`: the limit that was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl WireError {
    /// An error of `code` with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code: code.as_str().to_owned(),
            message: message.into(),
            timeout_ms: None,
            addr: None,
            limit: None,
        }
    }

    /// The code, if this build knows it.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }

    /// The [`Error`] this stands for.
    pub fn into_error(self) -> Error {
        let Some(code) = self.code() else {
            return Error::Protocol(format!("{}: {}", self.code, self.message));
        };
        let m = self.message;
        match code {
            ErrorCode::InvalidUrl => Error::InvalidUrl(m),
            ErrorCode::InvalidArgument => Error::InvalidArgument(m),
            ErrorCode::Connect => Error::Connect { addr: self.addr.unwrap_or_default(), reason: m },
            ErrorCode::Tls => Error::Tls(m),
            ErrorCode::AuthFailed => Error::AuthFailed(m),
            ErrorCode::LinkDown => Error::LinkDown,
            ErrorCode::Timeout => Error::Timeout(Duration::from_millis(self.timeout_ms.unwrap_or(0))),
            ErrorCode::PbxRefused => Error::PbxRefused(m),
            ErrorCode::Protocol => Error::Protocol(m),
            ErrorCode::Busy => Error::Busy(self.limit.unwrap_or(0) as usize),
            ErrorCode::Closed => Error::Closed,
            ErrorCode::UnknownDevice => Error::UnknownDevice(m),
            ErrorCode::UnknownCall => Error::UnknownCall(m),
            ErrorCode::NotAllowed => Error::NotAllowed(m),
            ErrorCode::Unsupported => Error::Unsupported(m),
        }
    }
}

impl From<&Error> for WireError {
    fn from(e: &Error) -> Self {
        let code = ErrorCode::of(e);
        let mut w = WireError::new(code, String::new());
        w.message = match e {
            Error::InvalidUrl(m)
            | Error::InvalidArgument(m)
            | Error::Tls(m)
            | Error::AuthFailed(m)
            | Error::PbxRefused(m)
            | Error::Protocol(m)
            | Error::UnknownDevice(m)
            | Error::UnknownCall(m)
            | Error::NotAllowed(m)
            | Error::Unsupported(m) => m.clone(),
            Error::Connect { addr, reason } => {
                w.addr = Some(addr.clone());
                reason.clone()
            }
            Error::Timeout(d) => {
                w.timeout_ms = Some(d.as_millis().min(u128::from(u64::MAX)) as u64);
                e.to_string()
            }
            Error::Busy(n) => {
                w.limit = Some(*n as u64);
                e.to_string()
            }
            Error::LinkDown | Error::Closed => e.to_string(),
        };
        w
    }
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        WireError::from(&e)
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_error() -> Vec<Error> {
        vec![
            Error::InvalidUrl("u".into()),
            Error::InvalidArgument("a".into()),
            Error::Connect { addr: "h:1".into(), reason: "refused".into() },
            Error::Tls("t".into()),
            Error::AuthFailed("no".into()),
            Error::LinkDown,
            Error::Timeout(Duration::from_millis(2500)),
            Error::PbxRefused("Permission denied".into()),
            Error::Protocol("p".into()),
            Error::Busy(1024),
            Error::Closed,
            Error::UnknownDevice("999".into()),
            Error::UnknownCall("c1".into()),
            Error::NotAllowed("device 105 is not in this client's control list".into()),
            Error::Unsupported("hold".into()),
        ]
    }

    #[test]
    fn every_error_crosses_the_wire_and_comes_back_the_same() {
        let errors = every_error();
        let codes: std::collections::HashSet<ErrorCode> = errors.iter().map(ErrorCode::of).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len(), "one error per code");
        for e in errors {
            let json = serde_json::to_string(&WireError::from(&e)).expect("serialize");
            let back: WireError = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back.into_error(), e, "{json}");
        }
    }

    #[test]
    fn codes_are_the_snake_case_variant_names() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
        }
        let w = WireError::from(Error::NotAllowed("x".into()));
        assert_eq!(serde_json::to_string(&w).expect("json"), r#"{"code":"not_allowed","message":"x"}"#);
    }

    #[test]
    fn an_unknown_code_becomes_a_protocol_error_that_keeps_the_text() {
        let w: WireError =
            serde_json::from_str(r#"{"code":"quota_exceeded","message":"later"}"#).expect("json");
        assert_eq!(w.into_error(), Error::Protocol("quota_exceeded: later".into()));
    }
}
