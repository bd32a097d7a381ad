//! The Python stub of the event classes (`ctilink.events`): snake_case properties of frozen
//! classes, sequences as tuples, enums as the `ctilink._enums` classes (what
//! `bindings-python/src/events.rs` delivers; mypy's stubtest holds the stub to it); and those
//! enums themselves, whose members the extension looks up by value.

use std::fmt::Write as _;

use ctilink::model::catalogue::{Accessor, EventDecl, Field, Ty, ENUMS, EVENTS};

use super::snake;

/// The generated part of `_native.pyi`: one subclass of the hand-written `Event` per kind.
pub(super) fn event_classes() -> String {
    let mut out = String::new();
    for (i, e) in EVENTS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        push_class(&mut out, e);
    }
    out
}

fn push_class(out: &mut String, e: &EventDecl) {
    let _ = writeln!(out, "@final\nclass {}(Event):", e.name);
    // The base class's `call`, `device` and `channel` answer `Optional[str]`; where they
    // always answer, the subclass narrows them.
    for (accessor, name) in
        [(Accessor::Call, "call"), (Accessor::Device, "device"), (Accessor::Channel, "channel")]
    {
        if e.always.contains(&accessor) {
            push_property(out, name, "str");
        }
    }
    let own: Vec<&Field> =
        e.fields.iter().filter(|f| !matches!(f.name, "call" | "device" | "channel")).collect();
    for f in &own {
        push_property(out, &name(f), &ty(&f.ty));
    }
    if own.is_empty() && e.always.is_empty() {
        out.push_str("    pass\n");
    }
}

fn push_property(out: &mut String, name: &str, ty: &str) {
    let _ = writeln!(out, "    @property\n    def {name}(self) -> {ty}: ...");
}

/// The Python name of a field: a keyword takes a trailing `_` (`from_`), and `kind` is
/// named for its enum (`transfer_kind`) because every event's `kind` is its `EventKind`.
fn name(f: &Field) -> String {
    const KEYWORDS: &[&str] = &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
        "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
        "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ];
    match (f.name, f.ty) {
        ("kind", Ty::Enum(e)) => snake(e.name),
        (n, _) if KEYWORDS.contains(&n) => format!("{n}_"),
        (n, _) => n.to_owned(),
    }
}

fn ty(t: &Ty) -> String {
    match t {
        Ty::Str => "str".to_owned(),
        Ty::Int => "int".to_owned(),
        Ty::Bool => "bool".to_owned(),
        // An enum named as an event class is imported under another name (`DeviceState`).
        Ty::Enum(e) | Ty::OmittedIfDefault(e) if EVENTS.iter().any(|ev| ev.name == e.name) => {
            format!("_{}Enum", e.name)
        }
        Ty::Enum(e) | Ty::OmittedIfDefault(e) => e.name.to_owned(),
        Ty::Record(r) => r.name.to_owned(),
        Ty::Nullable(t) => format!("Optional[{}]", ty(t)),
        Ty::List(item) => format!("tuple[{}, ...]", ty(item)),
        Ty::Pair(a, b) => format!("tuple[{}, {}]", ty(a), ty(b)),
    }
}

/// The generated part of `_enums.py`: `EventKind` and the core's enums, members named for
/// their values (`NO_ANSWER = "no_answer"`).
pub(super) fn enums() -> String {
    let kinds: Vec<&str> = EVENTS.iter().map(|e| e.kind).collect();
    let mut out = String::new();
    push_enum(&mut out, "EventKind", "The kind of an event, one per class of ``ctilink.events``.", &kinds);
    for e in ENUMS {
        out.push_str("\n\n");
        push_enum(&mut out, e.name, &e.doc.replace('`', "``"), e.values);
    }
    out
}

fn push_enum(out: &mut String, name: &str, doc: &str, values: &[&str]) {
    let _ = writeln!(out, "class {name}(_StrEnum):\n    \"\"\"{doc}\"\"\"\n");
    for v in values {
        let _ = writeln!(out, "    {} = \"{v}\"", v.to_ascii_uppercase());
    }
}
