//! `ctilink_dial_progress`: the outcome of a click-to-dial in the four words a user tells
//! (answered, busy, no answer, failed), from the call's events. The core's `DialProgress`
//! decides, so C hosts agree with the CLI and every binding on the fine points (the
//! user's own phone answering is not the outcome; a failure is not final while the call
//! goes on, as when busy forwarding dials another number).

use std::ffi::CStr;
use std::os::raw::c_char;

use ctilink_core::{CallId, DialOutcome, DialProgress};

use crate::boundary::{guard, guard_or, try_c, with};
use crate::event::ctilink_event;
use crate::result::ctilink_result;
use crate::text::input;

/// How a click-to-dial ended; `PENDING` while it goes on.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ctilink_dial_outcome {
    Pending = 0,
    /// The destination answered.
    Answered = 1,
    /// The destination (or the user's own phone) was busy.
    Busy = 2,
    /// The destination, or the user's own phone, did not answer.
    NoAnswer = 3,
    /// Anything else: unknown number, unreachable, refused, congestion.
    Failed = 4,
}

impl From<Option<DialOutcome>> for ctilink_dial_outcome {
    fn from(o: Option<DialOutcome>) -> Self {
        match o {
            None => ctilink_dial_outcome::Pending,
            Some(DialOutcome::Answered) => ctilink_dial_outcome::Answered,
            Some(DialOutcome::Busy) => ctilink_dial_outcome::Busy,
            Some(DialOutcome::NoAnswer) => ctilink_dial_outcome::NoAnswer,
            #[allow(unreachable_patterns)]
            Some(_) => ctilink_dial_outcome::Failed,
        }
    }
}

/// Follows one click-to-dial. Free with `ctilink_dial_progress_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ctilink_dial_progress {
    inner: DialProgress,
}

/// Starts following the call `call_id` that `ctilink_session_make_call` gave for a
/// click-to-dial from device `from` to number `to` (all NUL-terminated).
#[no_mangle]
pub extern "C" fn ctilink_dial_progress_new(
    call_id: *const c_char,
    from: *const c_char,
    to: *const c_char,
    out: *mut *mut ctilink_dial_progress,
) -> ctilink_result {
    guard(|| {
        // SAFETY: the header's contract on string arguments.
        let (call, from, to) = unsafe { (try_c!(input(call_id)), try_c!(input(from)), try_c!(input(to))) };
        if out.is_null() {
            return ctilink_result::NullParameter;
        }
        let p = ctilink_dial_progress { inner: DialProgress::new(CallId::new(call), from, to) };
        // SAFETY: checked non-NULL; the host gives a writable pointer.
        unsafe { *out = Box::into_raw(Box::new(p)) };
        ctilink_result::Ok
    })
}

/// Feeds one event of the session (any event: those of other calls are ignored); returns
/// the outcome once it is known, `PENDING` before. Link events are left to the host (the
/// link may come back and the call go on).
#[no_mangle]
pub extern "C" fn ctilink_dial_progress_apply(
    progress: *mut ctilink_dial_progress,
    event: *const ctilink_event,
) -> ctilink_dial_outcome {
    guard_or(ctilink_dial_outcome::Pending, || {
        // SAFETY: the header's contract: live handles, `progress` not used concurrently.
        let (Some(p), Some(ev)) = (unsafe { progress.as_mut() }, unsafe { event.as_ref() }) else {
            return ctilink_dial_outcome::Pending;
        };
        ev.event().and_then(|e| p.inner.apply(e)).into()
    })
}

/// The outcome if the host stops waiting now: the last failure seen (`BUSY` when the
/// destination was busy and nothing else was tried), else `PENDING`.
#[no_mangle]
pub extern "C" fn ctilink_dial_progress_pending_failure(
    progress: *const ctilink_dial_progress,
) -> ctilink_dial_outcome {
    // SAFETY: the header's contract on `progress`.
    unsafe { with(progress, ctilink_dial_outcome::Pending, |p| p.inner.pending_failure().into()) }
}

/// Frees a dial progress. NULL is ignored.
#[no_mangle]
pub extern "C" fn ctilink_dial_progress_free(progress: *mut ctilink_dial_progress) {
    guard_or((), || {
        if !progress.is_null() {
            // SAFETY: from Box::into_raw in ctilink_dial_progress_new, freed once.
            drop(unsafe { Box::from_raw(progress) });
        }
    })
}

static NAMES: [&CStr; 5] = [c"pending", c"answered", c"busy", c"no-answer", c"failed"];

/// The outcome's word, as the CLI and every binding print it: `answered`, `busy`,
/// `no-answer`, `failed` (`pending` for `PENDING`, `unknown` for other values). Static.
#[no_mangle]
pub extern "C" fn ctilink_dial_outcome_name(outcome: u32) -> *const c_char {
    NAMES.get(outcome as usize).copied().unwrap_or(c"unknown").as_ptr()
}
