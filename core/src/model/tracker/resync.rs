//! Rebuilding the model from the PBX's lists after (re)connect.
//!
//! While the link is down, calls end and start without us. On reconnect the session asks
//! for `CoreShowChannels`, `ExtensionStateList` and `DeviceStateList`; [`Tracker::resync`]
//! builds the model those lists describe and reports the difference as ordinary events
//! (`ConnectionCleared`/`CallCleared` for calls that are gone, `Originated`/`Delivered`/
//! `Established` for calls found, device events for devices that changed and
//! `DeviceRemoved` for devices no list names any more) followed by `Resynced`, so no
//! consumer keeps a ghost, be it a call or a phone of a PBX restarted with other
//! extensions. The endpoint lists (`PJSIPShowEndpoints`, `SIPpeers`) add the phones that
//! no hint names, so a PBX with pattern hints or none still shows every phone.

use std::collections::{HashMap, HashSet};

use crate::ami::Message;
use crate::model::event::Event;
use crate::model::ids::{CallId, DeviceId};
use crate::model::state::ConnectionState;

use super::chan::{Chan, Role, Uid, RING, RINGING, UP};
use super::devices::{endpoint_of, state_list_device};
use super::Tracker;

/// The items of the three lists, as the link collected them.
#[derive(Clone, Debug, Default)]
pub struct ResyncLists {
    /// `CoreShowChannel` events.
    pub channels: Vec<Message>,
    /// `ExtensionStatus` events of `ExtensionStateList`.
    pub extensions: Vec<Message>,
    /// `DeviceStateChange` events of `DeviceStateList`.
    pub devices: Vec<Message>,
    /// `EndpointList` events of `PJSIPShowEndpoints` and `PeerEntry` events of `SIPpeers`:
    /// the phones the PBX knows, hint or not. A device the two lists above name keeps
    /// what they say; these only add the others.
    pub endpoints: Vec<Message>,
}

/// `systemname-1529936170.42` sorts by (1529936170, 42).
fn uid_order(uid: &str) -> (u64, u64) {
    let tail = uid.rsplit('-').next().unwrap_or(uid);
    let (a, b) = tail.split_once('.').unwrap_or((tail, "0"));
    (a.parse().unwrap_or(u64::MAX), b.parse().unwrap_or(u64::MAX))
}

/// `ConnectionCleared` for a connection the application knew and the PBX no longer has.
fn cleared(call: &CallId, (device, channel, previous): &(DeviceId, String, ConnectionState)) -> Event {
    Event::ConnectionCleared {
        call: call.clone(),
        device: device.clone(),
        channel: channel.clone(),
        state: ConnectionState::Null,
        previous: *previous,
        cause: None,
        released_by: None,
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[rb] = ra;
        }
    }
}

impl Tracker {
    /// Replaces the model with what the lists describe and returns the events that bring a
    /// consumer from the old model to the new one, ending with `Resynced`.
    pub fn resync(&mut self, lists: &ResyncLists) -> Vec<Event> {
        let mut out = Vec::new();
        let mut fresh = Tracker::with_limits(self.limits);
        fresh.next_key = self.next_key;

        // Channels, in creation order.
        let mut items: Vec<&Message> =
            lists.channels.iter().filter(|m| m.get("Uniqueid").is_some()).collect();
        items.sort_by_key(|m| uid_order(m.get("Uniqueid").unwrap_or("")));
        for m in &items {
            let Some(uid) = m.get("Uniqueid").map(str::trim) else { continue };
            let name = m.get("Channel").map(str::trim).unwrap_or(uid);
            if fresh.chans.contains_key(uid) || fresh.chans.len() >= fresh.limits.max_channels {
                continue;
            }
            let mut ch = Chan::new(uid.into(), name);
            ch.update_from(m, "");
            if let Some(b) = m.get("BridgeId").map(str::trim).filter(|b| !b.is_empty()) {
                ch.bridge = Some(b.into());
            }
            fresh.insert_chan(ch, &mut Vec::new());
        }
        let uids: Vec<Uid> = fresh.order.iter().cloned().collect();
        for u in &uids {
            fresh.pair_local(u);
        }

        // Group channels into calls: same Linkedid, same bridge, or two halves of a Local.
        let index: HashMap<&str, usize> = uids.iter().enumerate().map(|(i, u)| (&**u, i)).collect();
        let mut uf = UnionFind((0..uids.len()).collect());
        let mut by_linked: HashMap<&str, usize> = HashMap::new();
        let mut by_bridge: HashMap<&str, usize> = HashMap::new();
        for (i, u) in uids.iter().enumerate() {
            let ch = &fresh.chans[u];
            if let Some(&j) = by_linked.get(&*ch.linkedid) {
                uf.union(j, i);
            } else {
                by_linked.insert(&ch.linkedid, i);
            }
            if let Some(b) = ch.bridge.as_deref() {
                if let Some(&j) = by_bridge.get(b) {
                    uf.union(j, i);
                } else {
                    by_bridge.insert(b, i);
                }
            }
            if let Some(&j) = ch.peer.as_deref().and_then(|p| index.get(p)) {
                uf.union(j, i);
            }
        }
        let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
        for i in 0..uids.len() {
            let r = uf.find(i);
            groups.entry(r).or_default().push(i);
        }
        let mut roots: Vec<usize> = groups.keys().copied().collect();
        roots.sort_unstable();

        let mut fresh_out = Vec::new();
        for r in roots {
            let members: Vec<Uid> =
                groups[&r].iter().map(|&i| uids[i].clone()).filter(|u| !fresh.chans[u].is_local()).collect();
            if members.is_empty() {
                continue;
            }
            // Keep the id the application already knows, if any member was in a call.
            let old_key = members.iter().find_map(|u| self.chans.get(u).and_then(|c| c.call));
            let old_calling = old_key.and_then(|k| self.calls.get(&k)).and_then(|c| c.calling.clone());
            let id = old_key
                .and_then(|k| self.calls.get(&k))
                .map(|c| c.id.to_string())
                .unwrap_or_else(|| fresh.chans[&members[0]].linkedid.to_string());
            let calling = old_calling
                .filter(|c| members.contains(c))
                .or_else(|| members.iter().find(|u| fresh.chans[*u].is_root()).cloned())
                .unwrap_or_else(|| members[0].clone());
            let key = fresh.new_call(&id);
            for u in &members {
                fresh.join(u, key);
                let role = if *u == calling { Role::Calling } else { Role::Called };
                if let Some(ch) = fresh.chans.get_mut(u) {
                    ch.role = role;
                }
            }
            if let Some(c) = fresh.calls.get_mut(&key) {
                c.calling = Some(calling.clone());
            }
            let calling_state = fresh.chans[&calling].state;
            if calling_state == RINGING && !fresh.chans[&calling].is_root() {
                // A click-to-dial still ringing the user's phone.
                if let Some(ch) = fresh.chans.get_mut(&calling) {
                    ch.role = Role::Prompt;
                }
                if let Some(c) = fresh.calls.get_mut(&key) {
                    c.calling = None;
                    c.click_to_dial = true;
                }
                fresh.deliver(&calling, &mut fresh_out);
            } else if calling_state == RING || calling_state == UP || calling_state == RINGING {
                fresh.originate(&calling, &mut fresh_out);
            }
            for u in &members {
                if *u == calling {
                    continue;
                }
                match fresh.chans[u].state {
                    RINGING => fresh.deliver(u, &mut fresh_out),
                    UP => fresh.establish(u, &mut fresh_out),
                    _ => {}
                }
            }
        }

        // Diff: calls that are gone, calls that are new, connections that changed.
        let old_calls: HashMap<CallId, Vec<(DeviceId, String, ConnectionState)>> = self
            .calls
            .values()
            .filter(|c| c.announced)
            .map(|c| {
                let v = self.call_view(c);
                (c.id.clone(), v.connections.into_iter().map(|x| (x.device, x.channel, x.state)).collect())
            })
            .collect();
        let fresh_ids: std::collections::HashSet<CallId> =
            fresh.calls.values().filter(|c| c.announced).map(|c| c.id.clone()).collect();
        let mut calls_ended: Vec<CallId> =
            old_calls.keys().filter(|id| !fresh_ids.contains(*id)).cloned().collect();
        calls_ended.sort();
        for id in &calls_ended {
            for conn in &old_calls[id] {
                out.push(cleared(id, conn));
            }
            let answered =
                self.call_by_id(id.as_str()).and_then(|k| self.calls.get(&k)).is_some_and(|c| c.answered);
            out.push(Event::CallCleared { call: id.clone(), cause: None, answered, merged_into: None });
        }
        let mut calls_found = Vec::new();
        for ev in fresh_out {
            let Some(call) = ev.call().cloned() else { continue };
            match old_calls.get(&call) {
                None => {
                    if !calls_found.contains(&call) {
                        calls_found.push(call);
                    }
                    out.push(ev);
                }
                Some(conns) => {
                    // Report only what moves a connection forward from the state the
                    // application already has.
                    let (Some(dev), Some(to)) = (ev.device(), ev.connection_state()) else { continue };
                    let chan = ev.channel().unwrap_or("");
                    let known = conns.iter().find(|(d, c, _)| d == dev && c == chan).map(|(_, _, s)| *s);
                    let from = known.unwrap_or(ConnectionState::Null);
                    if from != to && from.can_become(to) {
                        out.push(ev);
                    }
                }
            }
        }
        // Connections of continuing calls that are gone.
        for (id, conns) in &old_calls {
            if !fresh_ids.contains(id) {
                continue;
            }
            let Some(fc) = fresh.call_by_id(id.as_str()).and_then(|k| fresh.calls.get(&k)) else { continue };
            let now = fresh.call_view(fc);
            for conn in conns {
                let (device, channel, _) = conn;
                if !now.connections.iter().any(|c| &c.device == device && &c.channel == channel) {
                    out.push(cleared(id, conn));
                }
            }
        }

        // Devices: the lists update the devices in place and report changes.
        let mut dev_events = Vec::new();
        for m in &lists.extensions {
            self.on_extension_status(m, &mut dev_events);
        }
        for m in &lists.devices {
            self.on_device_state_change(m, &mut dev_events);
        }
        let listed: HashSet<String> =
            lists.extensions.iter().chain(&lists.devices).filter_map(state_list_device).collect();
        if !lists.endpoints.is_empty() {
            // A chan_sip peer tells only whether it is reachable: one with a channel is in use.
            let busy = |iface: &str| {
                fresh.chans.values().any(|c| c.name().strip_prefix(iface).is_some_and(|r| r.starts_with('-')))
            };
            for m in &lists.endpoints {
                if let Some((id, iface, state)) = endpoint_of(m, busy) {
                    if !listed.contains(&id) {
                        self.on_endpoint(&id, &iface, state, &mut dev_events);
                    }
                }
            }
        }
        let removed = self.remove_vanished(lists, &listed, &fresh);
        // A device that is gone gets no last state change (a `Custom:DND` lamp that
        // outlived its phone in the AstDB would report one): its removal says it all.
        let gone: HashSet<&DeviceId> = removed.iter().collect();
        dev_events.retain(|e| e.device().is_none_or(|d| !gone.contains(d)));
        dev_events.extend(removed.iter().map(|d| Event::DeviceRemoved { device: d.clone() }));
        let mut devices_changed = Vec::new();
        let mut seen = HashSet::new();
        for ev in &dev_events {
            if let Some(d) = ev.device() {
                if seen.insert(d.clone()) {
                    devices_changed.push(d.clone());
                }
            }
        }
        out.extend(dev_events);

        let calls_total = self.calls_total + calls_found.len() as u64;
        let devices = std::mem::take(&mut self.devices);
        *self = Tracker { devices, calls_total, ..fresh };
        out.push(Event::Resynced { calls_ended, calls_found, devices_changed });
        out
    }

    /// Removes the devices the PBX no longer has, and returns them sorted. A device stays
    /// while a state list or an endpoint list names it, or a call found in `fresh` has a
    /// connection on it; the others were left over from before a restart or a reload
    /// with other extensions, and keeping them would show phones that do not exist (and
    /// let the table grow with every renumbering). Lists that name no device at all are
    /// taken as refused (`list` in the AMI link returns a refused list as empty), not as a
    /// PBX without phones: nothing is removed then.
    fn remove_vanished(
        &mut self,
        lists: &ResyncLists,
        listed: &HashSet<String>,
        fresh: &Tracker,
    ) -> Vec<DeviceId> {
        let endpoints: HashSet<String> =
            lists.endpoints.iter().filter_map(|m| endpoint_of(m, |_| false)).map(|(id, _, _)| id).collect();
        if listed.is_empty() && endpoints.is_empty() {
            return Vec::new();
        }
        let in_calls: HashSet<DeviceId> = fresh
            .calls
            .values()
            .filter(|c| c.announced)
            .flat_map(|c| fresh.call_view(c).connections.into_iter().map(|k| k.device))
            .collect();
        let mut removed: Vec<DeviceId> = self
            .devices
            .keys()
            .filter(|d| {
                !listed.contains(d.as_str()) && !endpoints.contains(d.as_str()) && !in_calls.contains(*d)
            })
            .cloned()
            .collect();
        removed.sort();
        for d in &removed {
            self.devices.remove(d);
        }
        removed
    }
}
