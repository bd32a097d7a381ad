//! Identifiers of calls and devices. Both are cheap to clone (one reference count) because
//! every event carries them and every binding copies them out.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A call's stable id. It is the Asterisk `Linkedid` of the call's first channel (for a
/// click-to-dial, the `Uniqueid` the Originate gave it), and it does not change when the
/// call is transferred, picked up or passes through Local channels.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(Arc<str>);

/// A device: what a user calls an extension (`100`), or a trunk (`voipgrid-siproute`).
/// It is the resource part of the channel's interface (`PJSIP/100-0000002a` is device `100`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(Arc<str>);

macro_rules! id_impls {
    ($t:ident) => {
        impl $t {
            /// Wraps a string as an id.
            pub fn new(s: &str) -> Self {
                Self(Arc::from(s))
            }

            /// Wraps a string the caller already holds (one reference more, no copy).
            #[allow(dead_code)]
            pub(crate) fn from_shared(s: Arc<str>) -> Self {
                Self(s)
            }

            /// Whether another clone of this id is alive.
            #[allow(dead_code)]
            pub(crate) fn is_shared(&self) -> bool {
                Arc::strong_count(&self.0) > 1
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(ArcStrVisitor).map(Self)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl From<&str> for $t {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Reads a string straight into an `Arc<str>`: one copy, however the input holds it
/// (ids arrive with every event of the gateway's wire protocol).
struct ArcStrVisitor;

impl serde::de::Visitor<'_> for ArcStrVisitor {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Arc<str>, E> {
        Ok(Arc::from(v))
    }
}

id_impls!(CallId);
id_impls!(DeviceId);

impl CallId {
    /// How every id a host chooses for a new call begins ([`generate`](CallId::generate)'s
    /// do): Asterisk's own Uniqueids (`[SYSTEMNAME-]seconds.sequence`) do not, unless a
    /// PBX is given a system name that starts with it.
    pub const RESERVED_PREFIX: &'static str = "ctilink";

    /// A fresh id for a call this process starts: random per process, then
    /// `seconds.counter`, the shape of an Asterisk Uniqueid, so that the call model orders
    /// it like the PBX's own. Unique within the process and, with high probability, across
    /// the processes sharing one PBX.
    pub fn generate() -> CallId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        static PREFIX: OnceLock<u32> = OnceLock::new();
        let prefix = *PREFIX.get_or_init(|| fastrand::u32(..));
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        CallId::new(&format!("ctilink{prefix:08x}-{secs}.{}", NEXT.fetch_add(1, Ordering::Relaxed)))
    }
}

/// Splits an Asterisk channel name into its interface (`PJSIP/100`) and device id (`100`).
///
/// The channel name is `TECH/resource-sequence`; the sequence is the part after the last
/// `-` (Asterisk 1.4 Zap channels use `Zap/1-1`, the same shape). `Local/...` and other
/// channels without a resource give `None`.
pub fn interface_of(channel: &str) -> Option<(&str, &str)> {
    let (tech, rest) = channel.split_once('/')?;
    if tech.is_empty() || rest.is_empty() || tech.eq_ignore_ascii_case("Local") {
        return None;
    }
    // `SIP/100-0000002a`, `PJSIP/100-0000002a`, `Zap/1-1`; a resource may itself contain '-'.
    let end = match rest.rfind('-') {
        Some(i) if i > 0 => i,
        _ => rest.len(),
    };
    // A channel in the middle of a masquerade is `SIP/100-0000002a<MASQ>`/`<ZOMBIE>`.
    let resource = &rest[..end];
    let resource = resource.split(['<', ',', ';']).next().unwrap_or(resource);
    if resource.is_empty() {
        return None;
    }
    let iface = &channel[..tech.len() + 1 + resource.len()];
    Some((iface, resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces() {
        assert_eq!(interface_of("PJSIP/100-0000002a"), Some(("PJSIP/100", "100")));
        assert_eq!(
            interface_of("SIP/voipgrid-siproute-docker-00000009"),
            Some(("SIP/voipgrid-siproute-docker", "voipgrid-siproute-docker"))
        );
        assert_eq!(interface_of("Zap/1-1"), Some(("Zap/1", "1")));
        assert_eq!(interface_of("SIP/100"), Some(("SIP/100", "100")));
        assert_eq!(interface_of("Local/200@internal-00000001;1"), None);
        assert_eq!(interface_of("garbage"), None);
        assert_eq!(interface_of("/x"), None);
    }
}
