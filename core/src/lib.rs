//! ctilink: a CTI SDK for PBXs.
//!
//! [`Session`] is the API: connect to a PBX, watch its devices and calls as normalized
//! [`Event`]s, and control calls (click-to-dial, answer, hold, transfer, pickup...). Under
//! it, [`link`] carries commands and events (the Asterisk Manager Interface, [`ami`],
//! first) and [`model`] turns PBX events into calls and devices. See `docs/architecture.md` in the
//! repository for the map.

pub mod ami;
pub mod command;
pub mod error;
pub mod fanout;
pub mod link;
pub mod model;
pub mod secret;
pub mod session;
pub mod wire;

pub use command::{Command, ForwardKind, Outcome};
pub use error::{Error, Result};
pub use link::ami::{AstDbConvention, ControlOptions, PhoneControl};
pub use link::{Link, LinkStatus};
pub use model::{Call, CallId, ConnectionState, Device, DeviceId, DeviceState, Event, Snapshot};
pub use secret::Secret;
pub use session::{DialOutcome, DialProgress, EventStream, Session, SessionOptions, Transport};
