//! `ctilink-sim`: a PBX simulator that speaks the Asterisk Manager Interface
//! like Asterisk 20, for tests, demos and load runs without a real PBX.
//!
//! It accepts AMI clients over TCP (or TLS), logs them in (plain or MD5),
//! and simulates phones that call each other: `Originate` (click-to-dial),
//! calls placed from a phone ([`SimHandle::place_call`]), `Hangup`, and the state
//! lists `ExtensionStateList`, `DeviceStateList` and `CoreShowChannels`. The
//! events of a call copy, name for name and field for field, what a real
//! Asterisk 20 sent in the captures under `tests/vectors/ami/asterisk20/`;
//! `docs/simulator.md` lists where the simulator differs.
//!
//! Tests also use it to misbehave on purpose: drop every connection, go
//! silent, send junk, an oversized message or a burst of events.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ctilink_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("connect to {}", sim.url()); // ami://admin:secret@127.0.0.1:PORT
//! sim.place_call("101", "100").ok();
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`config`](SimConfig) what the PBX looks like; `pbx` the sans-IO
//! state and call progress (`pbx/control` phone control and small actions,
//! `pbx/transfer` transfers and pickup, `pbx/truth` [`SimTruth`]); `astdb` the
//! AstDB and custom device states; `traffic` the traffic generator; `events` the AMI message builders; `session` the
//! answer to each action; `server` sockets and connection tasks; `hub` the
//! bounded fan-out of events; `faults` fault injection; `handle` the public handle.

mod astdb;
mod channel;
mod config;
mod events;
mod faults;
mod handle;
mod hub;
mod pbx;
mod server;
mod session;
mod traffic;
mod version;

pub use config::{SimConfig, SimError, SimTls};
pub use handle::{SimHandle, Simulator};
pub use pbx::{SimChannel, SimDevice, SimTruth};
pub use traffic::{TrafficConfig, TrafficHandle};
pub use version::AsteriskVersion;
