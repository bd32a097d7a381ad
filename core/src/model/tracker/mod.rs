//! The call-state machine: AMI events in, model updates and normalized events out.
//!
//! The tracker keeps a table of PBX channels and groups them into calls. A non-Local
//! channel in a call is one device's connection; Local channels only link the chain of
//! dials (`Local/...;1` dials, `;2` runs the dialplan), so a call is found by walking up
//! `DialBegin` links through Local halves to the channel that placed it, or, when nothing
//! links a channel, by its `Linkedid`. Each handler below reacts to one AMI event and
//! pushes the normalized events it causes, in order.

mod calls;
mod chan;
mod devices;
mod handlers;
mod resync;
#[cfg(test)]
mod tests;
mod transfer;

use crate::ami::Message;
use crate::model::call::Call;
use crate::model::device::Device;
use crate::model::event::Event;
use crate::model::ids::{CallId, DeviceId};

use calls::CallRec;
use chan::{CallKey, ChanTable, Map, Uid};

pub use resync::ResyncLists;

/// Bounds on what the tracker holds, so that a PBX that never sends `Hangup` (or a
/// capture cut in the middle) cannot grow memory without limit. When a table is full, the
/// oldest entry is dropped (a call is reported cleared) to make room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerLimits {
    /// Channels tracked at once (default 200,000).
    pub max_channels: usize,
    /// Devices tracked (default 100,000).
    pub max_devices: usize,
}

impl Default for TrackerLimits {
    fn default() -> Self {
        TrackerLimits { max_channels: 200_000, max_devices: 100_000 }
    }
}

/// Devices and calls at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub devices: Vec<Device>,
    pub calls: Vec<Call>,
}

/// The call-state machine. Feed it every AMI event with [`apply`](Tracker::apply).
#[derive(Debug)]
pub struct Tracker {
    /// Boxed records, each keyed by its own uniqueid (see [`ChanTable`]).
    chans: ChanTable,
    /// Channel name to uniqueid, for events that name channels only (Asterisk 1.4,
    /// `Masquerade`) and to pair Local halves.
    by_name: Map<std::sync::Arc<str>, Uid>,
    calls: Map<CallKey, CallRec>,
    /// Open calls by id: a call id is never given to two open calls.
    by_id: Map<CallId, CallKey>,
    /// Asterisk 1.8/11 `Dial` `SubEvent: End` names only the dialing channel: the
    /// channels each one dialed, kept only for that old form (empty on 13+).
    legacy_dials: Map<Uid, Vec<Uid>>,
    /// Bridge id to the channels in it (Local halves included).
    bridges: Map<std::sync::Arc<str>, Vec<Uid>>,
    /// Creation order of channels, to evict the oldest when full.
    order: std::collections::VecDeque<Uid>,
    devices: Map<DeviceId, Device>,
    /// One copy of each device id the channels name (two calls of one phone share it);
    /// ids no channel names any more are dropped when it has doubled (see
    /// `Tracker::intern_device`).
    device_ids: std::collections::HashSet<DeviceId, foldhash::fast::RandomState>,
    /// The size `device_ids` is pruned at next.
    device_ids_prune_at: usize,
    next_key: CallKey,
    limits: TrackerLimits,
    calls_total: u64,
}

/// `device_ids` is not pruned below this size.
const DEVICE_IDS_MIN_PRUNE: usize = 1024;

impl Default for Tracker {
    /// A tracker with the default limits.
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    /// A tracker with the default limits.
    pub fn new() -> Self {
        Self::with_limits(TrackerLimits::default())
    }

    /// A tracker with the given limits.
    pub fn with_limits(limits: TrackerLimits) -> Self {
        Tracker {
            chans: ChanTable::default(),
            by_name: Map::default(),
            calls: Map::default(),
            by_id: Map::default(),
            legacy_dials: Map::default(),
            bridges: Map::default(),
            order: std::collections::VecDeque::new(),
            devices: Map::default(),
            device_ids: Default::default(),
            device_ids_prune_at: DEVICE_IDS_MIN_PRUNE,
            next_key: CallKey::MIN,
            limits,
            calls_total: 0,
        }
    }

    /// Applies one AMI message and returns the normalized events it causes. Responses,
    /// actions and events the model does not use are ignored. Never panics on any input.
    pub fn apply(&mut self, msg: &Message) -> Vec<Event> {
        let mut out = Vec::new();
        self.apply_into(msg, &mut out);
        out
    }

    /// Like [`apply`](Self::apply), appending to `out` (no allocation for ignored events).
    pub fn apply_into(&mut self, msg: &Message, out: &mut Vec<Event>) {
        handlers::dispatch(self, msg, out);
    }

    /// The calls now, in no particular order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.values().filter(|c| c.announced).map(|c| self.call_view(c)).collect()
    }

    /// One call by id.
    pub fn call(&self, id: &str) -> Option<Call> {
        let key = self.by_id.get(id)?;
        self.calls.get(key).filter(|c| c.announced).map(|c| self.call_view(c))
    }

    /// The devices seen so far.
    pub fn devices(&self) -> Vec<Device> {
        let mut v: Vec<Device> = self.devices.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// One device by id (`100`).
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id)
    }

    /// Devices and calls, sorted by id.
    pub fn snapshot(&self) -> Snapshot {
        let mut calls = self.calls();
        calls.sort_by(|a, b| a.id.cmp(&b.id));
        Snapshot { devices: self.devices(), calls }
    }

    /// Whether `id` names a live call or channel (any leg, Local halves included): a new
    /// call must not take it.
    pub fn id_taken(&self, id: &str) -> bool {
        self.by_id.contains_key(id) || self.chans.contains_key(id)
    }

    /// Number of calls open now.
    pub fn open_calls(&self) -> usize {
        self.calls.values().filter(|c| c.announced).count()
    }

    /// Number of calls reported since the tracker was created.
    pub fn calls_total(&self) -> u64 {
        self.calls_total
    }

    /// Number of PBX channels tracked now (Local halves included).
    pub fn channels(&self) -> usize {
        self.chans.len()
    }

    /// The tracker's own copy of a channel's uniqueid (one allocation per channel, shared
    /// by every reference to it), or a new one for a channel it does not know.
    fn shared_uid(&self, uid: &str) -> Uid {
        self.chans.get(uid).map_or_else(|| uid.into(), |c| c.uid.clone())
    }

    /// The tracker's copy of a device id, shared by every channel of that device.
    fn intern_device(&mut self, id: DeviceId) -> DeviceId {
        if let Some(shared) = self.device_ids.get(id.as_str()) {
            return shared.clone();
        }
        if self.device_ids.len() >= self.device_ids_prune_at {
            // Ids held by the set alone name no channel now.
            self.device_ids.retain(DeviceId::is_shared);
            self.device_ids_prune_at = (self.device_ids.len() * 2).max(DEVICE_IDS_MIN_PRUNE);
        }
        self.device_ids.insert(id.clone());
        id
    }

    fn call_id_of(&self, uid: &str) -> Option<CallId> {
        let key = self.chans.get(uid)?.call?;
        self.calls.get(&key).map(|c| c.id.clone())
    }
}
