//! Call control as AMI actions: the mapping of docs/call-control.md.
//!
//! Every command is checked against the model first (the call exists, the device is in
//! it, its connection is in a state the command applies to), so that a command that
//! cannot work fails at once with a typed error instead of reaching the PBX.

use tokio::sync::broadcast;

use super::convention::{AstDbConvention, DND_FAMILY};
use super::{lock, AmiLink, PhoneControl};
use crate::ami::action::Originate;
use crate::ami::{Action, Response};
use crate::command::{Command, ForwardKind, Outcome};
use crate::error::{Error, Result};
use crate::link::{Link, LinkStatus};
use crate::model::{Call, CallId, Connection, ConnectionState, DeviceId, Event};

pub(super) async fn execute(link: &AmiLink, cmd: Command) -> Result<Outcome> {
    cmd.validate()?;
    if link.status() == LinkStatus::Closed {
        return Err(Error::Closed);
    }
    let accepted = Ok(Outcome::Accepted);
    match cmd {
        Command::MakeCall { from, to, id } => make_call(link, &from, &to, id).await,
        Command::Answer { call, device } => {
            connection(link, &call, &device, &[ConnectionState::Alerting], "answer")?;
            notify(link, &device, "talk", "answer").await.and(accepted)
        }
        Command::Hold { call, device } => {
            connection(link, &call, &device, &[ConnectionState::Connected], "hold")?;
            notify(link, &device, "hold", "hold").await.and(accepted)
        }
        Command::Retrieve { call, device } => {
            connection(link, &call, &device, &[ConnectionState::Held], "retrieve")?;
            notify(link, &device, "talk", "retrieve").await.and(accepted)
        }
        Command::ClearConnection { call, device } => {
            let (_, conn) = connection(link, &call, &device, &[], "clear_connection")?;
            send(link, Action::hangup(&conn.channel, Some(16))).await.and(accepted)
        }
        Command::ClearCall { call } => clear_call(link, &call).await.and(accepted),
        Command::SingleStepTransfer { call, device, to } => {
            let (_, conn) = connection(link, &call, &device, &[ConnectionState::Connected], "transfer")?;
            let action = Action::new("BlindTransfer")
                .field("Channel", &conn.channel)
                .field("Context", context(link, &device))
                .field("Exten", &to);
            send(link, action).await.and(accepted)
        }
        Command::ConsultationCall { call, device, to } => consultation_call(link, &call, &device, &to).await,
        Command::TransferCall { held, active } => transfer_call(link, &held, &active).await.and(accepted),
        Command::Deflect { call, device, to } => {
            let (c, _) = connection(link, &call, &device, &[ConnectionState::Alerting], "deflect")?;
            let caller = c
                .connections
                .iter()
                .find(|k| {
                    k.device != device
                        && matches!(k.state, ConnectionState::Connected | ConnectionState::Initiated)
                })
                .ok_or_else(|| Error::NotAllowed(format!("call {call} has no calling party to redirect")))?;
            let action = Action::new("Redirect")
                .field("Channel", &caller.channel)
                .field("Context", context(link, &device))
                .field("Exten", &to)
                .field("Priority", "1");
            send(link, action).await.and(accepted)
        }
        Command::Pickup { device, target } => pickup(link, &device, &target).await.and(accepted),
        Command::SendDtmf { call, device, digits } => {
            send_dtmf(link, &call, &device, &digits).await.and(accepted)
        }
        Command::SetDoNotDisturb { device, on } => set_dnd(link, &device, on).await.and(accepted),
        Command::SetForwarding { device, kind, to } => {
            set_forwarding(link, &device, kind, to.as_deref()).await.and(accepted)
        } // `Command` is non-exhaustive for other crates only; every variant is handled.
    }
}

/// Sends an action; an action the PBX does not know means it is not set up for it.
async fn send(link: &AmiLink, action: Action) -> Result<Response> {
    let name = action.name().to_owned();
    match link.client.send(action).await {
        Err(Error::PbxRefused(msg)) if msg.to_ascii_lowercase().contains("invalid/unknown command") => {
            Err(Error::Unsupported(format!("the PBX does not know the action {name}")))
        }
        other => other,
    }
}

/// The device's interface (`PJSIP/100`): as the PBX reported it, else from the options.
/// A device the PBX did not list is unknown, once the PBX has listed any.
fn interface(link: &AmiLink, device: &DeviceId) -> Result<String> {
    let model = link.model();
    let dev = model.tracker.device(device.as_str());
    if dev.is_none() && !model.contexts.is_empty() && !model.contexts.contains_key(device.as_str()) {
        return Err(Error::UnknownDevice(device.to_string()));
    }
    Ok(dev
        .and_then(|d| d.interface.clone())
        .unwrap_or_else(|| format!("{}/{}", link.shared.control.technology, device)))
}

/// The dialplan context for numbers a device dials: its hint's, else the option.
fn context(link: &AmiLink, device: &DeviceId) -> String {
    let model = link.model();
    model.contexts.get(device.as_str()).cloned().unwrap_or_else(|| link.shared.control.context.clone())
}

fn find_call(link: &AmiLink, call: &CallId) -> Result<Call> {
    link.model().tracker.call(call.as_str()).ok_or_else(|| Error::UnknownCall(call.to_string()))
}

/// The call and `device`'s connection in it, which must be in one of `states` (any, if
/// empty).
fn connection(
    link: &AmiLink,
    call: &CallId,
    device: &DeviceId,
    states: &[ConnectionState],
    what: &str,
) -> Result<(Call, Connection)> {
    let c = find_call(link, call)?;
    let conn = c
        .connection(device.as_str())
        .cloned()
        .ok_or_else(|| Error::NotAllowed(format!("device {device} is not in call {call}")))?;
    if !states.is_empty() && !states.contains(&conn.state) {
        return Err(Error::NotAllowed(format!(
            "cannot {what}: device {device} is {:?} in call {call}",
            conn.state
        )));
    }
    Ok((c, conn))
}

/// A SIP NOTIFY that makes the phone answer, hold or retrieve.
async fn notify(link: &AmiLink, device: &DeviceId, event: &str, what: &str) -> Result<Response> {
    let action = match link.shared.control.phone_control {
        PhoneControl::None => {
            return Err(Error::Unsupported(format!(
                "{what} needs phone control (SessionOptions::phone_control, or control=pjsip in the URL)"
            )))
        }
        PhoneControl::Pjsip => Action::new("PJSIPNotify").field("Endpoint", device.as_str()),
        PhoneControl::Sip => Action::new("SIPnotify").field("Channel", format!("SIP/{device}")),
    };
    send(link, action.field("Variable", format!("Event={event}"))).await
}

async fn make_call(link: &AmiLink, from: &DeviceId, to: &str, id: Option<CallId>) -> Result<Outcome> {
    let channel = interface(link, from)?;
    if let Some(id) = &id {
        if link.model().tracker.id_taken(id.as_str()) {
            return Err(Error::NotAllowed(format!("call id {id} is already in use")));
        }
    }
    let id = id.unwrap_or_else(CallId::generate).as_str().to_owned();
    let o = Originate {
        channel: channel.clone(),
        context: context(link, from),
        exten: to.to_owned(),
        priority: 1,
        // What the destination will see: the user calling. (The first leg shows it on the
        // user's own phone too; the destination seeing its own number would be worse.)
        caller_id: Some(format!("<{from}>")),
        timeout_ms: Some(link.shared.control.originate_timeout.as_millis() as u64),
        channel_id: Some(id.clone()),
        other_channel_id: Some(CallId::generate().as_str().to_owned()),
        ..Originate::default()
    };
    let accepted = send(link, Action::originate(&o)).await?;
    let call = CallId::new(&id);
    if let Some(action_id) = accepted.get("ActionID") {
        let failed = lock(&link.shared.originates).sent(action_id, call.clone(), from.clone(), channel);
        for ev in failed {
            link.shared.emit(ev);
        }
    }
    Ok(Outcome::Call(call))
}

async fn clear_call(link: &AmiLink, call: &CallId) -> Result<()> {
    let c = find_call(link, call)?;
    let mut channels: Vec<&str> = c.connections.iter().map(|k| k.channel.as_str()).collect();
    channels.dedup();
    let mut cleared = false;
    for ch in channels {
        match send(link, Action::hangup(ch, Some(16))).await {
            Ok(_) => cleared = true,
            // Hanging up one leg often ends the others before we get to them.
            Err(Error::PbxRefused(_)) if cleared => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn consultation_call(link: &AmiLink, call: &CallId, device: &DeviceId, to: &str) -> Result<Outcome> {
    let (_, conn) = connection(link, call, device, &[ConnectionState::Connected], "consult")?;
    // Subscribe before sending, so the new call's first event cannot be missed.
    let mut rx = link.subscribe();
    let action = Action::new("Atxfer")
        .field("Channel", &conn.channel)
        .field("Context", context(link, device))
        .field("Exten", to);
    send(link, action).await?;
    let wait = link.shared.control.consultation_timeout;
    let found = tokio::time::timeout(wait, async {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let new_call = matches!(ev, Event::Originated { .. } | Event::Delivered { .. })
                        && ev.device() == Some(device)
                        && ev.call().is_some_and(|c| c != call);
                    if new_call {
                        return ev.call().cloned().ok_or(Error::LinkDown);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Err(Error::Closed),
            }
        }
    })
    .await;
    match found {
        Ok(r) => r.map(Outcome::Call),
        Err(_) => Err(Error::Timeout(wait)),
    }
}

async fn transfer_call(link: &AmiLink, held: &CallId, active: &CallId) -> Result<()> {
    let h = find_call(link, held)?;
    let a = find_call(link, active)?;
    let (device, channel) = h
        .connections
        .iter()
        .filter(|k| k.state == ConnectionState::Held)
        .find_map(|k| a.connection(k.device.as_str()).map(|ka| (k.device.clone(), ka.channel.clone())))
        .ok_or_else(|| Error::NotAllowed(format!("no device holds call {held} and is in call {active}")))?;
    tracing::debug!(%device, "completing the attended transfer");
    send(link, Action::hangup(&channel, Some(16))).await.map(drop)
}

async fn pickup(link: &AmiLink, device: &DeviceId, target: &str) -> Result<()> {
    let iface = interface(link, device)?;
    let ringing = |c: &Call| {
        c.connections
            .iter()
            .find(|k| k.state == ConnectionState::Alerting && k.device != *device)
            .map(|k| k.channel.clone())
    };
    let channel = {
        // One lock for both lookups (the guard lives to the end of this block).
        let model = link.model();
        match model.tracker.call(target) {
            Some(c) => ringing(&c),
            None => model.tracker.calls().iter().find_map(|c| {
                c.connections
                    .iter()
                    .find(|k| k.state == ConnectionState::Alerting && k.device.as_str() == target)
                    .map(|k| k.channel.clone())
            }),
        }
    }
    .ok_or_else(|| Error::NotAllowed(format!("nothing rings at {target} to pick up")))?;
    let action = Action::new("Originate")
        .field("Channel", iface)
        .field("Application", "PickupChan")
        .field("Data", channel)
        .field("Async", "true")
        .field("Timeout", link.shared.control.originate_timeout.as_millis().to_string())
        .field("ChannelId", CallId::generate().as_str().to_owned());
    send(link, action).await.map(drop)
}

async fn send_dtmf(link: &AmiLink, call: &CallId, device: &DeviceId, digits: &str) -> Result<()> {
    let (c, _) = connection(link, call, device, &[ConnectionState::Connected], "send DTMF")?;
    let peer = c
        .connections
        .iter()
        .find(|k| k.device != *device && k.state == ConnectionState::Connected)
        .ok_or_else(|| Error::NotAllowed(format!("nobody talks to {device} in call {call}")))?;
    for d in digits.chars() {
        let action = Action::new("PlayDTMF")
            .field("Channel", &peer.channel)
            .field("Digit", d.to_ascii_uppercase().to_string())
            .field("Duration", "100");
        send(link, action).await?;
    }
    Ok(())
}

/// The AstDB convention the PBX follows (`convention.rs`), or `Unsupported`.
fn require_astdb(link: &AmiLink, what: &str) -> Result<AstDbConvention> {
    link.shared.control.astdb.ok_or_else(|| {
        Error::Unsupported(format!(
            "{what} needs an AstDB dialplan convention (SessionOptions::control.astdb, or astdb=1 / astdb=freepbx in the URL)"
        ))
    })
}

/// `Set(DEVICE_STATE(Custom:NAME)=...)`: a lamp the dialplan and phones' BLF keys read.
async fn set_lamp(link: &AmiLink, name: &str, on: bool) -> Result<()> {
    let action = Action::new("Setvar")
        .field("Variable", format!("DEVICE_STATE(Custom:{name})"))
        .field("Value", if on { "BUSY" } else { "NOT_INUSE" });
    send(link, action).await.map(drop)
}

/// `DBPut`, or `DBDel` for `None` (an entry that is already gone is fine).
async fn db_set(link: &AmiLink, family: &str, key: &str, val: Option<&str>) -> Result<()> {
    let action = match val {
        Some(v) => Action::new("DBPut").field("Family", family).field("Key", key).field("Val", v),
        None => Action::new("DBDel").field("Family", family).field("Key", key),
    };
    match send(link, action).await {
        Ok(_) => Ok(()),
        Err(Error::PbxRefused(_)) if val.is_none() => Ok(()),
        Err(e) => Err(e),
    }
}

async fn set_dnd(link: &AmiLink, device: &DeviceId, on: bool) -> Result<()> {
    // Both conventions: `DND/<ext>` = `YES` and the `Custom:DND<ext>` lamp.
    require_astdb(link, "do not disturb")?;
    interface(link, device)?;
    db_set(link, DND_FAMILY, device.as_str(), on.then_some("YES")).await?;
    set_lamp(link, &format!("DND{device}"), on).await
}

async fn set_forwarding(
    link: &AmiLink,
    device: &DeviceId,
    kind: ForwardKind,
    to: Option<&str>,
) -> Result<()> {
    let convention = require_astdb(link, "forwarding")?;
    interface(link, device)?;
    db_set(link, convention.family(kind), device.as_str(), to).await?;
    if let Some(lamp) = convention.forward_lamp(kind, device.as_str()) {
        set_lamp(link, &lamp, to.is_some()).await?;
    }
    // Every other client learns it from this event (FreePBX's dialplan ignores it).
    let action = Action::new("UserEvent")
        .field("UserEvent", "ctilink-forward")
        .field("Device", device.as_str())
        .field("Kind", kind.as_str())
        .field("Target", to.unwrap_or_default());
    send(link, action).await.map(drop)
}
