//! The Asterisk Manager Interface: wire codec, typed views, and the client link.
//!
//! Kept in layers, as in mini-redis: [`decoder`]/[`encoder`] turn bytes into
//! [`Message`]s and back without any IO; [`action`], [`event`] and [`response`] give
//! typed views over messages; [`client`] is the tokio task that owns the socket.

pub mod action;
pub mod capture;
pub mod client;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod event;
pub mod message;
pub mod record;
pub mod response;

mod auth;
pub mod backoff;
pub(crate) mod connection;

pub use action::Action;
pub use backoff::ReconnectPolicy;
pub use capture::{read_capture, Capture};
pub use client::{AmiClient, LinkEvent, LinkState, Subscription};
pub use config::{AmiConfig, AuthMethod, TlsConfig, DEFAULT_EVENT_QUEUE_BYTES, MAX_STANDBY};
pub use decoder::{Banner, DecodeError, Decoder, Frame, Limits};
pub use encoder::{EncodeError, MessageBuilder};
pub use event::AmiEvent;
pub use message::{Message, MessageKind};
pub use record::{RecordOptions, Recorder, DEFAULT_RECORD_LIMIT};
pub use response::{ListResponse, Response};
