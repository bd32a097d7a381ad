//! The one result type of the C ABI. The values are part of the ABI: a value, once
//! given, keeps its meaning forever and is never reused, so a host compiled against an
//! old header still reads new libraries right.

use std::os::raw::c_char;

use ctilink_core::Error;

use crate::text::write_c_string;

/// What a function did. `CTILINK_RESULT_OK` is 0; 1 to 99 are mistakes in how the API
/// was used; 100 and up come from the PBX link and the commands.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_result {
    Ok = 0,
    /// A bug in ctilink: a panic was caught at the boundary. Nothing else was changed.
    Panic = 1,
    /// A required pointer was NULL.
    NullParameter = 2,
    /// A string was not valid UTF-8.
    InvalidUtf8 = 3,
    /// The caller's buffer is too small; nothing was written.
    InsufficientSize = 4,
    /// The handle is in the wrong state for this call (e.g. `next_event` on a session that
    /// delivers events by callback, or `close` from inside the callback).
    WrongState = 5,
    /// `ctilink_session_next_event` waited `timeout_ms` and no event came.
    NoEvent = 6,
    /// The session was closed.
    Closed = 7,
    /// Too many requests of this session wait for their completion (limit
    /// `CTILINK_MAX_PENDING_REQUESTS`).
    TooManyRequests = 8,
    /// An error this version of the header does not name yet.
    Other = 99,
    InvalidUrl = 100,
    InvalidArgument = 101,
    /// The PBX could not be reached.
    ConnectFailed = 102,
    Tls = 103,
    /// The PBX refused the login.
    AuthFailed = 104,
    /// The link to the PBX is down.
    LinkDown = 105,
    /// No answer from the PBX in time.
    Timeout = 106,
    /// The PBX answered with an error; the completion's message carries the PBX's text.
    PbxRefused = 107,
    /// The PBX sent something the protocol does not allow.
    Protocol = 108,
    /// Too many actions wait for the PBX's answer.
    Busy = 109,
    UnknownDevice = 110,
    UnknownCall = 111,
    /// The command does not fit the state of the call or device.
    NotAllowed = 112,
    /// The PBX is not set up for this command.
    Unsupported = 113,
}

impl ctilink_result {
    /// A fixed, human-readable description.
    pub(crate) fn description(self) -> &'static str {
        use ctilink_result::*;
        match self {
            Ok => "ok",
            Panic => "internal error (a bug in ctilink was caught)",
            NullParameter => "a required pointer was NULL",
            InvalidUtf8 => "a string was not valid UTF-8",
            InsufficientSize => "the buffer is too small",
            WrongState => "not allowed in this state",
            NoEvent => "no event within the timeout",
            Closed => "the session is closed",
            TooManyRequests => "too many requests wait for completion",
            Other => "error",
            InvalidUrl => "invalid URL",
            InvalidArgument => "invalid argument",
            ConnectFailed => "cannot connect to the PBX",
            Tls => "TLS error",
            AuthFailed => "login refused by the PBX",
            LinkDown => "the link to the PBX is down",
            Timeout => "no answer from the PBX in time",
            PbxRefused => "the PBX refused the request",
            Protocol => "protocol error",
            Busy => "too many actions in flight",
            UnknownDevice => "unknown device",
            UnknownCall => "unknown call",
            NotAllowed => "not allowed in the call's or device's state",
            Unsupported => "not supported by this PBX setup",
        }
    }
}

impl From<&Error> for ctilink_result {
    fn from(e: &Error) -> Self {
        use ctilink_result as R;
        match e {
            Error::InvalidUrl(_) => R::InvalidUrl,
            Error::InvalidArgument(_) => R::InvalidArgument,
            Error::Connect { .. } => R::ConnectFailed,
            Error::Tls(_) => R::Tls,
            Error::AuthFailed(_) => R::AuthFailed,
            Error::LinkDown => R::LinkDown,
            Error::Timeout(_) => R::Timeout,
            Error::PbxRefused(_) => R::PbxRefused,
            Error::Protocol(_) => R::Protocol,
            Error::Busy(_) => R::Busy,
            Error::Closed => R::Closed,
            Error::UnknownDevice(_) => R::UnknownDevice,
            Error::UnknownCall(_) => R::UnknownCall,
            Error::NotAllowed(_) => R::NotAllowed,
            Error::Unsupported(_) => R::Unsupported,
            _ => R::Other,
        }
    }
}

/// Writes the description of `result` into `buf` (`cap` bytes), NUL-terminated, and its
/// length without the NUL into `*out_len`. Returns `CTILINK_RESULT_INSUFFICIENT_SIZE`,
/// writing nothing, when `cap` is less than that length plus one. Any thread.
#[no_mangle]
pub extern "C" fn ctilink_result_message(
    result: u32,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> ctilink_result {
    crate::boundary::guard(|| {
        let text = crate::result::from_u32(result).map_or("unknown result code", |r| r.description());
        // SAFETY: the caller gives a buffer of `cap` bytes and a writable `out_len`;
        // write_c_string checks both for NULL.
        unsafe { write_c_string(text, buf, cap, out_len) }
    })
}

/// The result for a value a C host passed in (which may be anything).
pub(crate) fn from_u32(v: u32) -> Option<ctilink_result> {
    use ctilink_result::*;
    const ALL: [ctilink_result; 24] = [
        Ok,
        Panic,
        NullParameter,
        InvalidUtf8,
        InsufficientSize,
        WrongState,
        NoEvent,
        Closed,
        TooManyRequests,
        Other,
        InvalidUrl,
        InvalidArgument,
        ConnectFailed,
        Tls,
        AuthFailed,
        LinkDown,
        Timeout,
        PbxRefused,
        Protocol,
        Busy,
        UnknownDevice,
        UnknownCall,
        NotAllowed,
        Unsupported,
    ];
    ALL.into_iter().find(|r| *r as u32 == v)
}
