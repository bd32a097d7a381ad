//! The one public API that every language wraps: connect, watch devices and calls,
//! control calls.
//!
//! A `Session` is a cheap handle (clones share one link) over a [`Link`]: AMI straight to
//! Asterisk, or the gateway client (`ctilink://`), with the same events and the same model.
//! Commands return when the PBX accepted or refused them; what follows (ringing, answer,
//! busy) arrives on [`events`](Session::events) as [`Event`](crate::Event)s.
//!
//! ```no_run
//! # async fn demo() -> ctilink::Result<()> {
//! use ctilink::{Event, Session};
//! let session = Session::connect("ami://admin:secret@pbx.example:5038").await?;
//! let mut events = session.events();
//! let call = session.make_call("100", "0301234567").await?;
//! while let Some(ev) = events.next().await {
//!     if ev.call() == Some(&call) {
//!         println!("{}", ev.kind());
//!         if matches!(ev, Event::CallCleared { .. }) {
//!             break;
//!         }
//!     }
//! }
//! session.close().await;
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::command::{Command, ForwardKind, Outcome};
use crate::error::{Error, Result};
use crate::link::ami::AmiLink;
use crate::link::gateway::GatewayLink;
use crate::link::{Link, LinkStatus};
use crate::model::{Call, CallId, Device, DeviceId, Snapshot};

mod dial;
mod options;
mod stream;

pub use dial::{DialOutcome, DialProgress};
pub use options::{SessionOptions, Transport};
pub use stream::EventStream;

/// A connection to a PBX with its call model. Clones share it; it closes when
/// [`close`](Session::close) is called or the last clone is dropped.
#[derive(Clone)]
pub struct Session {
    link: Arc<dyn Link>,
    monitor: Option<Arc<HashSet<String>>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("link", &self.link).field("status", &self.link.status()).finish()
    }
}

impl Session {
    /// Connects with the options of a URL (see [`SessionOptions::from_url`]). Returns once
    /// logged in and the model holds the PBX's devices and calls.
    pub async fn connect(url: &str) -> Result<Session> {
        Self::connect_with(SessionOptions::from_url(url)?).await
    }

    /// Connects with options built in code.
    pub async fn connect_with(options: SessionOptions) -> Result<Session> {
        let link: Arc<dyn Link> = match options.transport {
            Transport::Ami(cfg) => Arc::new(
                AmiLink::connect(cfg, options.control, options.event_queue, options.event_queue_bytes)
                    .await?,
            ),
            Transport::Gateway(cfg) => {
                Arc::new(GatewayLink::connect(cfg, options.event_queue, options.event_queue_bytes).await?)
            }
        };
        Ok(Self::over(link, options.monitor))
    }

    /// A session over any link (a custom transport, or a link shared by several sessions).
    pub fn over(link: Arc<dyn Link>, monitor: Option<Vec<String>>) -> Session {
        Session { link, monitor: monitor.map(|m| Arc::new(m.into_iter().collect())) }
    }

    /// The events from now on. Each stream has its own bounded queue.
    pub fn events(&self) -> EventStream {
        EventStream::new(self.link.subscribe(), self.monitor.clone())
    }

    /// Devices and calls now.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.link.snapshot();
        if let Some(m) = &self.monitor {
            s.devices.retain(|d| m.contains(d.id.as_str()));
            s.calls.retain(|c| c.connections.iter().any(|k| m.contains(k.device.as_str())));
        }
        s
    }

    pub fn device(&self, id: impl AsRef<str>) -> Option<Device> {
        self.link.device(id.as_ref())
    }

    pub fn call(&self, id: impl AsRef<str>) -> Option<Call> {
        self.link.call(id.as_ref())
    }

    /// Whether the link is up, down (reconnecting) or closed.
    pub fn status(&self) -> LinkStatus {
        self.link.status()
    }

    /// Carries out a command given as data (what the typed methods below build).
    pub async fn execute(&self, command: Command) -> Result<Outcome> {
        self.link.execute(command).await
    }

    async fn accepted(&self, command: Command) -> Result<()> {
        self.execute(command).await.map(drop)
    }

    async fn started(&self, command: Command) -> Result<CallId> {
        match self.execute(command).await? {
            Outcome::Call(id) => Ok(id),
            Outcome::Accepted => Err(Error::Protocol("the link did not report the new call's id".into())),
        }
    }

    /// Click-to-dial: rings `from` (the user's phone); when it answers, calls `to`. The
    /// call's id is returned at once; events with it follow (`Delivered` with
    /// `click_to_dial` while the user's phone rings, then `Originated`, `Delivered` at the
    /// destination, `Established` or `Failed`).
    pub async fn make_call(&self, from: impl AsRef<str>, to: impl AsRef<str>) -> Result<CallId> {
        self.started(Command::MakeCall { from: dev(from), to: to.as_ref().to_owned(), id: None }).await
    }

    /// Answers a call ringing at `device` (needs phone control).
    pub async fn answer(&self, call: impl AsRef<str>, device: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::Answer { call: id(call), device: dev(device) }).await
    }

    /// Hangs up `device`'s part of the call.
    pub async fn clear_connection(&self, call: impl AsRef<str>, device: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::ClearConnection { call: id(call), device: dev(device) }).await
    }

    /// Ends the call for every party.
    pub async fn clear_call(&self, call: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::ClearCall { call: id(call) }).await
    }

    /// Puts the call on hold at `device` (needs phone control).
    pub async fn hold(&self, call: impl AsRef<str>, device: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::Hold { call: id(call), device: dev(device) }).await
    }

    /// Takes the call off hold at `device` (needs phone control).
    pub async fn retrieve(&self, call: impl AsRef<str>, device: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::Retrieve { call: id(call), device: dev(device) }).await
    }

    /// Blind transfer: the party talking to `device` is sent to `to`; `device` is released.
    pub async fn single_step_transfer(
        &self,
        call: impl AsRef<str>,
        device: impl AsRef<str>,
        to: impl AsRef<str>,
    ) -> Result<()> {
        self.accepted(Command::SingleStepTransfer { call: id(call), device: dev(device), to: own(to) }).await
    }

    /// Holds the call and calls `to` from `device`; returns the new call's id. Complete
    /// with [`transfer_call`](Self::transfer_call).
    pub async fn consultation_call(
        &self,
        call: impl AsRef<str>,
        device: impl AsRef<str>,
        to: impl AsRef<str>,
    ) -> Result<CallId> {
        self.started(Command::ConsultationCall { call: id(call), device: dev(device), to: own(to) }).await
    }

    /// Attended transfer: joins the other party of `held` with the other party of `active`
    /// (a consultation call) and releases the transferring device.
    pub async fn transfer_call(&self, held: impl AsRef<str>, active: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::TransferCall { held: id(held), active: id(active) }).await
    }

    /// Sends a call that rings at `device` to `to` instead.
    pub async fn deflect(
        &self,
        call: impl AsRef<str>,
        device: impl AsRef<str>,
        to: impl AsRef<str>,
    ) -> Result<()> {
        self.accepted(Command::Deflect { call: id(call), device: dev(device), to: own(to) }).await
    }

    /// Takes, at `device`, a call that rings elsewhere: `call_or_device` is the call's id or
    /// the ringing device. `device`'s phone rings first; answering it takes the call.
    pub async fn pickup(&self, device: impl AsRef<str>, call_or_device: impl AsRef<str>) -> Result<()> {
        self.accepted(Command::Pickup { device: dev(device), target: own(call_or_device) }).await
    }

    /// Sends DTMF digits (`0-9*#A-D`) from `device` to the other party.
    pub async fn send_dtmf(
        &self,
        call: impl AsRef<str>,
        device: impl AsRef<str>,
        digits: impl AsRef<str>,
    ) -> Result<()> {
        self.accepted(Command::SendDtmf { call: id(call), device: dev(device), digits: own(digits) }).await
    }

    /// Do-not-disturb on or off (needs the AstDB convention).
    pub async fn set_do_not_disturb(&self, device: impl AsRef<str>, on: bool) -> Result<()> {
        self.accepted(Command::SetDoNotDisturb { device: dev(device), on }).await
    }

    /// Forwarding of `kind` to `to`, or off with `None` (needs the AstDB convention).
    pub async fn set_forwarding(
        &self,
        device: impl AsRef<str>,
        kind: ForwardKind,
        to: Option<&str>,
    ) -> Result<()> {
        self.accepted(Command::SetForwarding { device: dev(device), kind, to: to.map(str::to_owned) }).await
    }

    /// Logs off and closes the link for every clone; event streams end, later commands
    /// fail with [`Error::Closed`].
    pub async fn close(&self) {
        self.link.close().await;
    }
}

fn id(s: impl AsRef<str>) -> CallId {
    CallId::new(s.as_ref())
}

fn dev(s: impl AsRef<str>) -> DeviceId {
    DeviceId::new(s.as_ref())
}

fn own(s: impl AsRef<str>) -> String {
    s.as_ref().to_owned()
}
