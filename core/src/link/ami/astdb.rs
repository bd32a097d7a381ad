//! Reading the AstDB convention back after a reconnect.
//!
//! Do-not-disturb comes back by itself in `DeviceStateList` (the `Custom:DND<dev>` states),
//! but forwarding has no list: while the link was down, a user may have changed it from
//! their phone (a feature code) or another client, and that `UserEvent` is lost. So when
//! the session was told the PBX follows the convention, the resync reads each phone's
//! `CF`, `CFB` and `CFNA` keys with `DBGet` (which needs only the `system` permission that
//! `DBPut` needs anyway), a bounded number at a time.

use tokio::task::JoinSet;

use crate::ami::{Action, AmiClient};
use crate::error::{Error, Result};
use crate::model::ForwardKind;

/// `DBGet`s in flight at once: enough to hide the round trips, few enough not to crowd
/// out the PBX's other work.
const CONCURRENCY: usize = 32;

/// The AstDB family of each forwarding kind.
pub(super) fn family(kind: ForwardKind) -> &'static str {
    match kind {
        ForwardKind::Immediate => "CF",
        ForwardKind::Busy => "CFB",
        ForwardKind::NoAnswer => "CFNA",
    }
}

const KINDS: [ForwardKind; 3] = [ForwardKind::Immediate, ForwardKind::Busy, ForwardKind::NoAnswer];

/// One key: `Some(value)`, or `None` when the PBX has no such entry.
async fn get(client: AmiClient, fam: &'static str, key: String) -> Result<Option<String>> {
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

/// The forwarding of every device: `(device, kind, target)`, for every kind of every
/// device (`None`: off). Fails if the link fails; the caller then keeps what it had.
pub(super) async fn read_forwards(
    client: &AmiClient,
    devices: Vec<String>,
) -> Result<Vec<(String, ForwardKind, Option<String>)>> {
    let mut jobs: Vec<(String, ForwardKind)> =
        devices.into_iter().flat_map(|d| KINDS.map(|k| (d.clone(), k))).collect();
    let mut out = Vec::with_capacity(jobs.len());
    while !jobs.is_empty() {
        let batch: Vec<_> = jobs.drain(..jobs.len().min(CONCURRENCY)).collect();
        let mut set = JoinSet::new();
        for (i, (dev, kind)) in batch.iter().enumerate() {
            let fut = get(client.clone(), family(*kind), dev.clone());
            set.spawn(async move { (i, fut.await) });
        }
        let mut results = vec![None; batch.len()];
        while let Some(joined) = set.join_next().await {
            let (i, r) = joined.map_err(|e| Error::Protocol(format!("AstDB read failed: {e}")))?;
            results[i] = Some(r?);
        }
        for ((dev, kind), r) in batch.into_iter().zip(results) {
            out.push((dev, kind, r.flatten()));
        }
    }
    Ok(out)
}
