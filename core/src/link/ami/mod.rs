//! The direct AMI link: an [`AmiClient`] feeding a [`Tracker`], and call control as AMI
//! actions (`control.rs`, the mapping documented in docs/call-control.md).
//!
//! One task owns the subscription to the PBX's events. It applies each to the tracker
//! under a short lock and broadcasts the normalized events, so every subscriber sees
//! them in the PBX's order. On every login (the first and each reconnect) it rebuilds the
//! model from the state lists; a subscriber of the link sees `LinkDown`, then `LinkUp`
//! and the resync's events ending with `Resynced`. If the task itself falls behind the
//! PBX (the client's ring overflowed), the model missed events, so it resyncs too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{BoxFuture, Link, LinkStatus};
use crate::ami::{Action, AmiClient, AmiConfig, LinkEvent, ListResponse, Subscription};
use crate::command::{Command, Outcome};
use crate::error::{Error, Result};
use crate::fanout;
use crate::model::interface_of;
use crate::model::{Call, Device, Event, ResyncLists, Snapshot, Tracker};

mod astdb;
mod control;
mod convention;
mod endpoints;
mod lamp;
mod originate;

pub use convention::AstDbConvention;

/// How the SDK drives phones that need their help for some commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneControl {
    /// Not set up: `answer`, `hold` and `retrieve` fail with `Unsupported`.
    #[default]
    None,
    /// `PJSIPNotify` with `Event: talk` / `Event: hold` (chan_pjsip).
    Pjsip,
    /// `SIPnotify` (chan_sip, Asterisk 20 and older).
    Sip,
}

/// What the AMI link needs to know about the PBX's setup for call control.
#[derive(Clone, Debug)]
pub struct ControlOptions {
    /// Dialplan context for devices whose hint does not name one.
    pub context: String,
    /// Channel technology for devices the PBX has not reported an interface for.
    pub technology: String,
    pub phone_control: PhoneControl,
    /// The AstDB convention the PBX's dialplan follows for DND and forwarding (ctilink's
    /// snippet or FreePBX's modules); `None`: neither, and those commands are refused.
    pub astdb: Option<AstDbConvention>,
    /// How long a click-to-dial rings the user's own phone.
    pub originate_timeout: Duration,
    /// How long `consultation_call` waits for the new call to appear.
    pub consultation_timeout: Duration,
}

impl Default for ControlOptions {
    fn default() -> Self {
        Self {
            context: "from-internal".into(),
            technology: "PJSIP".into(),
            phone_control: PhoneControl::None,
            astdb: None,
            originate_timeout: Duration::from_secs(30),
            consultation_timeout: Duration::from_secs(10),
        }
    }
}

/// The model and what the lists taught about the dialplan.
#[derive(Debug, Default)]
struct Model {
    tracker: Tracker,
    /// Device (and extension) to the context of its hint.
    contexts: HashMap<String, String>,
}

#[derive(Debug)]
struct Shared {
    model: Mutex<Model>,
    /// Taken on close, so that every subscriber's stream ends.
    events: Mutex<Option<fanout::Sender<Event>>>,
    status: Mutex<LinkStatus>,
    control: ControlOptions,
    originates: Mutex<originate::Originates>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the model half-updated in a way that
    // matters more than stopping the link would; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn emit(&self, ev: Event) {
        if let Some(tx) = &*lock(&self.events) {
            // No subscriber is not an error: the model keeps the state.
            let _ = tx.send(ev);
        }
    }

    fn set_status(&self, s: LinkStatus) {
        *lock(&self.status) = s;
    }
}

/// The AMI link. Dropping it stops its task and logs off.
#[derive(Debug)]
pub struct AmiLink {
    client: AmiClient,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for AmiLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AmiLink {
    /// Connects, logs in and builds the model from the PBX's lists before returning, so
    /// that `snapshot()` is complete at once. The queue of the model's events holds at most
    /// `event_queue` events and `event_queue_bytes` bytes of them (by
    /// [`Weigh`](crate::fanout::Weigh): an event and the strings it owns; a `UserEvent`
    /// carries its dialplan fields, up to the PBX's 1 MiB message limit); a subscriber
    /// further behind gets `Lagged`.
    pub async fn connect(
        ami: AmiConfig,
        control: ControlOptions,
        event_queue: usize,
        event_queue_bytes: usize,
    ) -> Result<AmiLink> {
        fanout::check_bounds(event_queue, event_queue_bytes)?;
        let wait = ami.connect_timeout + ami.login_timeout + ami.action_timeout * 3;
        let (client, sub) = AmiClient::connect_subscribed(ami).await?;
        let (events, _) = fanout::channel(event_queue, event_queue_bytes);
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::default()),
            events: Mutex::new(Some(events)),
            status: Mutex::new(LinkStatus::Up),
            control,
            originates: Mutex::new(originate::Originates::default()),
        });
        let (ready_tx, ready) = oneshot::channel();
        let task = tokio::spawn(run(shared.clone(), client.clone(), sub, ready_tx));
        let link = AmiLink { client, shared, task };
        let first = match tokio::time::timeout(wait, ready).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::LinkDown),
            Err(_) => Err(Error::Timeout(wait)),
        };
        if let Err(e) = first {
            link.client.close().await;
            return Err(e);
        }
        Ok(link)
    }

    /// The underlying AMI client (counters, raw actions).
    pub fn client(&self) -> &AmiClient {
        &self.client
    }

    fn model(&self) -> MutexGuard<'_, Model> {
        lock(&self.shared.model)
    }
}

/// The event loop: PBX events into the tracker, link changes into link events.
async fn run(
    shared: Arc<Shared>,
    client: AmiClient,
    mut sub: Subscription,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    let mut buf = Vec::new();
    // The task's own sender: the hot path sends without taking the lock `close` uses. When
    // the session closes, the task is aborted and this clone goes with it.
    let Some(tx) = lock(&shared.events).clone() else { return };
    // A resync that failed while the link stayed up (the PBX was too slow to list) is
    // tried again, so the model does not keep ghosts until the next reconnect.
    let mut retry: Option<tokio::time::Instant> = None;
    // A PBX that is still starting accepts logins before its dialplan is loaded: its lists
    // come back empty. Asterisk says `FullyBooted` right after the login once it is up (to
    // a user that reads `system` events), or later, when it gets there. The model is read
    // on that event, or after `BOOT_WAIT` from a PBX that never says it.
    let mut booted = false;
    let mut boot_wait: Option<tokio::time::Instant> = None;
    let lamp_reads = lamp::Reads::default();
    loop {
        let timer = match (retry, boot_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ev = match timer {
            Some(at) => tokio::select! {
                ev = sub.recv() => ev,
                () = tokio::time::sleep_until(at) => {
                    if boot_wait.is_some_and(|b| b <= at) {
                        boot_wait = None;
                        tracing::debug!("no FullyBooted from the PBX; reading its state now");
                        retry = read_after_login(&shared, &client, &mut ready).await;
                    } else {
                        retry = resync_or_retry(&shared, &client, "retried").await;
                    }
                    continue;
                }
            },
            None => sub.recv().await,
        };
        let Some(ev) = ev else { break };
        match ev {
            LinkEvent::Event(m) => {
                if !booted && m.is_event("FullyBooted") {
                    booted = true;
                    retry = if boot_wait.take().is_some() {
                        read_after_login(&shared, &client, &mut ready).await
                    } else {
                        // Read early (no word from the PBX in time): read again now that
                        // its dialplan is loaded.
                        resync_or_retry(&shared, &client, "after the PBX booted").await
                    };
                }
                if m.is_event("OriginateResponse") {
                    buf.extend(lock(&shared.originates).response(&m));
                }
                let start = buf.len();
                lock(&shared.model).tracker.apply_into(&m, &mut buf);
                if buf.len() > start {
                    lock(&shared.originates).note_reported(&buf[start..]);
                }
                lamp::on_event(&shared, &client, &m, &lamp_reads);
                for e in buf.drain(..) {
                    // No subscriber is not an error: the model keeps the state.
                    let _ = tx.send(e);
                }
            }
            LinkEvent::Up { reconnected, .. } => {
                shared.set_status(LinkStatus::Up);
                shared.emit(Event::LinkUp { reconnected });
                if booted {
                    retry = read_after_login(&shared, &client, &mut ready).await;
                } else {
                    boot_wait = Some(tokio::time::Instant::now() + BOOT_WAIT);
                }
            }
            LinkEvent::Down { reason } => {
                retry = None;
                booted = false;
                boot_wait = None;
                shared.set_status(LinkStatus::Down { reason: reason.clone() });
                shared.emit(Event::LinkDown { reason });
            }
            LinkEvent::Lagged(n) => {
                tracing::warn!("the call model missed {n} PBX events; rebuilding it");
                retry = resync_or_retry(&shared, &client, "after lag").await;
            }
        }
    }
    shared.set_status(LinkStatus::Closed);
}

/// How long a login waits for `FullyBooted` before the model is read anyway (Asterisk
/// older than 1.6.2, or a user without `system` read permission, never sends it).
const BOOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads the PBX's state after a login. The first time, the caller of `connect` gets the
/// result (its error instead of a retry).
async fn read_after_login(
    shared: &Shared,
    client: &AmiClient,
    ready: &mut Option<oneshot::Sender<Result<()>>>,
) -> Option<tokio::time::Instant> {
    if let Some(tx) = ready.take() {
        let _ = tx.send(resync(shared, client).await);
        None
    } else {
        resync_or_retry(shared, client, "after login").await
    }
}

/// How long to wait before trying a failed resync again.
const RESYNC_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// Resyncs; on failure (other than the link going down, which a reconnect will fix)
/// returns when to try again.
async fn resync_or_retry(shared: &Shared, client: &AmiClient, when: &str) -> Option<tokio::time::Instant> {
    match resync(shared, client).await {
        Ok(()) => None,
        Err(Error::LinkDown | Error::Closed) => None,
        Err(e) => {
            tracing::warn!("resync {when} failed: {e}; trying again in {RESYNC_RETRY:?}");
            Some(tokio::time::Instant::now() + RESYNC_RETRY)
        }
    }
}

/// A list, or nothing if the PBX refuses this list action (old Asterisk has no
/// `DeviceStateList`); a lost link or a timeout is an error. `CoreShowChannels` exists on
/// every supported Asterisk, so its refusal (an AMI user without the `reporting`
/// permission) is an error too: taking it as "no channels" would end every call.
async fn list(client: &AmiClient, action: Action) -> Result<Vec<crate::ami::Message>> {
    let required = action.name().eq_ignore_ascii_case("CoreShowChannels");
    match client.send_list(action).await {
        Ok(ListResponse { items, .. }) => Ok(items),
        Err(Error::PbxRefused(why)) if !required => {
            tracing::debug!("state list refused: {why}");
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Rebuilds the model from `CoreShowChannels`, `ExtensionStateList`, `DeviceStateList`
/// and the endpoint lists (`endpoints.rs`), and broadcasts the difference.
async fn resync(shared: &Shared, client: &AmiClient) -> Result<()> {
    let lists = ResyncLists {
        channels: list(client, Action::core_show_channels()).await?,
        extensions: list(client, Action::extension_state_list()).await?,
        devices: list(client, Action::device_state_list()).await?,
        endpoints: endpoints::list_endpoints(client).await?,
    };
    let mut contexts = HashMap::new();
    for m in &lists.extensions {
        let (Some(exten), Some(context)) = (m.get("Exten"), m.get("Context")) else { continue };
        contexts.insert(exten.to_owned(), context.to_owned());
        let hint = m.get("Hint").unwrap_or_default();
        if let Some((_, dev)) = hint.split('&').next().and_then(interface_of) {
            contexts.entry(dev.to_owned()).or_insert_with(|| context.to_owned());
        }
    }
    lock(&shared.originates).clear();
    let (mut events, phones) = {
        let mut model = lock(&shared.model);
        model.contexts = contexts;
        let events = model.tracker.resync(&lists);
        let phones: Vec<String> = model
            .tracker
            .devices()
            .into_iter()
            .filter(|d| d.interface.is_some())
            .map(|d| d.id.to_string())
            .collect();
        (events, phones)
    };
    if let Some(convention) = shared.control.astdb {
        // Forwarding changed while we were away sent its UserEvent to nobody: read it back,
        // and report the changes before `Resynced`.
        match astdb::read_settings(client, convention, phones).await {
            Ok(settings) => {
                let resynced = events.pop();
                let mut model = lock(&shared.model);
                for (dev, setting) in &settings {
                    events.extend(match setting {
                        astdb::Setting::Forward(kind, to) => {
                            model.tracker.set_forwarding(dev, *kind, to.as_deref())
                        }
                        astdb::Setting::DoNotDisturb(on) => model.tracker.set_do_not_disturb(dev, *on),
                    });
                }
                drop(model);
                if let Some(mut r) = resynced {
                    if let Event::Resynced { devices_changed, .. } = &mut r {
                        for e in &events {
                            if let Event::Forwarding { device, .. } | Event::DoNotDisturb { device, .. } = e {
                                if !devices_changed.contains(device) {
                                    devices_changed.push(device.clone());
                                }
                            }
                        }
                    }
                    events.push(r);
                }
            }
            Err(e) => tracing::warn!("could not read forwarding from the AstDB: {e}"),
        }
    }
    for e in events {
        shared.emit(e);
    }
    Ok(())
}

impl Link for AmiLink {
    fn execute(&self, command: Command) -> BoxFuture<'_, Result<Outcome>> {
        Box::pin(control::execute(self, command))
    }

    fn subscribe(&self) -> fanout::Receiver<Event> {
        match &*lock(&self.shared.events) {
            Some(tx) => tx.subscribe(),
            // Closed: a receiver whose sender is already gone ends at once.
            None => fanout::channel(1, 1).1,
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.model().tracker.snapshot()
    }

    fn device(&self, id: &str) -> Option<Device> {
        self.model().tracker.device(id).cloned()
    }

    fn call(&self, id: &str) -> Option<Call> {
        self.model().tracker.call(id)
    }

    fn status(&self) -> LinkStatus {
        lock(&self.shared.status).clone()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.shared.set_status(LinkStatus::Closed);
            self.task.abort();
            lock(&self.shared.events).take();
            self.client.close().await;
        })
    }
}
