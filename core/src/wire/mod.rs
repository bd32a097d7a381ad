//! The gateway's client protocol: newline-delimited JSON, one message per line, defined
//! once here for both ends (the `ctilink-gateway` server and the [`GatewayLink`] client).
//!
//! A client says `hello` with its token; the server answers `welcome` (what the token may
//! monitor and control) and a `snapshot` of what it may see, then streams `event`s. The
//! client sends `command`s with ids of its choosing and gets one `result` per id, and
//! `ping`s answered by `pong`. docs/wire-protocol.md has a full example session.
//!
//! The types are plain serde values so that the server, the Rust client, a browser and a
//! test script read the same thing; the line framing (with its length limit) is in
//! [`codec`], the mapping of [`Error`](crate::Error) to error codes in [`error`].
//!
//! [`GatewayLink`]: crate::link::gateway::GatewayLink

pub mod codec;
pub mod error;
pub mod message;

pub use codec::{encode, encode_into, parse_client, parse_server, ClientParseError, LineCodec, LineError};
pub use error::{ErrorCode, WireError};
pub use message::{ClientMessage, CommandResult, LinkState, ServerMessage};

/// The protocol version this build speaks. A `hello` names the highest version the client
/// speaks; the server answers with the version both will use, or refuses.
pub const PROTOCOL_VERSION: u32 = 1;

/// The default TCP port of the gateway (`ctilink://`); TLS (`ctilinks://`) defaults to
/// [`DEFAULT_TLS_PORT`].
pub const DEFAULT_PORT: u16 = 7070;

/// The default port of the gateway's TLS listener.
pub const DEFAULT_TLS_PORT: u16 = 7071;

/// The default limit on one message a client sends (a line, or a WebSocket message), in
/// bytes. Clients send short messages; the limit keeps a hostile one from making the
/// server buffer much.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// The limit on one message a server sends, as clients enforce it. A snapshot is the
/// longest: about 200 bytes per device and 400 per call, so 64 MiB holds a PBX far larger
/// than the model's own bounds allow in practice while still stopping a runaway server.
pub const MAX_SERVER_LINE: usize = 64 * 1024 * 1024;
