//! One [`Link`] over several PBXs: what a gateway serving several `[[pbx]]` hands its hub.
//!
//! Each PBX keeps its own link and call model, which never see a prefixed id. This link
//! adds `PBX/` to every device and call id of the events, snapshots and lookups
//! ([`ids`]), and takes it off a command's ids to send it to that PBX's link. A device
//! or call without a known PBX is answered as one that does not exist.
//!
//! How one PBX's link going down and coming back shows in the merged stream, so that it
//! never costs clients the other PBXs' devices and calls:
//! - A PBX's `link_down` passes with its reason prefixed (`hamburg: connection lost`).
//!   The merged link counts as down while *any* PBX is down: its `link_up` is sent when
//!   the last PBX that was down is up again (the events carry no PBX field, and a
//!   `link_up` while another PBX is still down would tell clients commands work there).
//! - The resync of a PBX (its `device_removed`, `call_cleared`... and `resynced`) names
//!   only that PBX's prefixed ids, because its link compares only its own model. A model
//!   kept from events (the hub's and every client's [`Mirror`]) therefore changes only in
//!   that PBX's part. Whoever takes a fresh snapshot on `resynced` (the gateway's hub
//!   does) gets every PBX's part from [`snapshot`](Link::snapshot), which merges them all.
//! - When the merged stream's reader of one PBX's events falls behind (its queue
//!   dropped events), the merged stream carries the difference between what it had
//!   passed on for that PBX and the PBX's model now, ending in `resynced`: the same
//!   events a reconnect gives, again for that PBX only.

pub mod ids;

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::{BoxFuture, Link, LinkStatus};
use crate::command::{Command, Outcome};
use crate::error::{Error, Result};
use crate::fanout;
use crate::model::{Call, Device, Event, Mirror, Snapshot};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Several PBXs' links as one, their ids prefixed with each PBX's id.
#[derive(Debug)]
pub struct MultiLink {
    ids: Vec<String>,
    links: Vec<Arc<dyn Link>>,
    merged: Arc<Merged>,
    tasks: Vec<JoinHandle<()>>,
}

/// The merged stream and which PBXs it has reported down, under one lock so that two
/// PBXs' link events cannot interleave into a `link_up` while one is down.
#[derive(Debug)]
struct Merged {
    state: Mutex<MergedState>,
}

#[derive(Debug)]
struct MergedState {
    tx: Option<fanout::Sender<Event>>,
    down: Vec<String>,
}

impl Merged {
    /// Passes one event of `pbx`, already prefixed, or the link event it stands for.
    fn pass(&self, pbx: &str, ev: Event) -> Option<Event> {
        let mut st = lock(&self.state);
        let out = match ev {
            Event::LinkDown { reason } => {
                if !st.down.iter().any(|p| p == pbx) {
                    st.down.push(pbx.to_owned());
                }
                Event::LinkDown { reason: format!("{pbx}: {reason}") }
            }
            Event::LinkUp { reconnected } => {
                st.down.retain(|p| p != pbx);
                if !st.down.is_empty() {
                    return None;
                }
                Event::LinkUp { reconnected }
            }
            // The merged stream's own lag is its readers' business.
            Event::Lagged { .. } => return None,
            other => ids::event(pbx, other),
        };
        if let Some(tx) = &st.tx {
            let _ = tx.send(out.clone());
        }
        Some(out)
    }
}

impl MultiLink {
    /// Takes over the links, one per PBX id (checked unique and without `/` by the
    /// caller's configuration), and merges their events into a queue of `event_queue`
    /// events and `event_queue_bytes` bytes. Needs a tokio runtime.
    pub fn new(
        pbxs: Vec<(String, Arc<dyn Link>)>,
        event_queue: usize,
        event_queue_bytes: usize,
    ) -> Result<Self> {
        fanout::check_bounds(event_queue, event_queue_bytes)?;
        if pbxs.is_empty() {
            return Err(Error::InvalidArgument("a link over several PBXs needs at least one".into()));
        }
        let (tx, _) = fanout::channel(event_queue, event_queue_bytes);
        let merged = Arc::new(Merged { state: Mutex::new(MergedState { tx: Some(tx), down: Vec::new() }) });
        let mut tasks = Vec::new();
        let (mut ids, mut links) = (Vec::new(), Vec::new());
        for (pbx, link) in pbxs {
            if let LinkStatus::Down { .. } = link.status() {
                lock(&merged.state).down.push(pbx.clone());
            }
            let rx = link.subscribe();
            tasks.push(tokio::spawn(forward(pbx.clone(), link.clone(), rx, merged.clone())));
            ids.push(pbx);
            links.push(link);
        }
        Ok(MultiLink { ids, links, merged, tasks })
    }

    /// The PBX ids, in the order given.
    pub fn pbxs(&self) -> &[String] {
        &self.ids
    }

    fn link_of<'a>(&self, id: &'a str) -> Option<(&str, &'a str, &Arc<dyn Link>)> {
        let (pbx, rest) = ids::split(id)?;
        let i = self.ids.iter().position(|p| p == pbx)?;
        Some((&self.ids[i], rest, &self.links[i]))
    }
}

/// One PBX's events into the merged stream, with a mirror of what was passed on, to
/// tell the difference when events were lost.
async fn forward(pbx: String, link: Arc<dyn Link>, mut rx: fanout::Receiver<Event>, merged: Arc<Merged>) {
    let mut mirror = Mirror::new(ids::snapshot(&pbx, &link.snapshot()));
    loop {
        match rx.recv().await {
            Ok(ev) => {
                if let Some(out) = merged.pass(&pbx, ev) {
                    mirror.apply(&out);
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("the events of PBX {pbx} fell {n} behind: passing on the difference");
                for ev in mirror.resync(ids::snapshot(&pbx, &link.snapshot())) {
                    // Already prefixed: straight into the stream.
                    if let Some(tx) = &lock(&merged.state).tx {
                        let _ = tx.send(ev);
                    }
                }
            }
            Err(RecvError::Closed) => break,
        }
    }
}

impl Link for MultiLink {
    fn execute(&self, command: Command) -> BoxFuture<'_, Result<Outcome>> {
        Box::pin(async move {
            let (pbx, inner) = ids::route(&command, &self.ids)?;
            let Some(i) = self.ids.iter().position(|p| p == pbx) else {
                return Err(Error::UnknownDevice(pbx.to_owned()));
            };
            match self.links[i].execute(inner).await? {
                Outcome::Call(id) => Ok(Outcome::Call(ids::call_id(pbx, &id))),
                other => Ok(other),
            }
        })
    }

    fn subscribe(&self) -> fanout::Receiver<Event> {
        match &lock(&self.merged.state).tx {
            Some(tx) => tx.subscribe(),
            None => fanout::channel(1, 1).1,
        }
    }

    fn snapshot(&self) -> Snapshot {
        let mut all = Snapshot::default();
        for (pbx, link) in self.ids.iter().zip(&self.links) {
            let s = ids::snapshot(pbx, &link.snapshot());
            all.devices.extend(s.devices);
            all.calls.extend(s.calls);
        }
        all.devices.sort_by(|a, b| a.id.cmp(&b.id));
        all.calls.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    fn device(&self, id: &str) -> Option<Device> {
        let (pbx, rest, link) = self.link_of(id)?;
        link.device(rest).map(|d| ids::device(pbx, &d))
    }

    fn call(&self, id: &str) -> Option<Call> {
        let (pbx, rest, link) = self.link_of(id)?;
        link.call(rest).map(|c| ids::call_of(pbx, &c))
    }

    /// Up when every PBX is; down, naming each PBX that is not, otherwise.
    fn status(&self) -> LinkStatus {
        let mut down = Vec::new();
        for (pbx, link) in self.ids.iter().zip(&self.links) {
            match link.status() {
                LinkStatus::Up => {}
                LinkStatus::Down { reason } => down.push(format!("{pbx}: {reason}")),
                _ => return LinkStatus::Closed,
            }
        }
        if down.is_empty() {
            LinkStatus::Up
        } else {
            LinkStatus::Down { reason: down.join("; ") }
        }
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            for link in &self.links {
                link.close().await;
            }
            for t in &self.tasks {
                t.abort();
            }
            lock(&self.merged.state).tx.take();
        })
    }
}

impl Drop for MultiLink {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged() -> (Merged, fanout::Receiver<Event>) {
        let (tx, rx) = fanout::channel(64, 1 << 20);
        (Merged { state: Mutex::new(MergedState { tx: Some(tx), down: Vec::new() }) }, rx)
    }

    #[test]
    fn the_merged_link_is_up_again_only_when_every_pbx_is() {
        let (m, mut rx) = merged();
        let down = |r: &str| Event::LinkDown { reason: r.into() };
        let up = Event::LinkUp { reconnected: true };
        m.pass("berlin", down("connection lost"));
        m.pass("hamburg", down("timeout"));
        assert_eq!(m.pass("berlin", up.clone()), None, "hamburg is still down");
        m.pass("berlin", Event::DeviceRemoved { device: "100".into() });
        assert_eq!(m.pass("hamburg", up.clone()), Some(up.clone()));
        let mut got = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            got.push(ev);
        }
        assert_eq!(
            got,
            [
                down("berlin: connection lost"),
                down("hamburg: timeout"),
                Event::DeviceRemoved { device: "berlin/100".into() },
                up,
            ]
        );
    }

    /// A PBX's link whose events the test sends by hand and whose model it sets.
    #[derive(Debug)]
    struct Fake {
        tx: fanout::Sender<Event>,
        model: Mutex<Snapshot>,
    }

    impl Link for Fake {
        fn execute(&self, _: Command) -> BoxFuture<'_, Result<Outcome>> {
            Box::pin(async { Ok(Outcome::Accepted) })
        }
        fn subscribe(&self) -> fanout::Receiver<Event> {
            self.tx.subscribe()
        }
        fn snapshot(&self) -> Snapshot {
            lock(&self.model).clone()
        }
        fn device(&self, _: &str) -> Option<Device> {
            None
        }
        fn call(&self, _: &str) -> Option<Call> {
            None
        }
        fn status(&self) -> LinkStatus {
            LinkStatus::Up
        }
        fn close(&self) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
    }

    fn phones(states: &[(&str, crate::model::DeviceState)]) -> Snapshot {
        let devices =
            states.iter().map(|(id, state)| Device { state: *state, ..Device::new((*id).into()) }).collect();
        Snapshot { devices, calls: Vec::new() }
    }

    #[tokio::test]
    async fn events_one_pbx_lost_come_back_as_its_own_resync() {
        use crate::model::DeviceState::{Idle, Ringing};
        let fake = |cap| {
            let (tx, _) = fanout::channel(cap, 1 << 20);
            Arc::new(Fake { tx, model: Mutex::new(phones(&[("100", Idle), ("101", Idle)])) })
        };
        let (berlin, hamburg) = (fake(2), fake(64));
        let multi = MultiLink::new(
            vec![("berlin".into(), berlin.clone() as Arc<dyn Link>), ("hamburg".into(), hamburg.clone())],
            64,
            1 << 20,
        )
        .expect("links");
        let mut rx = multi.subscribe();
        // The readers take their first model and wait for events.
        tokio::task::yield_now().await;
        *lock(&berlin.model) = phones(&[("100", Ringing)]);
        let ring = Event::DeviceState { device: "100".into(), state: Ringing, previous: Idle };
        for _ in 0..5 {
            berlin.tx.send(ring.clone()).expect("a reader");
        }
        let mut got = Vec::new();
        while !matches!(got.last(), Some(Event::Resynced { .. })) {
            got.push(rx.recv().await.expect("merged events"));
        }
        assert_eq!(
            got,
            [
                Event::DeviceState { device: "berlin/100".into(), state: Ringing, previous: Idle },
                Event::DeviceRemoved { device: "berlin/101".into() },
                Event::Resynced {
                    calls_ended: vec![],
                    calls_found: vec![],
                    devices_changed: vec!["berlin/100".into(), "berlin/101".into()],
                },
            ]
        );
        // Then the events still queued, and hamburg's part is whole.
        let next = rx.recv().await.expect("the queued events");
        assert_eq!(next.device().map(|d| d.as_str()), Some("berlin/100"));
        assert_eq!(
            multi.snapshot().devices.iter().filter(|d| d.id.as_str().starts_with("hamburg/")).count(),
            2
        );
    }
}
