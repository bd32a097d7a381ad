//! The C ABI of ctilink, shaped for a Windows TAPI service provider and any native host.
//!
//! Conventions (after rustls-ffi): everything is prefixed `ctilink_`; objects are opaque
//! handles made by `_new`/`_connect` and released by `_free`; every function that can fail
//! returns a `ctilink_result` whose values never change meaning; outputs are written only
//! on success; every export checks its pointers for NULL and catches panics, so no Rust
//! panic reaches the host. The header `include/ctilink.h` is generated from these files by
//! a pinned cbindgen and checked for drift by the tests. Shutdown order, threads and
//! ownership are documented on each function; `docs/c-api.md` has the overview.
#![allow(unsafe_code)]
// The exports are reached through the C symbol table, not Rust paths.
#![allow(unreachable_pub)]

mod boundary;
mod codes;
mod commands;
mod dial;
mod event;
mod options;
mod queue;
mod result;
mod sequencer;
mod session;
mod snapshot;
mod text;

use std::os::raw::c_char;

/// The version of the library the header was made for. Compare with
/// `ctilink_version()` to detect a mismatched DLL.
pub const CTILINK_VERSION_MAJOR: u32 = 0;
pub const CTILINK_VERSION_MINOR: u32 = 1;
pub const CTILINK_VERSION_PATCH: u32 = 0;

static VERSION: &std::ffi::CStr = c"ctilink/0.1.0";

/// The library's version as `ctilink/MAJOR.MINOR.PATCH`, a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn ctilink_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_constants_match_the_package() {
        let v = format!(
            "ctilink/{}.{}.{}",
            super::CTILINK_VERSION_MAJOR,
            super::CTILINK_VERSION_MINOR,
            super::CTILINK_VERSION_PATCH
        );
        assert_eq!(v, format!("ctilink/{}", env!("CARGO_PKG_VERSION")));
        assert_eq!(super::VERSION.to_str().ok(), Some(v.as_str()));
    }
}
