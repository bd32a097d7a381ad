//! Conformance with real traffic: every cacofonisk capture that has expectations is fed
//! through the tracker, ctilink's events are mapped to the call-level facts that
//! cacofonisk's tests assert (who called whom, where it rang, who answered, who transferred
//! to whom, how it ended), and the two lists are compared in order.
//!
//! Where ctilink deliberately reports something else, the fixture is listed in
//! `DEVIATIONS` with ctilink's own list and the reason; the test asserts that list, so a
//! change in behaviour shows up either way. docs/call-model.md explains each one.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ctilink::ami::read_capture;
use ctilink::model::{CallId, ConnectionState, Event, FailureReason, Tracker, TransferKind};
use ctilink_tests::vector_files;
use serde_json::Value;

/// Maps ctilink events to cacofonisk's facts, one line each.
#[derive(Default)]
struct Facts {
    lines: Vec<String>,
    /// The calling party's channel of each call.
    calling: HashMap<CallId, String>,
    /// Channels that were reported ringing and have not stopped.
    ringing: HashSet<String>,
    /// A blind transfer waiting for its targets to ring: the index of its line.
    pending_blind: HashMap<CallId, usize>,
    /// Hangups placed where the caller left, kept only if the call really ended
    /// (not when it was merged into another by a pickup): call -> line index.
    pending_hangup: HashMap<CallId, usize>,
    prompts: HashSet<String>,
    answered: HashSet<CallId>,
    /// Calls that left a queue unanswered: reported as an abandon when the caller hangs up.
    left_queue: HashSet<CallId>,
    /// Calls whose caller hung up: cacofonisk reports nothing more about them.
    ended: HashSet<CallId>,
    /// Whether UserEvents are compared (only the var_set fixture records them).
    user_events: bool,
    /// `full_channel` fixtures: the caller's number is compared too (who called whom, by
    /// number as the phones show it).
    numbers: bool,
}

fn hangup_reason(cause: Option<u16>, answered: bool) -> &'static str {
    match cause.unwrap_or(0) {
        16 if answered => "completed",
        16 | 18 | 19 => "no-answer",
        17 => "busy",
        21 => "rejected",
        26 => "answered-elsewhere",
        0 | 127 if answered => "completed",
        0 | 127 => "cancelled",
        _ => "failed",
    }
}

fn dial_status(r: FailureReason) -> &'static str {
    match r {
        FailureReason::Busy => "busy",
        FailureReason::NoAnswer => "noanswer",
        FailureReason::Rejected => "rejected",
        FailureReason::Unreachable => "chanunavail",
        FailureReason::Congestion => "congestion",
        _ => "other",
    }
}

impl Facts {
    fn caller(&self, call: &CallId) -> String {
        self.calling.get(call).cloned().unwrap_or_else(|| "?".into())
    }

    // Arms that only sometimes report keep their condition inside, for readability.
    #[allow(clippy::collapsible_match)]
    fn push(&mut self, ev: &Event) {
        if let Event::CallCleared { call, merged_into: Some(_), .. } = ev {
            // A call merged into another (the picker's own call) did not hang up.
            if let Some(i) = self.pending_hangup.remove(call) {
                self.lines[i].clear();
            }
        }
        if ev.call().is_some_and(|c| self.ended.contains(c)) {
            return;
        }
        // A blind transfer's targets are those that ring right after it: the first other
        // event of the call once a target rang closes the list.
        if !matches!(ev, Event::Delivered { .. }) {
            if let Some(call) = ev.call() {
                if self.pending_blind.get(call).is_some_and(|&i| !self.lines[i].ends_with("-> ")) {
                    self.pending_blind.remove(call);
                }
            }
        }
        match ev {
            Event::Originated { call, channel, .. } => {
                self.calling.insert(call.clone(), channel.clone());
            }
            Event::Delivered { channel, click_to_dial: true, .. } => {
                self.prompts.insert(channel.clone());
            }
            Event::Delivered { call, channel, caller, .. } => {
                self.ringing.insert(channel.clone());
                if let Some(i) = self.pending_blind.get(call).copied() {
                    let line = &mut self.lines[i];
                    if !line.ends_with("-> ") {
                        line.push(',');
                    }
                    line.push_str(channel);
                    let (head, targets) = line.split_at(line.find("-> ").map_or(0, |p| p + 3));
                    let mut t: Vec<&str> = targets.split(',').collect();
                    t.sort_unstable();
                    *line = format!("{head}{}", t.join(","));
                } else {
                    let num = if self.numbers { format!(" <{}>", caller.number) } else { String::new() };
                    self.lines.push(format!("b_dial {}{num} -> {}", self.caller(call), channel));
                }
            }
            Event::Established { call, channel, .. } => {
                if self.prompts.contains(channel) {
                    return;
                }
                let caller = self.caller(call);
                self.answered.insert(call.clone());
                if self.ringing.remove(channel) {
                    self.lines.push(format!("b_dial_end {caller} -> {channel} answer"));
                }
                self.lines.push(format!("up {caller} -> {channel}"));
            }
            Event::Failed { call, channel, reason, .. } => {
                if self.ringing.remove(channel) {
                    self.lines.push(format!(
                        "b_dial_end {} -> {} {}",
                        self.caller(call),
                        channel,
                        dial_status(*reason)
                    ));
                }
            }
            Event::ConnectionCleared { call, channel, cause, .. }
                if self.calling.get(call) == Some(channel) =>
            {
                let reason = hangup_reason(cause.map(|c| c.0), self.answered.contains(call));
                if self.left_queue.contains(call) && !self.answered.contains(call) {
                    self.lines.push(format!("queue_caller_abandon {channel}"));
                }
                self.pending_hangup.insert(call.clone(), self.lines.len());
                self.lines.push(format!("hangup {channel} {reason}"));
                self.ended.insert(call.clone());
            }
            Event::ConnectionCleared { call, channel, previous: ConnectionState::Alerting, .. } => {
                if self.ringing.remove(channel) {
                    self.lines.push(format!("b_dial_end {} -> {} cancel", self.caller(call), channel));
                }
            }
            Event::ConnectionCleared { channel, previous: ConnectionState::Queued, call, .. }
                if channel.is_empty() =>
            {
                self.left_queue.insert(call.clone());
            }
            Event::Transferred { call, kind: TransferKind::Blind, transferring, transferred, .. } => {
                self.pending_blind.insert(call.clone(), self.lines.len());
                self.lines
                    .push(format!("blind_transfer {} by {} -> ", transferred.channel, transferring.channel));
                self.calling.insert(call.clone(), transferred.channel.clone());
            }
            Event::Transferred { call, kind, transferring, transferred, targets, .. } => {
                let mut t: Vec<&str> = targets.iter().map(|e| e.channel.as_str()).collect();
                t.sort_unstable();
                let name = match kind {
                    TransferKind::Blind => "blind_transfer",
                    TransferKind::Attended => "attended_transfer",
                    TransferKind::Blonde => "blonde_transfer",
                };
                self.lines.push(format!(
                    "{name} {} by {} -> {}",
                    transferred.channel,
                    transferring.channel,
                    t.join(",")
                ));
                self.calling.insert(call.clone(), transferred.channel.clone());
            }
            Event::CallCleared { call, cause, answered, merged_into: None } if !self.ended.contains(call) => {
                if let Some(caller) = self.calling.get(call) {
                    let reason = hangup_reason(cause.map(|c| c.0), *answered);
                    self.lines.push(format!("hangup {caller} {reason}"));
                }
            }
            Event::UserEvent { name, fields, .. } if self.user_events => {
                let mut f: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                f.push(format!("UserEvent={name}"));
                f.sort();
                self.lines.push(format!("user_event {}", f.join(" ")));
            }
            _ => {}
        }
    }
}

fn name(ch: &Value) -> String {
    ch["name"].as_str().unwrap_or("?").to_owned()
}

/// cacofonisk's expected events as fact lines.
fn expected_lines(exp: &Value) -> Vec<String> {
    let full = exp["comparison"] == "full_channel";
    let mut out = Vec::new();
    for e in exp["events"].as_array().into_iter().flatten() {
        let targets = || {
            let mut t: Vec<String> = e["targets"].as_array().into_iter().flatten().map(name).collect();
            t.sort();
            t.join(",")
        };
        let line = match e["kind"].as_str().unwrap_or("") {
            "b_dial" if full => format!(
                "b_dial {} <{}> -> {}",
                name(&e["caller"]),
                e["caller"]["caller_id"]["num"].as_str().unwrap_or(""),
                targets()
            ),
            "b_dial" => format!("b_dial {} -> {}", name(&e["caller"]), targets()),
            "b_dial_end" => {
                format!(
                    "b_dial_end {} -> {} {}",
                    name(&e["caller"]),
                    targets(),
                    e["reason"].as_str().unwrap_or("")
                )
            }
            "up" => format!("up {} -> {}", name(&e["caller"]), name(&e["target"])),
            "hangup" => format!("hangup {} {}", name(&e["caller"]), e["reason"].as_str().unwrap_or("")),
            "attended_transfer" => format!(
                "attended_transfer {} by {} -> {}",
                name(&e["caller"]),
                name(&e["transferer"]),
                name(&e["target"])
            ),
            k @ ("blind_transfer" | "blonde_transfer") => {
                format!("{k} {} by {} -> {}", name(&e["caller"]), name(&e["transferer"]), targets())
            }
            "queue_caller_abandon" => format!("queue_caller_abandon {}", name(&e["caller"])),
            "user_event" => {
                let mut f: Vec<String> = e["fields"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect();
                f.sort();
                format!("user_event {}", f.join(" "))
            }
            other => format!("unknown kind {other}"),
        };
        out.push(line);
    }
    out
}

/// Restricts our user_event lines to the compared keys.
fn restrict_user_events(lines: Vec<String>, keys: &HashSet<&str>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| {
            let Some(rest) = l.strip_prefix("user_event ") else { return l };
            let kept: Vec<&str> =
                rest.split(' ').filter(|kv| kv.split('=').next().is_some_and(|k| keys.contains(k))).collect();
            format!("user_event {}", kept.join(" "))
        })
        .collect()
}

fn ctilink_lines(ami: &Path, user_events: bool, numbers: bool) -> Vec<String> {
    let data = std::fs::read(ami).unwrap_or_else(|e| panic!("{}: {e}", ami.display()));
    let cap = read_capture(&data);
    assert!(cap.errors.is_empty(), "{}: decode errors {:?}", ami.display(), cap.errors);
    let mut tracker = Tracker::new();
    let mut facts = Facts { user_events, numbers, ..Facts::default() };
    for m in &cap.messages {
        for ev in tracker.apply(m) {
            facts.push(&ev);
        }
    }
    // A blind transfer whose target never rang is not a cacofonisk fact.
    facts.lines.into_iter().filter(|l| !l.is_empty() && !l.ends_with("-> ")).collect()
}

/// Fixtures where ctilink reports something else on purpose: ctilink's own list, and why.
/// docs/call-model.md ("Where ctilink differs from cacofonisk") has the same reasons.
const GROUP: &str = "ringing-stopped: ctilink reports every ringing phone that stops ringing (here the group/queue member that did not answer); cacofonisk omits it";
const CANCEL: &str = "ringing-stopped: ctilink reports the called phone that stops ringing when the caller gives up; cacofonisk stops reporting at that point";
const ORIGINATE: &str = "click-to-dial: ctilink reports that the destination stopped ringing because it answered (or was busy); cacofonisk has no b_dial_end for originated calls";
const MOBILE: &str = "confirmation legs: answering a call-confirmation prompt is not taking the call; ctilink reports the mobile as stopped ringing unless it was connected to the caller";
const IVR: &str = "answered means a person answered: the PBX answering the caller (queue, IVR) does not make a call answered, so a caller who gives up is 'cancelled'";
const BLIND: &str = "blind transfer to a phone that never answers: ctilink reports the transferee's call ending unanswered (cause 19) instead of cacofonisk's hard-coded 'completed'";
const UNACCEPTED: &str = "call-me-now whose first leg answered: ctilink reports the call that the answered leg placed, and its end; cacofonisk reports nothing";

const DEVIATIONS: &[(&str, &str, &[&str])] = &[
    (
        "mobile_acceptance_group_pickup",
        MOBILE,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000069 -> SIP/voipgrid-siproute-docker-0000006a",
            "b_dial SIP/voipgrid-siproute-docker-00000069 -> SIP/voipgrid-siproute-docker-0000006c",
            "b_dial_end SIP/voipgrid-siproute-docker-00000069 -> SIP/voipgrid-siproute-docker-0000006c answer",
            "up SIP/voipgrid-siproute-docker-00000069 -> SIP/voipgrid-siproute-docker-0000006c",
            "b_dial_end SIP/voipgrid-siproute-docker-00000069 -> SIP/voipgrid-siproute-docker-0000006a cancel",
            "hangup SIP/voipgrid-siproute-docker-00000069 completed",
        ],
    ),
    (
        "mobile_acceptance_group_reject",
        MOBILE,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000072 -> SIP/voipgrid-siproute-docker-00000073",
            "b_dial SIP/voipgrid-siproute-docker-00000072 -> SIP/voipgrid-siproute-docker-00000074",
            "b_dial_end SIP/voipgrid-siproute-docker-00000072 -> SIP/voipgrid-siproute-docker-00000074 cancel",
            "b_dial_end SIP/voipgrid-siproute-docker-00000072 -> SIP/voipgrid-siproute-docker-00000073 answer",
            "up SIP/voipgrid-siproute-docker-00000072 -> SIP/voipgrid-siproute-docker-00000073",
            "hangup SIP/voipgrid-siproute-docker-00000072 completed",
        ],
    ),
    (
        "mobile_acceptance_reject",
        MOBILE,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000063 -> SIP/voipgrid-siproute-docker-00000064",
            "b_dial_end SIP/voipgrid-siproute-docker-00000063 -> SIP/voipgrid-siproute-docker-00000064 cancel",
            "hangup SIP/voipgrid-siproute-docker-00000063 no-answer",
        ],
    ),
    (
        "mobile_acceptance_timeout",
        MOBILE,
        &[
            "b_dial SIP/voipgrid-siproute-docker-0000007b -> SIP/voipgrid-siproute-docker-0000007c",
            "hangup SIP/voipgrid-siproute-docker-0000007b no-answer",
        ],
    ),
    (
        "originate_cmn_world_world",
        ORIGINATE,
        &[
            "b_dial SIP/voipgrid-siproute-docker-0000002b -> SIP/voipgrid-siproute-docker-0000002e",
            "b_dial_end SIP/voipgrid-siproute-docker-0000002b -> SIP/voipgrid-siproute-docker-0000002e answer",
            "up SIP/voipgrid-siproute-docker-0000002b -> SIP/voipgrid-siproute-docker-0000002e",
            "hangup SIP/voipgrid-siproute-docker-0000002b completed",
        ],
    ),
    (
        "originate_cmn_world_world_unaccepted",
        UNACCEPTED,
        &[
            "hangup SIP/voipgrid-siproute-docker-00000031 no-answer",
        ],
    ),
    (
        "originate_ctd_account_account",
        ORIGINATE,
        &[
            "b_dial SIP/150010001-00000002 -> SIP/150010002-00000003",
            "b_dial_end SIP/150010001-00000002 -> SIP/150010002-00000003 answer",
            "up SIP/150010001-00000002 -> SIP/150010002-00000003",
            "hangup SIP/150010001-00000002 completed",
        ],
    ),
    (
        "originate_ctd_account_account_xfer_attn_abbcac",
        ORIGINATE,
        &[
            "b_dial SIP/150010001-0000001d -> SIP/150010002-0000001e",
            "b_dial_end SIP/150010001-0000001d -> SIP/150010002-0000001e answer",
            "up SIP/150010001-0000001d -> SIP/150010002-0000001e",
            "b_dial SIP/150010002-0000001f -> SIP/150010003-00000020",
            "b_dial_end SIP/150010002-0000001f -> SIP/150010003-00000020 answer",
            "up SIP/150010002-0000001f -> SIP/150010003-00000020",
            "attended_transfer SIP/150010001-0000001d by SIP/150010002-0000001f -> SIP/150010003-00000020",
            "hangup SIP/150010001-0000001d completed",
        ],
    ),
    (
        "originate_ctd_account_world",
        ORIGINATE,
        &[
            "b_dial SIP/150010001-00000008 <201> -> SIP/voipgrid-siproute-docker-00000009",
            "b_dial_end SIP/150010001-00000008 -> SIP/voipgrid-siproute-docker-00000009 answer",
            "up SIP/150010001-00000008 -> SIP/voipgrid-siproute-docker-00000009",
            "hangup SIP/150010001-00000008 completed",
        ],
    ),
    (
        "originate_ctd_account_world_deny_b",
        ORIGINATE,
        &[
            "b_dial SIP/150010001-00000011 -> SIP/voipgrid-siproute-docker-00000012",
            "b_dial_end SIP/150010001-00000011 -> SIP/voipgrid-siproute-docker-00000012 busy",
            "hangup SIP/150010001-00000011 busy",
        ],
    ),
    (
        "originate_ctd_account_world_no_ringing",
        ORIGINATE,
        &[
            "b_dial SIP/150010063-0015f5f1 <2401> -> SIP/voipgrid-siproute-ams-0015f5f3",
            "b_dial_end SIP/150010063-0015f5f1 -> SIP/voipgrid-siproute-ams-0015f5f3 answer",
            "up SIP/150010063-0015f5f1 -> SIP/voipgrid-siproute-ams-0015f5f3",
            "hangup SIP/150010063-0015f5f1 completed",
        ],
    ),
    (
        "originate_ctd_account_world_xfer_attn_abacbc",
        ORIGINATE,
        &[
            "b_dial SIP/150010001-00000025 -> SIP/voipgrid-siproute-docker-00000026",
            "b_dial_end SIP/150010001-00000025 -> SIP/voipgrid-siproute-docker-00000026 answer",
            "up SIP/150010001-00000025 -> SIP/voipgrid-siproute-docker-00000026",
            "b_dial SIP/150010001-00000029 -> SIP/150010003-0000002a",
            "b_dial_end SIP/150010001-00000029 -> SIP/150010003-0000002a answer",
            "up SIP/150010001-00000029 -> SIP/150010003-0000002a",
            "attended_transfer SIP/voipgrid-siproute-docker-00000026 by SIP/150010001-00000029 -> SIP/150010003-0000002a",
            "hangup SIP/voipgrid-siproute-docker-00000026 completed",
        ],
    ),
    (
        "queue_queue_a_cancel",
        IVR,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000019 -> SIP/150010002-0000001a",
            "b_dial_end SIP/voipgrid-siproute-docker-00000019 -> SIP/150010002-0000001a cancel",
            "queue_caller_abandon SIP/voipgrid-siproute-docker-00000019",
            "hangup SIP/voipgrid-siproute-docker-00000019 cancelled",
        ],
    ),
    (
        "queue_queue_group",
        GROUP,
        &[
            "b_dial SIP/voipgrid-siproute-docker-0000001b -> SIP/150010003-0000001c",
            "b_dial SIP/voipgrid-siproute-docker-0000001b -> SIP/150010002-0000001d",
            "b_dial_end SIP/voipgrid-siproute-docker-0000001b -> SIP/150010003-0000001c cancel",
            "b_dial_end SIP/voipgrid-siproute-docker-0000001b -> SIP/150010002-0000001d answer",
            "up SIP/voipgrid-siproute-docker-0000001b -> SIP/150010002-0000001d",
            "hangup SIP/voipgrid-siproute-docker-0000001b completed",
        ],
    ),
    (
        "simple_a_created_no_answer",
        IVR,
        &[
            "hangup SIP/voipgrid-siproute-docker-00000009 cancelled",
        ],
    ),
    (
        "simple_ab_a_cancel",
        CANCEL,
        &[
            "b_dial SIP/150010001-00000002 -> SIP/150010002-00000003",
            "b_dial_end SIP/150010001-00000002 -> SIP/150010002-00000003 cancel",
            "hangup SIP/150010001-00000002 cancelled",
        ],
    ),
    (
        "simple_ab_callgroup",
        GROUP,
        &[
            "b_dial SIP/150010001-0000000d -> SIP/150010002-0000000e",
            "b_dial SIP/150010001-0000000d -> SIP/150010003-0000000f",
            "b_dial_end SIP/150010001-0000000d -> SIP/150010003-0000000f cancel",
            "b_dial_end SIP/150010001-0000000d -> SIP/150010002-0000000e answer",
            "up SIP/150010001-0000000d -> SIP/150010002-0000000e",
            "hangup SIP/150010001-0000000d completed",
        ],
    ),
    (
        "xfer_blind_xfer_blind_a_no_answer",
        BLIND,
        &[
            "b_dial SIP/150010001-00000012 -> SIP/150010002-00000013",
            "b_dial_end SIP/150010001-00000012 -> SIP/150010002-00000013 answer",
            "up SIP/150010001-00000012 -> SIP/150010002-00000013",
            "hangup SIP/150010002-00000013 no-answer",
        ],
    ),
    (
        "xfer_blind_xfer_blind_b_no_answer",
        BLIND,
        &[
            "b_dial SIP/150010001-00000015 -> SIP/150010002-00000016",
            "b_dial_end SIP/150010001-00000015 -> SIP/150010002-00000016 answer",
            "up SIP/150010001-00000015 -> SIP/150010002-00000016",
            "hangup SIP/150010001-00000015 no-answer",
        ],
    ),
    (
        "xfer_blind_xfer_blind_group",
        GROUP,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000017 -> SIP/150010001-00000018",
            "b_dial_end SIP/voipgrid-siproute-docker-00000017 -> SIP/150010001-00000018 answer",
            "up SIP/voipgrid-siproute-docker-00000017 -> SIP/150010001-00000018",
            "blind_transfer SIP/voipgrid-siproute-docker-00000017 by SIP/150010001-00000018 -> SIP/150010002-00000019,SIP/150010003-0000001a",
            "b_dial_end SIP/voipgrid-siproute-docker-00000017 -> SIP/150010002-00000019 cancel",
            "b_dial_end SIP/voipgrid-siproute-docker-00000017 -> SIP/150010003-0000001a answer",
            "up SIP/voipgrid-siproute-docker-00000017 -> SIP/150010003-0000001a",
            "hangup SIP/voipgrid-siproute-docker-00000017 completed",
        ],
    ),
    (
        "xfer_blind_xfer_blind_group_no_answer",
        BLIND,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000023 -> SIP/150010001-00000024",
            "b_dial_end SIP/voipgrid-siproute-docker-00000023 -> SIP/150010001-00000024 answer",
            "up SIP/voipgrid-siproute-docker-00000023 -> SIP/150010001-00000024",
            "hangup SIP/voipgrid-siproute-docker-00000023 no-answer",
        ],
    ),
    (
        "xfer_blonde_xfer_blonde_group_a",
        GROUP,
        &[
            "b_dial SIP/150010001-000000ac -> SIP/voipgrid-siproute-docker-000000ad",
            "b_dial_end SIP/150010001-000000ac -> SIP/voipgrid-siproute-docker-000000ad answer",
            "up SIP/150010001-000000ac -> SIP/voipgrid-siproute-docker-000000ad",
            "b_dial SIP/150010001-000000b0 -> SIP/150010002-000000b1",
            "b_dial SIP/150010001-000000b0 -> SIP/150010003-000000b2",
            "blonde_transfer SIP/voipgrid-siproute-docker-000000ad by SIP/150010001-000000b0 -> SIP/150010002-000000b1,SIP/150010003-000000b2",
            "b_dial_end SIP/voipgrid-siproute-docker-000000ad -> SIP/150010003-000000b2 cancel",
            "b_dial_end SIP/voipgrid-siproute-docker-000000ad -> SIP/150010002-000000b1 answer",
            "up SIP/voipgrid-siproute-docker-000000ad -> SIP/150010002-000000b1",
            "hangup SIP/voipgrid-siproute-docker-000000ad completed",
        ],
    ),
    (
        "xfer_blonde_xfer_blonde_group_b",
        GROUP,
        &[
            "b_dial SIP/voipgrid-siproute-docker-000000a7 -> SIP/150010001-000000a8",
            "b_dial_end SIP/voipgrid-siproute-docker-000000a7 -> SIP/150010001-000000a8 answer",
            "up SIP/voipgrid-siproute-docker-000000a7 -> SIP/150010001-000000a8",
            "b_dial SIP/150010001-000000a9 -> SIP/150010002-000000aa",
            "b_dial SIP/150010001-000000a9 -> SIP/150010003-000000ab",
            "blonde_transfer SIP/voipgrid-siproute-docker-000000a7 by SIP/150010001-000000a9 -> SIP/150010002-000000aa,SIP/150010003-000000ab",
            "b_dial_end SIP/voipgrid-siproute-docker-000000a7 -> SIP/150010003-000000ab cancel",
            "b_dial_end SIP/voipgrid-siproute-docker-000000a7 -> SIP/150010002-000000aa answer",
            "up SIP/voipgrid-siproute-docker-000000a7 -> SIP/150010002-000000aa",
            "hangup SIP/voipgrid-siproute-docker-000000a7 completed",
        ],
    ),
    (
        "xfer_misc_call_forwarding_to_group",
        GROUP,
        &[
            "b_dial SIP/voipgrid-siproute-docker-00000021 -> SIP/150010002-00000023",
            "b_dial SIP/voipgrid-siproute-docker-00000021 -> SIP/150010003-00000024",
            "b_dial_end SIP/voipgrid-siproute-docker-00000021 -> SIP/150010002-00000023 cancel",
            "b_dial_end SIP/voipgrid-siproute-docker-00000021 -> SIP/150010003-00000024 answer",
            "up SIP/voipgrid-siproute-docker-00000021 -> SIP/150010003-00000024",
            "hangup SIP/voipgrid-siproute-docker-00000021 completed",
        ],
    ),
];

#[test]
fn conformance_with_cacofonisk_expectations() {
    let files = vector_files("expected", "json");
    assert_eq!(files.len(), 51, "expected 51 expectation files");
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let deviations: HashMap<&str, (&str, &[&str])> =
        DEVIATIONS.iter().map(|(f, r, l)| (*f, (*r, *l))).collect();
    for f in &files {
        let exp: Value = serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json");
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_owned();
        let ami = f.parent().expect("dir").join(exp["ami_file"].as_str().expect("ami_file"));
        let expected = expected_lines(&exp);
        let full = exp["comparison"] == "full_channel";
        let mut ours = ctilink_lines(&ami, exp["comparison"] == "user_event_fields", full);
        if let Some(keys) = exp["compared_keys"].as_array() {
            let keys: HashSet<&str> = keys.iter().filter_map(|k| k.as_str()).collect();
            ours = restrict_user_events(
                ours.into_iter().filter(|l| l.starts_with("user_event")).collect(),
                &keys,
            );
        }
        let short = stem.trim_start_matches("cacofonisk_");
        let status = if ours == expected {
            if deviations.contains_key(short) {
                failures
                    .push(format!("{short}: listed as a deviation but now matches cacofonisk; remove it"));
            }
            "match"
        } else if let Some((reason, listed)) = deviations.get(short) {
            if ours.iter().map(String::as_str).eq(listed.iter().copied()) {
                // The reason's first words name the kind of difference.
                reason.split(':').next().unwrap_or("documented")
            } else {
                failures.push(format!(
                    "{short}: differs from cacofonisk and from the documented deviation\n  cacofonisk:\n    {}\n  documented:\n    {}\n  ctilink:\n    {}",
                    expected.join("\n    "),
                    listed.join("\n    "),
                    ours.join("\n    ")
                ));
                "FAIL"
            }
        } else {
            failures.push(format!(
                "{short}:\n  cacofonisk:\n    {}\n  ctilink:\n    {}",
                expected.join("\n    "),
                ours.join("\n    ")
            ));
            "FAIL"
        };
        rows.push((short.to_owned(), expected.len(), ours.len(), status));
    }
    println!("{:<48} {:>5} {:>5}  result (deviations: see docs/call-model.md)", "fixture", "exp", "ours");
    for (f, e, o, s) in &rows {
        println!("{f:<48} {e:>5} {o:>5}  {s}");
    }
    let matched = rows.iter().filter(|r| r.3 == "match").count();
    let documented = rows.iter().filter(|r| r.3 != "match" && r.3 != "FAIL").count();
    println!("conformance: {matched} match, {documented} documented deviations, {} failing", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
