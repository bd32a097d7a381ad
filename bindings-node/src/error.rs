//! Errors as JavaScript sees them: an `Error` with a stable `code`.
//!
//! napi-rs rejects an async function's promise with an `Error` whose `code` is a napi
//! `Status`, which has no room for our codes. So the native layer puts the code in front of
//! the message (`ERR_LINK_DOWN: PBX link is down`) and `index.js` turns that into `code`
//! and `message` on an `Error` created at the caller's `await`, which also gives users a
//! stack trace through their own code instead of none.

use napi::Status;

/// The code of each core error. Stable: programs branch on these, so a code is never
/// renamed or reused.
pub(crate) fn code(e: &ctilink::Error) -> &'static str {
    use ctilink::Error as E;
    match e {
        E::InvalidUrl(_) => "ERR_INVALID_URL",
        E::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
        E::Connect { .. } => "ERR_CONNECT",
        E::Tls(_) => "ERR_TLS",
        E::AuthFailed(_) => "ERR_AUTH_FAILED",
        E::LinkDown => "ERR_LINK_DOWN",
        E::Timeout(_) => "ERR_TIMEOUT",
        E::PbxRefused(_) => "ERR_PBX_REFUSED",
        E::Protocol(_) => "ERR_PROTOCOL",
        E::Busy(_) => "ERR_BUSY",
        E::Closed => "ERR_CLOSED",
        E::UnknownDevice(_) => "ERR_UNKNOWN_DEVICE",
        E::UnknownCall(_) => "ERR_UNKNOWN_CALL",
        E::NotAllowed(_) => "ERR_NOT_ALLOWED",
        E::Unsupported(_) => "ERR_UNSUPPORTED",
        // The core's enum is non-exhaustive: a variant added there before this table
        // learns it still reaches JavaScript as an error with a code.
        _ => "ERR_CTILINK",
    }
}

/// A core error for JavaScript. The core's messages never hold the AMI secret.
pub(crate) fn to_js(e: ctilink::Error) -> napi::Error {
    coded(code(&e), &e.to_string())
}

/// An error with `code` for `index.js` to lift out of the message.
pub(crate) fn coded(code: &str, message: &str) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{code}: {message}"))
}

/// `Result` with a core error, as napi's.
pub(crate) trait IntoJs<T> {
    fn js(self) -> napi::Result<T>;
}

impl<T> IntoJs<T> for ctilink::Result<T> {
    fn js(self) -> napi::Result<T> {
        self.map_err(to_js)
    }
}
