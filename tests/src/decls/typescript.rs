//! The TypeScript declarations (Node binding and browser library): keys in camelCase, as
//! `bindings-node/src/json.rs` and `bindings-web/index.js` rename them; values are the
//! core's words.

use std::fmt::Write as _;

use ctilink::model::catalogue::{Category, EventDecl, Field, RecordDecl, Ty, ENUMS, EVENTS, RECORDS};

use super::camel;

/// Past this width a union goes one member a line (the longest one-line union written by
/// hand was 112 wide).
const UNION_WIDTH: usize = 112;

/// Past this width a doc comment becomes a block.
const DOC_WIDTH: usize = 120;

const RULE: &str =
    "// ---------------------------------------------------------------------------------------\n";

/// The generated part of `index.d.ts`: the vocabulary, the events and the model.
pub(super) fn declarations() -> String {
    let mut out = String::new();
    out.push_str(RULE);
    out.push_str(
        "// The call model's vocabulary (core/src/model): values are the core's snake_case words.\n",
    );
    for e in ENUMS {
        let words: Vec<String> = e.values.iter().map(|v| format!("'{v}'")).collect();
        out.push('\n');
        push_doc(&mut out, "", e.doc);
        push_union(&mut out, e.name, &words);
    }
    // The records the events carry come before the events; the others make the model.
    let (carried, model): (Vec<&RecordDecl>, Vec<&RecordDecl>) =
        RECORDS.iter().copied().partition(|r| EVENTS.iter().any(|e| e.fields.iter().any(|f| uses(&f.ty, r))));
    for r in carried {
        push_record(&mut out, r);
    }
    out.push('\n');
    out.push_str(RULE);
    out.push_str("// Events (core/src/model/event.rs). `event` is the kind; `call` a call's stable id.\n");
    for e in EVENTS {
        push_event(&mut out, e);
    }
    let categories =
        [(Category::Call, "CallEvent"), (Category::Device, "DeviceEvent"), (Category::Link, "LinkEvent")];
    let mut all = Vec::new();
    for (category, name) in categories {
        let members: Vec<String> = EVENTS.iter().filter(|e| e.category == category).map(event_name).collect();
        out.push('\n');
        push_union(&mut out, name, &members);
        all.push(name.to_owned());
    }
    // A category of one event is that event's interface itself (`UserEvent`).
    all.extend(EVENTS.iter().filter(|e| e.category == Category::User).map(event_name));
    out.push('\n');
    push_doc(&mut out, "", "Every event a session delivers. Narrow on `event`.");
    push_union(&mut out, "Event", &all);
    out.push('\n');
    push_doc(&mut out, "", "The kind of each event, as in `event.event`.");
    out.push_str("export type EventKind = Event['event']\n");
    out.push('\n');
    out.push_str(RULE);
    out.push_str("// The model (snapshot).\n");
    for r in model {
        push_record(&mut out, r);
    }
    out
}

/// `OriginatedEvent`; `UserEvent` already says it is one.
fn event_name(e: &EventDecl) -> String {
    if e.name.ends_with("Event") {
        e.name.to_owned()
    } else {
        format!("{}Event", e.name)
    }
}

fn uses(ty: &Ty, record: &RecordDecl) -> bool {
    match ty {
        Ty::Record(r) => r.name == record.name || r.fields.iter().any(|f| uses(&f.ty, record)),
        Ty::Nullable(t) | Ty::List(t) => uses(t, record),
        Ty::Pair(a, b) => uses(a, record) || uses(b, record),
        _ => false,
    }
}

fn ty(t: &Ty) -> String {
    match t {
        Ty::Str => "string".to_owned(),
        Ty::Int => "number".to_owned(),
        Ty::Bool => "boolean".to_owned(),
        Ty::Enum(e) | Ty::OmittedIfDefault(e) => e.name.to_owned(),
        Ty::Record(r) => r.name.to_owned(),
        Ty::Nullable(t) => format!("{} | null", ty(t)),
        Ty::List(item) => match item {
            Ty::Str | Ty::Int | Ty::Bool | Ty::Enum(_) | Ty::Record(_) => format!("{}[]", ty(item)),
            _ => format!("Array<{}>", ty(item)),
        },
        Ty::Pair(a, b) => format!("[{}, {}]", ty(a), ty(b)),
    }
}

fn push_field(out: &mut String, f: &Field) {
    push_doc(out, "  ", f.doc);
    let name = camel(f.name);
    match f.ty {
        // Left out while default: the other words, as an optional key.
        Ty::OmittedIfDefault(e) => {
            let words: Vec<String> = e.values[1..].iter().map(|v| format!("'{v}'")).collect();
            let _ = writeln!(out, "  {name}?: {}", words.join(" | "));
        }
        t => {
            let _ = writeln!(out, "  {name}: {}", ty(&t));
        }
    }
}

fn push_record(out: &mut String, r: &RecordDecl) {
    out.push('\n');
    push_doc(out, "", r.doc);
    let _ = writeln!(out, "export interface {} {{", r.name);
    r.fields.iter().for_each(|f| push_field(out, f));
    out.push_str("}\n");
}

fn push_event(out: &mut String, e: &EventDecl) {
    out.push('\n');
    push_doc(out, "", e.doc);
    let _ = writeln!(out, "export interface {} {{", event_name(e));
    let _ = writeln!(out, "  event: '{}'", e.kind);
    e.fields.iter().for_each(|f| push_field(out, f));
    out.push_str("}\n");
}

fn push_union(out: &mut String, name: &str, members: &[String]) {
    let line = format!("export type {name} = {}", members.join(" | "));
    if line.len() <= UNION_WIDTH {
        out.push_str(&line);
        out.push('\n');
    } else {
        let _ = writeln!(out, "export type {name} =");
        members.iter().for_each(|m| {
            let _ = writeln!(out, "  | {m}");
        });
    }
}

/// A JSDoc comment: one line when it fits, else a block; nothing for no doc.
fn push_doc(out: &mut String, indent: &str, doc: &str) {
    if doc.is_empty() {
        return;
    }
    let one = format!("{indent}/** {doc} */");
    if !doc.contains('\n') && one.len() <= DOC_WIDTH {
        out.push_str(&one);
        out.push('\n');
        return;
    }
    let _ = writeln!(out, "{indent}/**");
    doc.lines().for_each(|l| {
        let _ = writeln!(out, "{indent} * {}", l.trim());
    });
    let _ = writeln!(out, "{indent} */");
}

/// The generated part of the Node binding's and the browser library's `index.js`: which
/// listener category each event kind is also emitted as (besides `'event'`), so that a new
/// kind reaches its listeners in both without a hand edit.
pub(super) fn categories() -> String {
    let mut out = String::from(
        "/** Which EventEmitter event each core event kind is emitted as (besides 'event'). */\n\
         const CATEGORY = Object.freeze({\n",
    );
    for e in EVENTS {
        let category = match e.category {
            Category::Call => "call",
            Category::Device => "device",
            Category::Link => "link",
            Category::User => "user",
        };
        let _ = writeln!(out, "  {}: '{category}',", e.kind);
    }
    out.push_str("})\n");
    out
}
