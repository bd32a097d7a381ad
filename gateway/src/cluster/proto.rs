//! What gateways of a cluster send each other over NATS, besides the events themselves
//! (those are the JSON form of [`Event`](ctilink::Event), with the headers below).

use std::time::Duration;

use async_nats::HeaderMap;
use ctilink::model::{Call, Device};
use serde::{Deserialize, Serialize};

/// The owner's lease epoch (the KV revision that created the lease).
pub const EPOCH: &str = "Ctilink-Epoch";
/// An event's number in its owner's stream, from 1 per epoch.
pub const SEQ: &str = "Ctilink-Seq";
/// `hb` on a heartbeat; absent on an event.
pub const KIND: &str = "Ctilink-Kind";
pub const HEARTBEAT: &str = "hb";
/// `i/n` on each part of a snapshot reply.
pub const CHUNK: &str = "Ctilink-Chunk";

/// The most a snapshot reply may weigh, all parts together: the same order as a
/// client's queue, and far above 10,000 extensions (about 3 MB).
pub const MAX_SNAPSHOT_BYTES: usize = 64 * 1024 * 1024;
/// The most parts a reply is cut into (`MAX_SNAPSHOT_BYTES` at the smallest part).
pub const MAX_CHUNKS: usize = 1024;

/// The owner's answer to `ctilink.<pbx>.snap`: its model at event `seq` of `epoch`,
/// and whether its PBX link is up.
#[derive(Debug, Serialize, Deserialize)]
pub struct SnapReply {
    pub epoch: u64,
    pub seq: u64,
    pub up: bool,
    #[serde(default)]
    pub reason: String,
    pub node: String,
    pub devices: Vec<Device>,
    pub calls: Vec<Call>,
}

/// The value of a lease key.
#[derive(Debug, Serialize, Deserialize)]
pub struct Lease {
    pub node: String,
    /// Unix milliseconds when this node took the lease.
    pub since_ms: u64,
}

/// What a gateway says on `ctilink.node.<node>.hello` every [`hello_every`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    pub node: String,
    /// The PBXs it owns now.
    pub owns: Vec<String>,
    /// A hash of its `[[pbx]]` ids and tokens, to show nodes configured differently.
    pub config: String,
    /// Its clients now.
    pub clients: usize,
}

/// How often a gateway says hello: a third of the lease's TTL, at most 2 s, so that a
/// gateway gone is forgotten (after three missed hellos) by the time its lease expires.
pub fn hello_every(ttl: Duration) -> Duration {
    (ttl / 3).min(Duration::from_secs(2))
}

/// Headers of an owner's message.
pub fn headers(epoch: u64, seq: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(EPOCH, epoch.to_string().as_str());
    h.insert(SEQ, seq.to_string().as_str());
    h
}

/// `(epoch, seq, heartbeat)` of a message, if it carries them.
pub fn read_headers(h: Option<&HeaderMap>) -> Option<(u64, u64, bool)> {
    let h = h?;
    let epoch = h.get(EPOCH)?.as_str().parse().ok()?;
    let seq = h.get(SEQ)?.as_str().parse().ok()?;
    let hb = h.get(KIND).is_some_and(|k| k.as_str() == HEARTBEAT);
    Some((epoch, seq, hb))
}

/// `i/n` from a chunk header.
pub fn read_chunk(h: Option<&HeaderMap>) -> Option<(usize, usize)> {
    let v = h?.get(CHUNK)?.as_str().to_owned();
    let (i, n) = v.split_once('/')?;
    let (i, n): (usize, usize) = (i.parse().ok()?, n.parse().ok()?);
    (i < n && n <= MAX_CHUNKS).then_some((i, n))
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_chunks_are_read_back_and_bounded() {
        let mut h = headers(7, 42);
        assert_eq!(read_headers(Some(&h)), Some((7, 42, false)));
        h.insert(KIND, HEARTBEAT);
        assert_eq!(read_headers(Some(&h)), Some((7, 42, true)));
        assert_eq!(read_headers(None), None);
        let chunk = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CHUNK, v);
            read_chunk(Some(&h))
        };
        assert_eq!(chunk("0/3"), Some((0, 3)));
        assert_eq!(chunk("3/3"), None, "past the end");
        assert_eq!(chunk("0/100000"), None, "more parts than a reply may have");
        assert_eq!(chunk("x/3"), None);
    }
}
