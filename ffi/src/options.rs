//! `ctilink_options`: what `ctilink_session_connect` needs, built step by step so that
//! new options never change a function's signature.

use std::fmt;
use std::os::raw::{c_char, c_void};
use std::time::Duration;

use ctilink_core::{AstDbConvention, SessionOptions};

use crate::boundary::{guard, try_c};
use crate::codes::astdb_convention;
use crate::event::ctilink_event;
use crate::result::ctilink_result;
use crate::text::{input, optional_input, set_last_error};

/// Receives the events of a session that was given one (`ctilink_options_set_event_callback`).
///
/// Threads: called on the session's own event thread (one per session, named
/// `ctilink-events`), one event at a time and in order, never concurrently with itself.
/// `event` is valid only during the call: copy what you need, do not free it.
/// Re-entrancy: the callback must return promptly and must not block on the PBX. It may
/// call the session's commands (they return at once; their completions come later through
/// this callback), `ctilink_session_snapshot` and the accessors. It must not call
/// `ctilink_session_next_event` or `ctilink_session_close` (both answer
/// `CTILINK_RESULT_WRONG_STATE` there), nor `ctilink_session_free`.
#[allow(non_camel_case_types)]
pub type ctilink_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const ctilink_event)>;

/// The callback and its userdata; the host promises the userdata may be used from the
/// event thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Callback {
    pub(crate) f: unsafe extern "C" fn(userdata: *mut c_void, event: *const ctilink_event),
    pub(crate) userdata: *mut c_void,
}

// SAFETY: the header documents that the callback and its userdata are used from the
// session's event thread; passing them there is the host's stated intent.
unsafe impl Send for Callback {}
// SAFETY: as above; the library never dereferences the userdata.
unsafe impl Sync for Callback {}

/// Options for `ctilink_session_connect`. Free with `ctilink_options_free` (any time after
/// connect: the session keeps its own copy).
#[allow(non_camel_case_types)]
#[derive(Default)]
pub struct ctilink_options {
    url: Option<String>,
    action_timeout: Option<Duration>,
    event_queue: Option<usize>,
    monitor: Option<Vec<String>>,
    /// Set by `ctilink_options_set_astdb`: replaces the URL's `astdb=`.
    astdb: Option<Option<AstDbConvention>>,
    pub(crate) callback: Option<Callback>,
}

impl fmt::Debug for ctilink_options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL holds the AMI secret: never printed.
        f.debug_struct("ctilink_options")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl ctilink_options {
    /// The core's options, from the URL and the settings made after it.
    pub(crate) fn session_options(&self) -> Result<SessionOptions, ctilink_result> {
        let Some(url) = &self.url else {
            set_last_error("no URL: call ctilink_options_set_url first");
            return Err(ctilink_result::InvalidArgument);
        };
        let mut o = SessionOptions::from_url(url).map_err(|e| {
            set_last_error(&e.to_string());
            ctilink_result::from(&e)
        })?;
        if let Some(t) = self.action_timeout {
            o.set_action_timeout(t);
        }
        if let Some(n) = self.event_queue {
            o.event_queue = n;
        }
        if let Some(m) = &self.monitor {
            o.monitor = Some(m.clone());
        }
        if let Some(a) = self.astdb {
            o.control.astdb = a;
        }
        Ok(o)
    }
}

fn options_mut<'a>(options: *mut ctilink_options) -> Result<&'a mut ctilink_options, ctilink_result> {
    // SAFETY: a non-NULL `options` is a live handle from ctilink_options_new, not used by
    // another thread at the same time (the header's contract).
    unsafe { options.as_mut() }.ok_or(ctilink_result::NullParameter)
}

/// Creates empty options into `*out`. Free with `ctilink_options_free`.
#[no_mangle]
pub extern "C" fn ctilink_options_new(out: *mut *mut ctilink_options) -> ctilink_result {
    guard(|| {
        if out.is_null() {
            return ctilink_result::NullParameter;
        }
        // SAFETY: checked non-NULL; the host gives a writable pointer.
        unsafe { *out = Box::into_raw(Box::default()) };
        ctilink_result::Ok
    })
}

/// Frees options. NULL is ignored.
#[no_mangle]
pub extern "C" fn ctilink_options_free(options: *mut ctilink_options) {
    let _ = guard(|| {
        if !options.is_null() {
            // SAFETY: from Box::into_raw in ctilink_options_new, freed once.
            drop(unsafe { Box::from_raw(options) });
        }
        ctilink_result::Ok
    });
}

/// Sets the PBX's URL (NUL-terminated UTF-8), checked at once:
/// `ami://user:secret@host:5038`, `amis://` for TLS, with parameters such as
/// `?control=pjsip&astdb=1` (see docs/session.md). `CTILINK_RESULT_INVALID_URL` when it
/// cannot be used; `ctilink_last_error_message` says why (never showing the secret).
#[no_mangle]
pub extern "C" fn ctilink_options_set_url(
    options: *mut ctilink_options,
    url: *const c_char,
) -> ctilink_result {
    guard(|| {
        let o = try_c!(options_mut(options));
        // SAFETY: the header's contract on `url`.
        let url = try_c!(unsafe { input(url) });
        if let Err(e) = SessionOptions::from_url(url) {
            set_last_error(&e.to_string());
            return ctilink_result::from(&e);
        }
        o.url = Some(url.to_owned());
        ctilink_result::Ok
    })
}

/// How long a command waits for the PBX's answer (default 10 s). 0 is invalid.
#[no_mangle]
pub extern "C" fn ctilink_options_set_action_timeout_ms(
    options: *mut ctilink_options,
    ms: u32,
) -> ctilink_result {
    guard(|| {
        let o = try_c!(options_mut(options));
        if ms == 0 {
            return ctilink_result::InvalidArgument;
        }
        o.action_timeout = Some(Duration::from_millis(u64::from(ms)));
        ctilink_result::Ok
    })
}

/// How many events may wait for the host (default 4096, 1 to 1000000). A host that falls
/// further behind gets `LAGGED` and the calls made up for.
#[no_mangle]
pub extern "C" fn ctilink_options_set_event_queue(
    options: *mut ctilink_options,
    capacity: usize,
) -> ctilink_result {
    guard(|| {
        let o = try_c!(options_mut(options));
        if capacity == 0 || capacity > 1_000_000 {
            return ctilink_result::InvalidArgument;
        }
        o.event_queue = Some(capacity);
        ctilink_result::Ok
    })
}

/// The AstDB convention the PBX follows for do-not-disturb and forwarding (a
/// `ctilink_astdb_convention`), replacing the URL's `astdb=`. A FreePBX system takes
/// `CTILINK_ASTDB_CONVENTION_FREEPBX`. `CTILINK_RESULT_INVALID_ARGUMENT` for another number.
#[no_mangle]
pub extern "C" fn ctilink_options_set_astdb(
    options: *mut ctilink_options,
    convention: u32,
) -> ctilink_result {
    guard(|| {
        let o = try_c!(options_mut(options));
        let Some(c) = astdb_convention(convention) else {
            set_last_error("the AstDB convention must be NONE, CTILINK or FREEPBX");
            return ctilink_result::InvalidArgument;
        };
        o.astdb = Some(c);
        ctilink_result::Ok
    })
}

/// Only events of these devices (a comma-separated list such as `"100,101"`) and of the
/// calls they take part in; NULL for all devices (the default).
#[no_mangle]
pub extern "C" fn ctilink_options_set_monitor(
    options: *mut ctilink_options,
    devices: *const c_char,
) -> ctilink_result {
    guard(|| {
        let o = try_c!(options_mut(options));
        // SAFETY: the header's contract on `devices`.
        let devices = try_c!(unsafe { optional_input(devices) });
        o.monitor = devices
            .map(|d| d.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect());
        ctilink_result::Ok
    })
}

/// Delivers the session's events to `callback` (with `userdata` first) instead of
/// `ctilink_session_next_event`. NULL `callback` goes back to pull. See
/// `ctilink_event_callback` for the thread it runs on and what it may call.
#[no_mangle]
pub extern "C" fn ctilink_options_set_event_callback(
    options: *mut ctilink_options,
    callback: ctilink_event_callback,
    userdata: *mut c_void,
) -> ctilink_result {
    guard(|| {
        let o = try_c!(options_mut(options));
        o.callback = callback.map(|f| Callback { f, userdata });
        ctilink_result::Ok
    })
}
