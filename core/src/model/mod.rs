//! The call model: devices, calls and the call-state machine.
//!
//! [`Tracker`] turns AMI events into a model of devices and calls and into normalized
//! [`Event`]s. It is sans-IO and deterministic: the same input gives the same output, so it
//! is replayed from captures, fuzzed and benchmarked on its own. The states follow the CSTA
//! connection-state model (ECMA-269); `docs/call-model.md` has the tables and [`tapi`]
//! the mapping that the C ABI and the TSP shim use.

mod call;
pub mod catalogue;
mod device;
mod event;
mod ids;
pub mod mirror;
mod state;
pub mod tapi;
mod tracker;

pub use call::{Call, Connection, Diversion};
pub use device::{Device, ForwardKind};
pub use event::{Cause, DivertReason, Endpoint, Event, FailureReason, TransferKind};
pub use ids::{interface_of, CallId, DeviceId};
pub use mirror::{Mirror, MirrorLimits};
pub use state::{ConnectionState, DeviceState, Party, Presentation};
pub use tracker::{ResyncLists, Snapshot, Tracker, TrackerLimits};
