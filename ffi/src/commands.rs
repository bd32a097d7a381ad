//! The call-control commands. Each returns at once: `CTILINK_RESULT_OK` with a request id
//! in `*request_id` (never 0), after which exactly one `REQUEST_COMPLETED` event with that
//! id carries the result; or an error, and then no request exists and no completion
//! comes (TAPI's "negative return or request id"). Checked at once: NULL, UTF-8, the
//! form of ids and numbers (`CTILINK_RESULT_INVALID_ARGUMENT`), a closed session, too many
//! pending requests. Everything that needs the model or the PBX (unknown call, wrong
//! state, link down, refused) comes in the completion. All strings are NUL-terminated
//! UTF-8 and are copied before the function returns.

use std::os::raw::c_char;

use ctilink_core::{CallId, Command};

use crate::boundary::guard;
use crate::codes::forward_kind;
use crate::result::ctilink_result;
use crate::session::{call_arg, ctilink_session, device_arg, submit};
use crate::text::{input, optional_input, write_c_string};

/// The size of a buffer that holds any call id `ctilink_session_make_call` gives, with
/// its NUL.
pub const CTILINK_CALL_ID_MAX: usize = 65;

fn text_arg(p: *const c_char) -> Result<String, ctilink_result> {
    // SAFETY: the header's contract on every string argument.
    unsafe { input(p) }.map(str::to_owned)
}

/// Click-to-dial: rings `from` (the user's phone); when it answers, calls `to`. The new
/// call's id is written at once into `call_id` (`call_id_cap` bytes, at least
/// `CTILINK_CALL_ID_MAX`; NUL-terminated, its length in `*call_id_len`), so the host holds
/// it before any event of the call: the completion comes first, then `NEW_CALL` (whose
/// request id is this request's), then the call's events.
#[no_mangle]
pub extern "C" fn ctilink_session_make_call(
    session: *const ctilink_session,
    from: *const c_char,
    to: *const c_char,
    request_id: *mut u64,
    call_id: *mut c_char,
    call_id_cap: usize,
    call_id_len: *mut usize,
) -> ctilink_result {
    guard(|| {
        if call_id.is_null() || call_id_len.is_null() {
            return ctilink_result::NullParameter;
        }
        if call_id_cap < CTILINK_CALL_ID_MAX {
            return ctilink_result::InsufficientSize;
        }
        let id = CallId::generate();
        let r = submit(session, request_id, || {
            Ok(Command::MakeCall { from: device_arg(from)?, to: text_arg(to)?, id: Some(id.clone()) })
        });
        if r != ctilink_result::Ok {
            return r;
        }
        // SAFETY: checked non-NULL and at least CTILINK_CALL_ID_MAX bytes, more than any
        // generated id needs.
        unsafe { write_c_string(id.as_str(), call_id, call_id_cap, call_id_len) }
    })
}

/// Answers `call`, ringing at `device` (needs phone control: `control=pjsip` in the URL).
#[no_mangle]
pub extern "C" fn ctilink_session_answer(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || Ok(Command::Answer { call: call_arg(call)?, device: device_arg(device)? }))
}

/// `device` leaves `call` (hangs up its connection). A call that is already gone
/// completes with `CTILINK_RESULT_UNKNOWN_CALL`; a TSP's lineDrop treats that as done.
#[no_mangle]
pub extern "C" fn ctilink_session_clear_connection(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::ClearConnection { call: call_arg(call)?, device: device_arg(device)? })
    })
}

/// Ends `call` for every party.
#[no_mangle]
pub extern "C" fn ctilink_session_clear_call(
    session: *const ctilink_session,
    call: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || Ok(Command::ClearCall { call: call_arg(call)? }))
}

/// `device` puts `call` on hold (needs phone control).
#[no_mangle]
pub extern "C" fn ctilink_session_hold(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || Ok(Command::Hold { call: call_arg(call)?, device: device_arg(device)? }))
}

/// `device` takes `call` back from hold (needs phone control).
#[no_mangle]
pub extern "C" fn ctilink_session_retrieve(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::Retrieve { call: call_arg(call)?, device: device_arg(device)? })
    })
}

/// Blind transfer: the party talking to `device` in `call` goes to `to`.
#[no_mangle]
pub extern "C" fn ctilink_session_single_step_transfer(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    to: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::SingleStepTransfer {
            call: call_arg(call)?,
            device: device_arg(device)?,
            to: text_arg(to)?,
        })
    })
}

/// Holds `call` and calls `to` from `device` in a new call; the completion carries the
/// new call's id (`ctilink_event_call_id`), and precedes the new call's events.
#[no_mangle]
pub extern "C" fn ctilink_session_consultation_call(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    to: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::ConsultationCall {
            call: call_arg(call)?,
            device: device_arg(device)?,
            to: text_arg(to)?,
        })
    })
}

/// Completes an attended transfer: joins the held call's other party with the active
/// (consultation) call's.
#[no_mangle]
pub extern "C" fn ctilink_session_transfer_call(
    session: *const ctilink_session,
    held: *const c_char,
    active: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::TransferCall { held: call_arg(held)?, active: call_arg(active)? })
    })
}

/// Sends `call`, ringing at `device`, to `to` (TAPI lineRedirect).
#[no_mangle]
pub extern "C" fn ctilink_session_deflect(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    to: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::Deflect { call: call_arg(call)?, device: device_arg(device)?, to: text_arg(to)? })
    })
}

/// Takes, at `device`, a call ringing elsewhere: `target` is a call id or the ringing
/// device.
#[no_mangle]
pub extern "C" fn ctilink_session_pickup(
    session: *const ctilink_session,
    device: *const c_char,
    target: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::Pickup { device: device_arg(device)?, target: text_arg(target)? })
    })
}

/// Sends DTMF `digits` (`0-9`, `*`, `#`, `A-D`) on `device`'s connection of `call`.
#[no_mangle]
pub extern "C" fn ctilink_session_send_dtmf(
    session: *const ctilink_session,
    call: *const c_char,
    device: *const c_char,
    digits: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        Ok(Command::SendDtmf {
            call: call_arg(call)?,
            device: device_arg(device)?,
            digits: text_arg(digits)?,
        })
    })
}

/// Turns do-not-disturb of `device` on or off (needs `astdb=1` or `astdb=freepbx` in the
/// URL, or `ctilink_options_set_astdb`).
#[no_mangle]
pub extern "C" fn ctilink_session_set_do_not_disturb(
    session: *const ctilink_session,
    device: *const c_char,
    on: bool,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || Ok(Command::SetDoNotDisturb { device: device_arg(device)?, on }))
}

/// Sets forwarding of `kind` (a `ctilink_forward_kind`: `IMMEDIATE`, `BUSY`, `NO_ANSWER`)
/// of `device` to `to`, or turns it off when `to` is NULL (needs an AstDB convention). Each kind is
/// set on its own: this replaces that kind's target and leaves the other kinds alone.
#[no_mangle]
pub extern "C" fn ctilink_session_set_forwarding(
    session: *const ctilink_session,
    device: *const c_char,
    kind: u32,
    to: *const c_char,
    request_id: *mut u64,
) -> ctilink_result {
    submit(session, request_id, || {
        let kind = forward_kind(kind).ok_or(ctilink_result::InvalidArgument)?;
        // SAFETY: the header's contract on `to` (NULL allowed).
        let to = unsafe { optional_input(to) }?.map(str::to_owned);
        Ok(Command::SetForwarding { device: device_arg(device)?, kind, to })
    })
}
