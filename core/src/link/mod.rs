//! Transports under a [`Session`](crate::Session): how commands reach the PBX and how its
//! events come back as the call model's.
//!
//! A link owns the model (or mirrors it, for the gateway client) and fans the normalized
//! events out to any number of subscribers. AMI is the first link; the gateway client and
//! CSTA-XML implement the same trait, so the `Session` API, and every binding over it,
//! stays the same whatever the transport.

use std::future::Future;
use std::pin::Pin;

use crate::command::{Command, Outcome};
use crate::error::Result;
use crate::fanout;
use crate::model::{Call, Device, Event, Snapshot};

pub mod ami;
pub mod gateway;
pub mod multi;

/// A boxed future, so that [`Link`] can be used as `dyn Link`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether the link can carry commands now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkStatus {
    /// Connected and the model is in step with the PBX.
    Up,
    /// Lost; reconnecting. Commands fail with `LinkDown`.
    Down { reason: String },
    /// Closed by the application.
    Closed,
}

/// A transport to the PBX with the call model on top.
pub trait Link: Send + Sync + std::fmt::Debug + 'static {
    /// Carries out one command; resolves when the PBX accepted or refused it.
    fn execute(&self, command: Command) -> BoxFuture<'_, Result<Outcome>>;
    /// A new receiver of the normalized events, from now on. The link's queue is bounded
    /// in events and in bytes ([`fanout`]): a receiver that falls behind either bound gets
    /// `RecvError::Lagged` and goes on with the oldest event still queued.
    fn subscribe(&self) -> fanout::Receiver<Event>;
    /// Devices and calls now.
    fn snapshot(&self) -> Snapshot;
    fn device(&self, id: &str) -> Option<Device>;
    fn call(&self, id: &str) -> Option<Call>;
    fn status(&self) -> LinkStatus;
    /// Stops the link; later commands fail with `Closed`.
    fn close(&self) -> BoxFuture<'_, ()>;
}
