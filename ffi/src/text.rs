//! Strings across the boundary. Inputs are NUL-terminated UTF-8 from the host; outputs
//! are `ctilink_str` views into memory the library owns, which carry their length and are
//! NUL-terminated as well, so a host can use either `printf("%s")` or `%.*s`.

use std::ffi::CStr;
use std::os::raw::c_char;

use crate::result::ctilink_result;

/// A borrowed UTF-8 string: `len` bytes at `data`, followed by a NUL byte. It lives as long
/// as the object it was read from (the event, the snapshot). An absent value is `len` 0
/// with `data` pointing at an empty string, never NULL.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ctilink_str {
    pub data: *const c_char,
    pub len: usize,
}

impl ctilink_str {
    pub(crate) const EMPTY: ctilink_str = ctilink_str { data: c"".as_ptr(), len: 0 };
}

/// An owned string with a trailing NUL, from which `ctilink_str` views are made.
#[derive(Clone, Debug, Default)]
pub(crate) struct CText(Box<[u8]>);

impl CText {
    pub(crate) fn new(s: &str) -> CText {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        CText(v.into_boxed_slice())
    }

    pub(crate) fn view(&self) -> ctilink_str {
        match self.0.len() {
            0 => ctilink_str::EMPTY,
            n => ctilink_str { data: self.0.as_ptr().cast(), len: n - 1 },
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self.0.split_last() {
            Some((_, s)) => std::str::from_utf8(s).unwrap_or(""),
            None => "",
        }
    }
}

/// Several strings of one object in one allocation: the event accessors are called per
/// event, and one buffer per event keeps a busy PBX's event stream cheap.
#[derive(Debug, Default)]
pub(crate) struct TextTable {
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl TextTable {
    /// Appends `s`; returns its index.
    pub(crate) fn push(&mut self, s: &str) -> usize {
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.spans.push((start, s.len() as u32));
        self.spans.len() - 1
    }

    pub(crate) fn view(&self, index: usize) -> ctilink_str {
        match self.spans.get(index) {
            Some(&(start, len)) if len > 0 => {
                ctilink_str { data: self.buf[start as usize..].as_ptr().cast(), len: len as usize }
            }
            _ => ctilink_str::EMPTY,
        }
    }
}

/// Reads a NUL-terminated UTF-8 string from the host.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn input<'a>(p: *const c_char) -> Result<&'a str, ctilink_result> {
    if p.is_null() {
        return Err(ctilink_result::NullParameter);
    }
    // SAFETY: non-NULL and NUL-terminated per the contract above.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| ctilink_result::InvalidUtf8)
}

/// Like [`input`], but NULL means "absent".
///
/// # Safety
/// As for [`input`].
pub(crate) unsafe fn optional_input<'a>(p: *const c_char) -> Result<Option<&'a str>, ctilink_result> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { input(p) }.map(Some)
}

/// Copies `text` with a NUL into the host's buffer; writes nothing unless it all fits.
///
/// # Safety
/// `buf` is NULL or writable for `cap` bytes; `out_len` is NULL or writable.
pub(crate) unsafe fn write_c_string(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> ctilink_result {
    if buf.is_null() || out_len.is_null() {
        return ctilink_result::NullParameter;
    }
    if cap < text.len() + 1 {
        return ctilink_result::InsufficientSize;
    }
    // SAFETY: `buf` has room for `text.len() + 1` bytes (checked above); the regions
    // cannot overlap, `text` is memory this library owns.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
        *out_len = text.len();
    }
    ctilink_result::Ok
}

thread_local! {
    /// The detail of the last failed call on this thread (`errno`-like), for the calls
    /// whose failure has no object to carry it (connect).
    static LAST_ERROR: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Records the detail of a failure on this thread (never containing a secret: the core's
/// messages do not).
pub(crate) fn set_last_error(msg: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.clear();
        // Bounded: a message is for a log line.
        let mut end = msg.len().min(1024);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        e.push_str(&msg[..end]);
    });
}

/// Writes the detail of the last failed `ctilink_` call on the calling thread (e.g.
/// "cannot connect to 127.0.0.1:5038: connection refused") into `buf`, NUL-terminated,
/// and its length into `*out_len`. Empty when the last failure had no detail. Never
/// contains a password or token. `CTILINK_RESULT_INSUFFICIENT_SIZE` writes nothing.
#[no_mangle]
pub extern "C" fn ctilink_last_error_message(
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> ctilink_result {
    crate::boundary::guard(|| {
        let msg = LAST_ERROR.with(|e| e.borrow().clone());
        // SAFETY: the host's buffer contract, checked for NULL inside.
        unsafe { write_c_string(&msg, buf, cap, out_len) }
    })
}
