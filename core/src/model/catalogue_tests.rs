//! The catalogue against the real types: their serde JSON (what the gateway sends and the
//! bindings convert) and the generic accessors.

use serde_json::{Map, Value};

use super::*;
use crate::model::{
    Call, CallId, Cause, Connection, ConnectionState as CS, Device, DeviceId, DeviceState as DS, Diversion,
    DivertReason, Endpoint, Event, FailureReason, ForwardKind, Party, Presentation, Snapshot, TransferKind,
};

/// Fails to compile when `Event` gains a variant: add it to `EVENTS` and to `samples`.
fn catalogued(ev: &Event) -> &'static str {
    match ev {
        Event::Originated { .. } => "originated",
        Event::Delivered { .. } => "delivered",
        Event::Established { .. } => "established",
        Event::Held { .. } => "held",
        Event::Retrieved { .. } => "retrieved",
        Event::Diverted { .. } => "diverted",
        Event::Transferred { .. } => "transferred",
        Event::Conferenced { .. } => "conferenced",
        Event::Queued { .. } => "queued",
        Event::Failed { .. } => "failed",
        Event::ConnectionCleared { .. } => "connection_cleared",
        Event::CallCleared { .. } => "call_cleared",
        Event::DeviceState { .. } => "device_state",
        Event::DeviceRemoved { .. } => "device_removed",
        Event::Presence { .. } => "presence",
        Event::DoNotDisturb { .. } => "do_not_disturb",
        Event::Forwarding { .. } => "forwarding",
        Event::UserEvent { .. } => "user_event",
        Event::Resynced { .. } => "resynced",
        Event::LinkUp { .. } => "link_up",
        Event::LinkDown { .. } => "link_down",
        Event::Lagged { .. } => "lagged",
    }
}

fn ep(device: &str) -> Endpoint {
    Endpoint { device: device.into(), channel: format!("PJSIP/{device}-00000001") }
}

fn withheld() -> Party {
    Party { number: "0301234".into(), name: "".into(), presentation: Presentation::Restricted }
}

/// One event of every kind, optional fields set so that their inner types are checked.
fn samples() -> Vec<Event> {
    let c = CallId::new("1700000000.1");
    let d: DeviceId = "100".into();
    let ch = "PJSIP/100-00000001".to_owned();
    let (caller, called) = (withheld(), Party::new("101", "Bob"));
    vec![
        Event::Originated {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            state: CS::Connected,
            caller: caller.clone(),
            called: called.clone(),
        },
        Event::Delivered {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            state: CS::Alerting,
            caller: caller.clone(),
            called: called.clone(),
            calling_device: Some("101".into()),
            click_to_dial: false,
        },
        Event::Established {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            state: CS::Connected,
            caller: caller.clone(),
            called: called.clone(),
            calling_device: Some("101".into()),
            click_to_dial: true,
        },
        Event::Held { call: c.clone(), device: d.clone(), channel: ch.clone(), state: CS::Held },
        Event::Retrieved { call: c.clone(), device: d.clone(), channel: ch.clone(), state: CS::Connected },
        Event::Diverted {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            from: ep("102"),
            reason: DivertReason::Pickup,
            caller: caller.clone(),
            called: called.clone(),
        },
        Event::Transferred {
            call: c.clone(),
            kind: TransferKind::Attended,
            transferring: ep("100"),
            transferred: ep("101"),
            targets: vec![ep("102"), ep("103")],
            secondary_call: Some(CallId::new("1700000000.7")),
            caller: caller.clone(),
        },
        Event::Conferenced {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            state: CS::Connected,
            parties: vec!["100".into(), "101".into(), "102".into()],
        },
        Event::Queued {
            call: c.clone(),
            device: d.clone(),
            queue: "support".into(),
            state: CS::Queued,
            caller: caller.clone(),
            position: Some(2),
        },
        Event::Failed {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            state: CS::Failed,
            reason: FailureReason::Busy,
            cause: Some(Cause::USER_BUSY),
        },
        Event::ConnectionCleared {
            call: c.clone(),
            device: d.clone(),
            channel: ch.clone(),
            state: CS::Null,
            previous: CS::Connected,
            cause: Some(Cause::NORMAL_CLEARING),
            released_by: Some("101".into()),
        },
        Event::CallCleared {
            call: c.clone(),
            cause: Some(Cause::NORMAL_CLEARING),
            answered: true,
            merged_into: Some(CallId::new("1700000000.9")),
        },
        Event::DeviceState { device: d.clone(), state: DS::RingInUse, previous: DS::InUse },
        Event::DeviceRemoved { device: "199".into() },
        Event::Presence {
            device: d.clone(),
            presence: "away".into(),
            subtype: "".into(),
            message: "lunch".into(),
        },
        Event::DoNotDisturb { device: d.clone(), enabled: true },
        Event::Forwarding { device: d.clone(), kind: ForwardKind::NoAnswer, to: Some("200".into()) },
        Event::UserEvent {
            name: "Crm".into(),
            call: Some(c.clone()),
            fields: vec![("Ticket".into(), "42".into()), ("Ticket".into(), "43".into())],
        },
        Event::Resynced {
            calls_ended: vec![c.clone()],
            calls_found: vec![],
            devices_changed: vec![d.clone()],
        },
        Event::LinkUp { reconnected: true },
        Event::LinkDown { reason: "connection reset".into() },
        Event::Lagged { missed: 7 },
    ]
}

/// `Ok` when `v` is a JSON value of type `ty`; else where and why not.
fn check(ty: &Ty, v: &Value, at: &str) -> Result<(), String> {
    let wrong = || Err(format!("{at}: {v} is not {ty:?}"));
    match (ty, v) {
        (Ty::Str, Value::String(_)) | (Ty::Bool, Value::Bool(_)) => Ok(()),
        (Ty::Int, Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(()),
        (Ty::Enum(e) | Ty::OmittedIfDefault(e), Value::String(s)) if e.values.contains(&s.as_str()) => Ok(()),
        (Ty::Record(r), Value::Object(map)) => check_fields(r.fields, map, at),
        (Ty::Nullable(_), Value::Null) => Ok(()),
        (Ty::Nullable(inner), v) => check(inner, v, at),
        (Ty::List(item), Value::Array(items)) => {
            items.iter().enumerate().try_for_each(|(i, v)| check(item, v, &format!("{at}[{i}]")))
        }
        (Ty::Pair(a, b), Value::Array(items)) if items.len() == 2 => {
            check(a, &items[0], &format!("{at}[0]"))?;
            check(b, &items[1], &format!("{at}[1]"))
        }
        _ => wrong(),
    }
}

/// The object has exactly the fields (those left out while default may be missing).
fn check_fields(fields: &[Field], map: &Map<String, Value>, at: &str) -> Result<(), String> {
    for f in fields {
        match map.get(f.name) {
            Some(v) => check(&f.ty, v, &format!("{at}.{}", f.name))?,
            None if matches!(f.ty, Ty::OmittedIfDefault(_)) => {}
            None => return Err(format!("{at}: no key {:?} in {map:?}", f.name)),
        }
    }
    match map.keys().find(|k| !fields.iter().any(|f| f.name == k.as_str())) {
        Some(k) => Err(format!("{at}: key {k:?} is not in the catalogue")),
        None => Ok(()),
    }
}

fn decl(kind: &str) -> &'static EventDecl {
    EVENTS.iter().find(|e| e.kind == kind).unwrap_or_else(|| panic!("{kind} is not in the catalogue"))
}

#[test]
fn every_kind_is_catalogued_once_and_sampled() {
    let sampled: Vec<&str> = samples().iter().map(catalogued).collect();
    let listed: Vec<&str> = EVENTS.iter().map(|e| e.kind).collect();
    assert_eq!(sampled, listed, "the catalogue lists the kinds in the core's order, each once");
    for ev in samples() {
        assert_eq!(ev.kind(), catalogued(&ev));
        assert_eq!(decl(ev.kind()).name, format!("{ev:?}").split([' ', '{']).next().expect("a variant name"));
    }
}

#[test]
fn every_event_serializes_to_the_catalogued_fields() {
    for ev in samples() {
        let d = decl(ev.kind());
        let Value::Object(mut map) = serde_json::to_value(&ev).expect("an event serializes") else {
            panic!("{} is not an object", d.kind)
        };
        assert_eq!(map.remove("event"), Some(Value::String(d.kind.to_owned())));
        check_fields(d.fields, &map, d.name).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_generic_accessors_answer_where_the_catalogue_says_always() {
    for ev in samples() {
        let d = decl(ev.kind());
        let answers = [
            (Accessor::Call, "call", ev.call().is_some()),
            (Accessor::Device, "device", ev.device().is_some()),
            (Accessor::Channel, "channel", ev.channel().is_some()),
        ];
        for (accessor, name, answered) in answers {
            // Where it is not always answered, it answers only from an optional field.
            let optional = d.fields.iter().any(|f| f.name == name && matches!(f.ty, Ty::Nullable(_)));
            assert!(
                answered == d.always.contains(&accessor) || (answered && optional),
                "{}.{name}() answers {answered}, the catalogue says always: {:?}",
                d.name,
                d.always
            );
        }
    }
}

#[test]
fn the_model_serializes_to_the_catalogued_records() {
    let call = Call {
        id: CallId::new("1700000000.1"),
        calling_device: Some("100".into()),
        caller: withheld(),
        called: Party::new("101", "Bob"),
        connections: vec![Connection {
            device: "101".into(),
            channel: "PJSIP/101-2".into(),
            state: CS::Alerting,
        }],
        answered: false,
        diverted: Some(Diversion { from: ep("102"), reason: DivertReason::Forward }),
        click_to_dial: false,
    };
    let device = Device {
        id: "100".into(),
        interface: Some("PJSIP/100".into()),
        state: DS::Idle,
        presence: Some("available".into()),
        do_not_disturb: false,
        forward_to: Some("200".into()),
        forward_busy: Some("201".into()),
        forward_no_answer: Some("202".into()),
    };
    let snapshot = Snapshot { devices: vec![device], calls: vec![call] };
    let v = serde_json::to_value(&snapshot).expect("a snapshot serializes");
    check(&Ty::Record(&SNAPSHOT), &v, "Snapshot").unwrap_or_else(|e| panic!("{e}"));
    // The presentation is left out when allowed, and only then.
    let plain = serde_json::to_value(Party::new("100", "Alice")).expect("a party serializes");
    assert_eq!(plain.as_object().map(|m| m.len()), Some(2));
    check(&Ty::Record(&PARTY), &plain, "Party").unwrap_or_else(|e| panic!("{e}"));
}

/// Each enum's words are exactly its variants' JSON forms, in declaration order.
macro_rules! words {
    ($ty:ty: $($v:ident),+) => {{
        // Fails to compile when the enum gains a variant.
        fn _exhaustive(x: $ty) {
            match x {
                $(<$ty>::$v)|+ => {}
            }
        }
        let words: Vec<String> = [$(<$ty>::$v),+]
            .iter()
            .map(|v| serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).expect("a word"))
            .collect();
        words
    }};
}

#[test]
fn the_enums_have_exactly_the_catalogued_words() {
    let cases: [(&EnumDecl, Vec<String>); 7] = [
        (&CONNECTION_STATE, words!(CS: Null, Initiated, Alerting, Connected, Held, Queued, Failed)),
        (&DEVICE_STATE, words!(DS: Idle, InUse, Busy, Ringing, RingInUse, OnHold, Unavailable, Unknown)),
        (&FAILURE_REASON, words!(FailureReason: Busy, NoAnswer, Rejected, Unreachable, Congestion, Other)),
        (&TRANSFER_KIND, words!(TransferKind: Blind, Attended, Blonde)),
        (&DIVERT_REASON, words!(DivertReason: Forward, Deflect, Pickup)),
        (&FORWARD_KIND, words!(ForwardKind: Immediate, Busy, NoAnswer)),
        (&PRESENTATION, words!(Presentation: Allowed, Restricted, Unavailable)),
    ];
    for (decl, words) in cases {
        assert_eq!(decl.values, words.iter().map(String::as_str).collect::<Vec<_>>(), "{}", decl.name);
    }
    assert_eq!(Presentation::default(), Presentation::Allowed, "OmittedIfDefault takes the first word");
}

#[test]
fn every_enum_and_record_a_field_uses_is_listed() {
    fn walk(ty: &Ty, enums: &mut Vec<&'static str>, records: &mut Vec<&'static str>) {
        match ty {
            Ty::Enum(e) | Ty::OmittedIfDefault(e) => enums.push(e.name),
            Ty::Record(r) => records.push(r.name),
            Ty::Nullable(t) | Ty::List(t) => walk(t, enums, records),
            Ty::Pair(a, b) => {
                walk(a, enums, records);
                walk(b, enums, records);
            }
            _ => {}
        }
    }
    let (mut enums, mut records) = (Vec::new(), Vec::new());
    let fields = EVENTS.iter().flat_map(|e| e.fields).chain(RECORDS.iter().flat_map(|r| r.fields));
    for f in fields {
        walk(&f.ty, &mut enums, &mut records);
    }
    for name in enums {
        assert!(ENUMS.iter().any(|e| e.name == name), "{name} is used but not in ENUMS");
    }
    for name in records {
        assert!(RECORDS.iter().any(|r| r.name == name), "{name} is used but not in RECORDS");
    }
}
