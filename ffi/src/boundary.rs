//! The panic boundary. A panic unwinding into C is undefined behaviour, and a TAPI service
//! provider runs inside TAPISRV: every export runs its body through one of these, so a
//! bug in ctilink becomes `CTILINK_RESULT_PANIC` (or a neutral value), never a crash.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::ctilink_result;

/// Runs `f`; a panic becomes `CTILINK_RESULT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> ctilink_result) -> ctilink_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        crate::text::set_last_error("internal error: a bug in ctilink was caught at the C boundary");
        ctilink_result::Panic
    })
}

/// Runs an accessor `f`; a panic gives `fallback`.
pub(crate) fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Reads an object the host holds a pointer to, which may be NULL: `fallback` for NULL
/// and for a caught panic. Every accessor goes through it.
///
/// # Safety
/// `p` is NULL or points to a live object of this library.
pub(crate) unsafe fn with<O, T: Copy>(p: *const O, fallback: T, f: impl FnOnce(&O) -> T) -> T {
    guard_or(fallback, || {
        // SAFETY: per the contract, a non-NULL `p` is live.
        match unsafe { p.as_ref() } {
            Some(o) => f(o),
            None => fallback,
        }
    })
}

/// Unwraps a `Result<T, ctilink_result>` inside a function returning `ctilink_result`.
macro_rules! try_c {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}
pub(crate) use try_c;
