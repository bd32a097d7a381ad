//! Following forwarding that changes without an event, by its lamp.
//!
//! FreePBX's feature codes (`*72`, `*73`) and its UCP write `CF/<ext>` and light
//! `Custom:CF<ext>`, but send nothing a client could read the target from. When that lamp
//! changes, the link reads the key again and reports the result like any other
//! forwarding change. The reads run beside the event loop, a few at a time: a PBX that
//! flaps the lamp faster than it answers loses the surplus reads, and the next resync
//! (which reads every key) makes up for them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{astdb, Shared};
use crate::ami::{AmiClient, Message};
use crate::model::ForwardKind;

/// Lamp-triggered reads in flight at most.
const MAX_READS: usize = 8;

/// The reads in flight.
#[derive(Debug, Default)]
pub(super) struct Reads(Arc<AtomicUsize>);

/// Gives its slot back when the read ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Reads {
    fn take(&self) -> Option<Slot> {
        let n = &self.0;
        n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| (v < MAX_READS).then_some(v + 1)).ok()?;
        Some(Slot(n.clone()))
    }
}

/// If `m` is the forwarding lamp of a known device under the session's convention,
/// reads that device's unconditional forwarding again in the background.
pub(super) fn on_event(shared: &Arc<Shared>, client: &AmiClient, m: &Message, reads: &Reads) {
    let Some(convention) = shared.control.astdb else { return };
    if !m.is_event("DeviceStateChange") {
        return;
    }
    let Some(device) = m.get("Device").map(str::trim).and_then(|d| convention.forward_lamp_device(d)) else {
        return;
    };
    // Only a phone the model knows: a lamp must not create devices.
    if super::lock(&shared.model).tracker.device(device).is_none() {
        return;
    }
    let Some(slot) = reads.take() else {
        tracing::debug!("too many forwarding reads in flight; {device} waits for the next resync");
        return;
    };
    let (shared, client, device) = (shared.clone(), client.clone(), device.to_owned());
    let family = convention.family(ForwardKind::Immediate);
    tokio::spawn(async move {
        let _slot = slot;
        match astdb::get(client, family, device.clone()).await {
            Ok(to) => {
                let ev = super::lock(&shared.model).tracker.set_forwarding(
                    &device,
                    ForwardKind::Immediate,
                    to.as_deref(),
                );
                if let Some(ev) = ev {
                    shared.emit(ev);
                }
            }
            Err(e) => tracing::debug!("could not read {family}/{device}: {e}"),
        }
    });
}
