//! ctilink: a CTI SDK for PBXs.
//!
//! This crate speaks the PBX's CTI protocol — the Asterisk Manager Interface (AMI)
//! first — and will carry the call-state machine and the `Session` API that every
//! language binding wraps. See `DESIGN.md` in the repository for the map.

pub mod ami;
pub mod error;
pub mod model;
pub mod secret;

pub use error::{Error, Result};
pub use secret::Secret;
