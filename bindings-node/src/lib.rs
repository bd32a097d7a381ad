//! Node bindings of ctilink, built with napi-rs.
//!
//! This crate is the native half of the npm package `ctilink`: the core's `Session`, its
//! event streams, `DialProgress` and the simulator, exposed with plain arguments and
//! JSON results. The public JavaScript API (an `EventEmitter`, async iterators, errors
//! with `code`) is `index.js` on top of it, and `index.d.ts` types that. Nothing here
//! decides anything about calls: the core does.

mod dial;
mod error;
mod json;
mod options;
mod session;
mod sim;
mod stream;

pub use dial::NativeDial;
pub use options::ConnectOptions;
pub use session::{connect, LinkStatusInfo, NativeSession};
pub use sim::{start_simulator, NativeSimulator, SimulatorOptions, TrafficOptions};
pub use stream::NativeEventStream;
