//! Builders for the AMI events and responses the simulator writes, with the
//! names, fields and field order of Asterisk 20 (see
//! `tests/vectors/ami/asterisk20/*.ami`). Kept apart from the PBX logic so that
//! "what a message looks like" and "when it is sent" can be checked separately.

use ctilink::ami::MessageBuilder;

use crate::channel::{cause_text, extension_status_text, Channel, EventClass};

/// One event to deliver, with the class that event masks filter on.
#[derive(Clone, Debug)]
pub(crate) struct OutEvent {
    pub(crate) class: EventClass,
    pub(crate) msg: MessageBuilder,
}

/// `Event: name` and `Privilege:` for its class: the head of every unsolicited event.
fn head(name: &str, class: EventClass) -> MessageBuilder {
    MessageBuilder::event(name).field("Privilege", class.privilege())
}

fn call_event(name: &str) -> MessageBuilder {
    head(name, EventClass::Call)
}

fn out(msg: MessageBuilder) -> OutEvent {
    OutEvent { class: EventClass::Call, msg }
}

/// Appends a channel snapshot, each key prefixed (`Dest` for the dialed side).
pub(crate) fn push_channel(m: &mut MessageBuilder, prefix: &str, ch: &Channel) {
    let key = |k: &str| format!("{prefix}{k}");
    m.push(key("Channel"), ch.name.as_str());
    m.push(key("ChannelState"), ch.state.code().to_string());
    m.push(key("ChannelStateDesc"), ch.state.desc());
    m.push(key("CallerIDNum"), ch.cid_num.as_str());
    m.push(key("CallerIDName"), ch.cid_name.as_str());
    m.push(key("ConnectedLineNum"), ch.conn_num.as_str());
    m.push(key("ConnectedLineName"), ch.conn_name.as_str());
    m.push(key("Language"), "en");
    m.push(key("AccountCode"), ch.account.as_str());
    m.push(key("Context"), ch.context.as_str());
    m.push(key("Exten"), ch.exten.as_str());
    m.push(key("Priority"), ch.priority.to_string());
    m.push(key("Uniqueid"), ch.uniqueid.as_str());
    m.push(key("Linkedid"), ch.linkedid.as_str());
}

/// An event made of one channel snapshot (Newchannel, Newstate, NewConnectedLine...).
pub(crate) fn channel_event(name: &str, ch: &Channel) -> OutEvent {
    let mut m = call_event(name);
    push_channel(&mut m, "", ch);
    out(m)
}

/// `NewCallerid`: the snapshot plus the presentation of the new caller ID.
pub(crate) fn new_callerid(ch: &Channel) -> OutEvent {
    let mut ev = channel_event("NewCallerid", ch);
    ev.msg.push("CID-CallingPres", "0 (Presentation Allowed, Not Screened)");
    ev
}

/// `Newexten`: the channel runs a dialplan application.
pub(crate) fn newexten(ch: &Channel) -> OutEvent {
    let mut m = head("Newexten", EventClass::Dialplan);
    push_channel(&mut m, "", ch);
    m.push("Extension", ch.exten.as_str());
    m.push("Application", ch.app.as_str());
    m.push("AppData", ch.app_data.as_str());
    OutEvent { class: EventClass::Dialplan, msg: m }
}

/// `DialBegin`/`DialState`/`DialEnd`. An originate's own dial has no calling
/// channel: the event then carries only the `Dest` fields, as Asterisk does.
pub(crate) fn dial(name: &str, caller: Option<&Channel>, dest: &Channel, last: (&str, &str)) -> OutEvent {
    let mut m = call_event(name);
    if let Some(c) = caller {
        push_channel(&mut m, "", c);
    }
    push_channel(&mut m, "Dest", dest);
    m.push(last.0, last.1);
    out(m)
}

/// `HangupRequest` (the phone hung up) or `SoftHangupRequest` (the PBX or an
/// AMI client asked for it).
pub(crate) fn hangup_request(name: &str, ch: &Channel, cause: u32) -> OutEvent {
    let mut ev = channel_event(name, ch);
    ev.msg.push("Cause", cause.to_string());
    ev
}

pub(crate) fn hangup(ch: &Channel, cause: u32) -> OutEvent {
    let mut ev = channel_event("Hangup", ch);
    ev.msg.push("Cause", cause.to_string());
    ev.msg.push("Cause-txt", cause_text(cause));
    ev
}

fn push_bridge(m: &mut MessageBuilder, id: &str, channels: usize) {
    m.push("BridgeUniqueid", id);
    m.push("BridgeType", "basic");
    m.push("BridgeTechnology", "simple_bridge");
    m.push("BridgeCreator", "<unknown>");
    m.push("BridgeName", "<unknown>");
    m.push("BridgeNumChannels", channels.to_string());
    m.push("BridgeVideoSourceMode", "none");
}

/// `BridgeCreate` / `BridgeDestroy`: the bridge alone.
pub(crate) fn bridge(name: &str, id: &str, channels: usize) -> OutEvent {
    let mut m = call_event(name);
    push_bridge(&mut m, id, channels);
    out(m)
}

/// `BridgeEnter` / `BridgeLeave`: the bridge, then the channel.
pub(crate) fn bridge_channel(name: &str, id: &str, channels: usize, ch: &Channel) -> OutEvent {
    let mut m = call_event(name);
    push_bridge(&mut m, id, channels);
    push_channel(&mut m, "", ch);
    out(m)
}

/// `Hold`: the phone of `ch` put its call on hold.
pub(crate) fn hold(ch: &Channel) -> OutEvent {
    let mut ev = channel_event("Hold", ch);
    ev.msg.push("MusicClass", "default");
    ev
}

/// `Hold` that a bridge feature asked for (the `Atxfer` feature holds the
/// transferee): no music class, as in the Asterisk 22 capture.
pub(crate) fn hold_feature(ch: &Channel) -> OutEvent {
    channel_event("Hold", ch)
}

/// `MusicOnHoldStart` on the party that now hears music, `MusicOnHoldStop` when it ends.
pub(crate) fn music_on_hold(start: bool, ch: &Channel) -> OutEvent {
    if start {
        let mut ev = channel_event("MusicOnHoldStart", ch);
        ev.msg.push("Class", "default");
        ev
    } else {
        channel_event("MusicOnHoldStop", ch)
    }
}

/// The `Bridge*` fields of a basic bridge, with a key prefix.
fn push_bridge_prefixed(m: &mut MessageBuilder, prefix: &str, id: &str, channels: usize) {
    let mut b = MessageBuilder::event("x");
    push_bridge(&mut b, id, channels);
    for (k, v) in b.fields().iter().skip(1) {
        let key = k.strip_prefix("Bridge").unwrap_or(k);
        m.push(format!("{prefix}Bridge{key}"), v.as_str());
    }
}

/// `BlindTransfer` as Asterisk 20 writes it (stasis_bridges.c): the transferer, the
/// transferee, the bridge, then where the transferee goes.
pub(crate) fn blind_transfer(
    transferer: &Channel,
    transferee: &Channel,
    bridge_id: &str,
    context: &str,
    exten: &str,
) -> OutEvent {
    let mut m = call_event("BlindTransfer").field("Result", "Success");
    push_channel(&mut m, "Transferer", transferer);
    push_channel(&mut m, "Transferee", transferee);
    push_bridge_prefixed(&mut m, "", bridge_id, 2);
    m.push("IsExternal", "Yes");
    m.push("Context", context);
    m.push("Extension", exten);
    out(m)
}

/// What an `AttendedTransfer` event names: both transferer channels with their
/// bridges (and the number of channels each bridge had at the time), the
/// transferee and the target, and the bridge everyone ends up in.
#[derive(Clone, Debug)]
pub(crate) struct Attended<'a> {
    pub(crate) orig: &'a Channel,
    pub(crate) orig_bridge: (&'a str, usize),
    pub(crate) second: &'a Channel,
    pub(crate) second_bridge: (&'a str, usize),
    pub(crate) transferee: &'a Channel,
    pub(crate) target: &'a Channel,
    /// `DestType: Bridge`, `DestBridgeUniqueid`.
    pub(crate) dest_bridge: &'a str,
    /// `IsExternal: Yes` for a transfer a channel driver reports (a SIP REFER),
    /// `No` for one the bridge made (the `Atxfer` feature).
    pub(crate) external: bool,
}

/// `AttendedTransfer` in the order of `attended_transfer_to_ami` (stasis_bridges.c,
/// the same in 20.20.1 and 22.10.1): both transferers with their bridges, the
/// transferee, the target, `IsExternal`, then the destination.
pub(crate) fn attended_transfer(a: &Attended<'_>) -> OutEvent {
    let mut m = call_event("AttendedTransfer").field("Result", "Success");
    push_channel(&mut m, "OrigTransferer", a.orig);
    push_bridge_prefixed(&mut m, "Orig", a.orig_bridge.0, a.orig_bridge.1);
    push_channel(&mut m, "SecondTransferer", a.second);
    push_bridge_prefixed(&mut m, "Second", a.second_bridge.0, a.second_bridge.1);
    push_channel(&mut m, "Transferee", a.transferee);
    push_channel(&mut m, "TransferTarget", a.target);
    m.push("IsExternal", if a.external { "Yes" } else { "No" });
    m.push("DestType", "Bridge");
    m.push("DestBridgeUniqueid", a.dest_bridge);
    out(m)
}

/// `LocalBridge`: the two halves of a Local channel were connected (chan_local's
/// `local_bridge_to_ami`): both snapshots, the dialplan location, and whether the
/// pair may optimise itself away (not with the `/n` flag; `Atxfer` allows it).
pub(crate) fn local_bridge(one: &Channel, two: &Channel, context: &str, exten: &str) -> OutEvent {
    let mut m = call_event("LocalBridge");
    push_channel(&mut m, "LocalOne", one);
    push_channel(&mut m, "LocalTwo", two);
    m.push("Context", context);
    m.push("Exten", exten);
    m.push("LocalOptimization", "Yes");
    out(m)
}

/// `BridgeMerge`: the channels of bridge `from` move into bridge `to`.
pub(crate) fn bridge_merge(to: (&str, usize), from: (&str, usize)) -> OutEvent {
    let mut m = call_event("BridgeMerge");
    push_bridge_prefixed(&mut m, "To", to.0, to.1);
    push_bridge_prefixed(&mut m, "From", from.0, from.1);
    out(m)
}

/// `Pickup`: `picker` took the call ringing at `target`.
pub(crate) fn pickup(picker: &Channel, target: &Channel) -> OutEvent {
    let mut m = call_event("Pickup");
    push_channel(&mut m, "", picker);
    push_channel(&mut m, "Target", target);
    out(m)
}

/// `DTMFBegin` / `DTMFEnd` (`duration_ms` only on the end) with `Direction: Sent`
/// for digits Asterisk plays to the channel.
pub(crate) fn dtmf(ch: &Channel, digit: char, duration_ms: Option<u32>) -> OutEvent {
    let name = if duration_ms.is_some() { "DTMFEnd" } else { "DTMFBegin" };
    let mut m = head(name, EventClass::Dtmf);
    push_channel(&mut m, "", ch);
    m.push("Digit", digit.to_string());
    if let Some(d) = duration_ms {
        m.push("DurationMs", d.to_string());
    }
    m.push("Direction", "Sent");
    OutEvent { class: EventClass::Dtmf, msg: m }
}

/// `DeviceStateChange`; a list item (with `ActionID`) has no `Privilege`.
pub(crate) fn device_state(device: &str, state: &str, action_id: Option<&str>) -> MessageBuilder {
    let m = match action_id {
        Some(id) => MessageBuilder::event("DeviceStateChange").field("ActionID", id),
        None => call_event("DeviceStateChange"),
    };
    m.field("Device", device).field("State", state)
}

/// `ExtensionStatus`; a list item (with `ActionID`) has no `Privilege`.
pub(crate) fn extension_status(
    exten: &str,
    context: &str,
    hint: &str,
    status: i32,
    action_id: Option<&str>,
) -> MessageBuilder {
    let m = match action_id {
        Some(id) => MessageBuilder::event("ExtensionStatus").field("ActionID", id),
        None => call_event("ExtensionStatus"),
    };
    m.field("Exten", exten)
        .field("Context", context)
        .field("Hint", hint)
        .field("Status", status.to_string())
        .field("StatusText", extension_status_text(status))
}

/// What an `OriginateResponse` reports.
#[derive(Clone, Debug)]
pub(crate) struct OriginateOutcome<'a> {
    pub(crate) action_id: Option<&'a str>,
    pub(crate) success: bool,
    pub(crate) channel: &'a str,
    pub(crate) context: &'a str,
    pub(crate) exten: &'a str,
    /// 0 failed, 1 hung up, 3 no answer, 4 answered, 5 busy.
    pub(crate) reason: u32,
    pub(crate) uniqueid: &'a str,
    pub(crate) cid_num: &'a str,
    pub(crate) cid_name: &'a str,
}

/// `OriginateResponse`: `ActionID` comes before `Response`, as in the capture.
pub(crate) fn originate_response(o: &OriginateOutcome<'_>) -> OutEvent {
    let m = call_event("OriginateResponse")
        .field_opt("ActionID", o.action_id)
        .field("Response", if o.success { "Success" } else { "Failure" })
        .field("Channel", o.channel)
        .field("Context", o.context)
        .field("Exten", o.exten)
        .field("Reason", o.reason.to_string())
        .field("Uniqueid", o.uniqueid)
        .field("CallerIDNum", o.cid_num)
        .field("CallerIDName", o.cid_name);
    out(m)
}

/// `CoreShowChannel` list item.
pub(crate) fn core_show_channel(ch: &Channel, action_id: Option<&str>, duration: &str) -> MessageBuilder {
    let mut m = MessageBuilder::event("CoreShowChannel").field_opt("ActionID", action_id);
    push_channel(&mut m, "", ch);
    m.push("Application", ch.app.as_str());
    m.push("ApplicationData", ch.app_data.as_str());
    m.push("Duration", duration);
    m.push("BridgeId", ch.bridge.as_deref().unwrap_or(""));
    m
}

/// `HH:MM:SS` as CoreShowChannels writes durations.
pub(crate) fn hms(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `Response: status` then the echoed `ActionID`, as Asterisk orders them.
pub(crate) fn response(status: &str, action_id: Option<&str>) -> MessageBuilder {
    MessageBuilder::response(status).field_opt("ActionID", action_id)
}

/// The first response of a list action.
pub(crate) fn list_start(action_id: Option<&str>, what: &str) -> MessageBuilder {
    response("Success", action_id).field("EventList", "start").field("Message", format!("{what} will follow"))
}

/// The event that closes a list.
pub(crate) fn list_complete(name: &str, action_id: Option<&str>, items: usize) -> MessageBuilder {
    MessageBuilder::event(name)
        .field_opt("ActionID", action_id)
        .field("EventList", "Complete")
        .field("ListItems", items.to_string())
}

/// `FullyBooted`, sent to a session right after its login.
pub(crate) fn fully_booted(uptime: u64) -> MessageBuilder {
    head("FullyBooted", EventClass::System)
        .field("Uptime", uptime.to_string())
        .field("LastReload", uptime.to_string())
        .field("Status", "Fully Booted")
}

/// What a `SuccessfulAuth` security event names.
#[derive(Clone, Debug)]
pub(crate) struct AuthInfo<'a> {
    pub(crate) event_tv: &'a str,
    pub(crate) account: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) local: &'a str,
    pub(crate) remote: &'a str,
    pub(crate) using_password: bool,
}

/// `SuccessfulAuth` (security class), broadcast after each login.
pub(crate) fn successful_auth(a: &AuthInfo<'_>) -> OutEvent {
    let m = head("SuccessfulAuth", EventClass::Security)
        .field("EventTV", a.event_tv)
        .field("Severity", "Informational")
        .field("Service", "AMI")
        .field("EventVersion", "1")
        .field("AccountID", a.account)
        .field("SessionID", a.session_id)
        .field("LocalAddress", a.local)
        .field("RemoteAddress", a.remote)
        .field("UsingPassword", if a.using_password { "1" } else { "0" })
        .field("SessionTV", a.event_tv);
    OutEvent { class: EventClass::Security, msg: m }
}

/// A `UserEvent` named `name`, as the `UserEvent` dialplan application sends it.
pub(crate) fn user_event(name: &str) -> MessageBuilder {
    head("UserEvent", EventClass::User).field("UserEvent", name)
}

/// One small `UserEvent` of a burst.
pub(crate) fn burst_event(seq: usize) -> MessageBuilder {
    user_event("Burst").field("Seq", seq.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::channel::ChanState;

    fn chan() -> Channel {
        Channel {
            name: "PJSIP/100-00000001".into(),
            ext: "100".into(),
            uniqueid: "1795662582.3".into(),
            linkedid: "1795662582.2".into(),
            state: ChanState::Ringing,
            cid_num: "100".into(),
            cid_name: "Phone 100".into(),
            conn_num: "101".into(),
            conn_name: "Phone 101".into(),
            account: String::new(),
            context: "internal".into(),
            exten: "100".into(),
            priority: 1,
            app: "AppDial".into(),
            app_data: "(Outgoing Line)".into(),
            outbound: true,
            bridge: None,
            held: false,
            moh: false,
            created: Instant::now(),
            call: 1,
        }
    }

    fn keys(m: &MessageBuilder) -> Vec<&str> {
        m.fields().iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn newstate_has_asterisk20_field_order() {
        let ev = channel_event("Newstate", &chan());
        assert_eq!(
            keys(&ev.msg),
            [
                "Event",
                "Privilege",
                "Channel",
                "ChannelState",
                "ChannelStateDesc",
                "CallerIDNum",
                "CallerIDName",
                "ConnectedLineNum",
                "ConnectedLineName",
                "Language",
                "AccountCode",
                "Context",
                "Exten",
                "Priority",
                "Uniqueid",
                "Linkedid"
            ]
        );
        assert_eq!(ev.msg.get("ChannelState"), Some("5"));
        assert_eq!(ev.msg.get("ChannelStateDesc"), Some("Ringing"));
    }

    #[test]
    fn originate_dial_has_only_dest_fields() {
        let ev = dial("DialBegin", None, &chan(), ("DialString", "100"));
        let k = keys(&ev.msg);
        assert_eq!(k[2], "DestChannel");
        assert!(!k.contains(&"Channel"));
        assert_eq!(k.last(), Some(&"DialString"));
    }

    #[test]
    fn hangup_carries_cause_text() {
        let ev = hangup(&chan(), 17);
        assert_eq!(ev.msg.get("Cause"), Some("17"));
        assert_eq!(ev.msg.get("Cause-txt"), Some("User busy"));
    }

    #[test]
    fn list_items_have_no_privilege() {
        let m = extension_status("100", "internal", "PJSIP/100", 0, Some("a-1"));
        assert_eq!(keys(&m), ["Event", "ActionID", "Exten", "Context", "Hint", "Status", "StatusText"]);
        let m = extension_status("100", "internal", "PJSIP/100", 8, None);
        assert_eq!(m.get("Privilege"), Some("call,all"));
        assert_eq!(m.get("StatusText"), Some("Ringing"));
        assert_eq!(hms(3723), "01:02:03");
    }
}
