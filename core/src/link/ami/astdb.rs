//! Reading the AstDB convention back after a reconnect.
//!
//! Do-not-disturb comes back by itself in `DeviceStateList` (the `Custom:DND<dev>` states),
//! but forwarding has no list: while the link was down, a user may have changed it from
//! their phone (a feature code) or another client, and that `UserEvent` is lost. So when
//! the session was told the PBX follows a convention, the resync reads each phone's
//! forwarding keys (`CF`, `CFB`, and `CFNA` or FreePBX's `CFU`; see `convention.rs`) with
//! `DBGet` (which needs only the `system` permission that `DBPut` needs anyway), a bounded
//! number at a time. Under FreePBX's convention it reads `DND` too, whose lamp FreePBX
//! may not keep.

use tokio::task::JoinSet;

use super::convention::{AstDbConvention, DND_FAMILY, KINDS};
use crate::ami::{Action, AmiClient};
use crate::error::{Error, Result};
use crate::model::ForwardKind;

/// `DBGet`s in flight at once: enough to hide the round trips, few enough not to crowd
/// out the PBX's other work.
const CONCURRENCY: usize = 32;

/// One key: `Some(value)`, or `None` when the PBX has no such entry.
pub(super) async fn get(client: AmiClient, fam: &'static str, key: String) -> Result<Option<String>> {
    let action = Action::new_list("DBGet").field("Family", fam).field("Key", key);
    match client.send_list(action).await {
        Ok(list) => Ok(list
            .items
            .iter()
            .find(|m| m.is_event("DBGetResponse"))
            .and_then(|m| m.get("Val"))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())),
        // "Database entry not found".
        Err(Error::PbxRefused(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What one AstDB key of a device says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Setting {
    /// Forwarding of a kind: its target, `None` when off.
    Forward(ForwardKind, Option<String>),
    /// Do-not-disturb: on when the key is set.
    DoNotDisturb(bool),
}

/// What to read: a device's forwarding of a kind, or its do-not-disturb.
#[derive(Clone, Copy, Debug)]
enum Key {
    Forward(ForwardKind),
    Dnd,
}

/// The settings of every device under `convention`: `(device, setting)` for every kind of
/// forwarding of every device (and its do-not-disturb where the convention says the key is
/// the truth). Fails if the link fails; the caller then keeps what it had.
pub(super) async fn read_settings(
    client: &AmiClient,
    convention: AstDbConvention,
    devices: Vec<String>,
) -> Result<Vec<(String, Setting)>> {
    let mut keys: Vec<Key> = KINDS.iter().map(|k| Key::Forward(*k)).collect();
    if convention.reads_dnd_key() {
        keys.push(Key::Dnd);
    }
    let mut jobs: Vec<(String, Key)> =
        devices.into_iter().flat_map(|d| keys.iter().map(move |k| (d.clone(), *k))).collect();
    let mut out = Vec::with_capacity(jobs.len());
    while !jobs.is_empty() {
        let batch: Vec<_> = jobs.drain(..jobs.len().min(CONCURRENCY)).collect();
        let mut set = JoinSet::new();
        for (i, (dev, key)) in batch.iter().enumerate() {
            let family = match key {
                Key::Forward(kind) => convention.family(*kind),
                Key::Dnd => DND_FAMILY,
            };
            let fut = get(client.clone(), family, dev.clone());
            set.spawn(async move { (i, fut.await) });
        }
        let mut results = vec![None; batch.len()];
        while let Some(joined) = set.join_next().await {
            let (i, r) = joined.map_err(|e| Error::Protocol(format!("AstDB read failed: {e}")))?;
            results[i] = Some(r?);
        }
        for ((dev, key), r) in batch.into_iter().zip(results) {
            let val = r.flatten();
            let setting = match key {
                Key::Forward(kind) => Setting::Forward(kind, val),
                Key::Dnd => Setting::DoNotDisturb(val.is_some()),
            };
            out.push((dev, setting));
        }
    }
    Ok(out)
}
