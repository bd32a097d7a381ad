//! The phones the PBX knows, hint or not: `PJSIPShowEndpoints` and chan_sip's `SIPpeers`.
//!
//! `ExtensionStateList` names only the phones that have a hint of their own: Asterisk 22
//! skips pattern hints (`exten => _1XX,hint,PJSIP/${EXTEN}`), and many PBXs have no hints
//! at all, so on those the model would have no devices. The endpoint lists name every
//! phone. Either channel driver may be missing (Asterisk 21 dropped chan_sip; an old PBX
//! may not load res_pjsip), and a PBX with no endpoints answers `No endpoints found`: any
//! refusal or failure of these two lists is taken as "none", never as a failed resync.
//! Both actions need only the `system` write permission (`SIPpeers` also accepts
//! `reporting`), which the least-privilege AMI user has.

use crate::ami::{Action, AmiClient, Message};
use crate::error::{Error, Result};

/// Endpoint items kept at most from each list: a hostile PBX could send millions, and the
/// tracker holds at most its `max_devices` anyway.
pub(super) const MAX_ENDPOINTS: usize = 20_000;

/// The actions and the item events they list.
const LISTS: [(&str, &str); 2] = [("PJSIPShowEndpoints", "EndpointList"), ("SIPpeers", "PeerEntry")];

/// `EndpointList` and `PeerEntry` items, at most [`MAX_ENDPOINTS`] of each. Fails only
/// when the link is lost (the resync cannot go on without it anyway).
pub(super) async fn list_endpoints(client: &AmiClient) -> Result<Vec<Message>> {
    let mut out = Vec::new();
    for (action, event) in LISTS {
        match client.send_list(Action::new_list(action)).await {
            Ok(list) => {
                out.extend(list.items.into_iter().filter(|m| m.is_event(event)).take(MAX_ENDPOINTS));
            }
            Err(e @ (Error::LinkDown | Error::Closed)) => return Err(e),
            Err(e) => tracing::debug!("{action} gave no endpoints: {e}"),
        }
    }
    Ok(out)
}
