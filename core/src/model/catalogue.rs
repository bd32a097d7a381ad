//! The events and the model's records as the bindings expose them: the one definition the
//! TypeScript (Node, browser) and Python declarations are generated from (`make decls`,
//! checked for drift by `tests/tests/decls.rs`).
//!
//! It is data written once rather than a schema derived from the types (`schemars`): the
//! bindings need what serde does not know (which generic accessors always answer, short docs
//! for users of other languages), and a derived schema would still need a pass to turn it
//! into this. Its tests (`catalogue_tests.rs`) hold it to the real types instead: a new
//! `Event` or enum variant fails to compile until it is listed, and every kind's JSON form
//! (what the gateway sends and the bindings convert) must have exactly the catalogue's keys
//! with values of its types.

/// The type of a field, as its JSON value has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Bool,
    Enum(&'static EnumDecl),
    Record(&'static RecordDecl),
    /// `null` when absent.
    Nullable(&'static Ty),
    List(&'static Ty),
    /// A two-element array.
    Pair(&'static Ty, &'static Ty),
    /// An enum left out of the JSON while it has its first (default) value.
    OmittedIfDefault(&'static EnumDecl),
}

/// An enum of the core, serialized as its snake_case words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumDecl {
    pub name: &'static str,
    pub doc: &'static str,
    pub values: &'static [&'static str],
}

/// A field of a record or event: its snake_case name (the JSON key), type and doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
}

/// A struct of the model (a party, a call, a device...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordDecl {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

/// The groups the bindings deliver events in (`'call'`, `'device'`... listeners).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Call,
    Device,
    Link,
    User,
}

/// The generic accessors of `Event` (`call()`, `device()`, `channel()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accessor {
    Call,
    Device,
    Channel,
}

/// One kind of [`Event`](super::Event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDecl {
    /// The JSON `event` tag.
    pub kind: &'static str,
    /// The Rust variant, and the Python class.
    pub name: &'static str,
    pub category: Category,
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// The generic accessors that answer for every event of this kind, so a binding can
    /// declare them non-optional there.
    pub always: &'static [Accessor],
}

const fn field(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, doc: "" }
}

const fn doc(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, doc }
}

const STR: Ty = Ty::Str;
const OPT_STR: Ty = Ty::Nullable(&Ty::Str);
const OPT_INT: Ty = Ty::Nullable(&Ty::Int);
const CONN: Ty = Ty::Enum(&CONNECTION_STATE);
const PARTY_TY: Ty = Ty::Record(&PARTY);
const ENDPOINT_TY: Ty = Ty::Record(&ENDPOINT);

pub const CONNECTION_STATE: EnumDecl = EnumDecl {
    name: "ConnectionState",
    doc: "A device's connection to a call (CSTA, ECMA-269).",
    values: &["null", "initiated", "alerting", "connected", "held", "queued", "failed"],
};
pub const DEVICE_STATE: EnumDecl = EnumDecl {
    name: "DeviceState",
    doc: "What a device is doing, as the PBX reports it.",
    values: &["idle", "in_use", "busy", "ringing", "ring_in_use", "on_hold", "unavailable", "unknown"],
};
pub const FAILURE_REASON: EnumDecl = EnumDecl {
    name: "FailureReason",
    doc: "Why a connection failed.",
    values: &["busy", "no_answer", "rejected", "unreachable", "congestion", "other"],
};
pub const TRANSFER_KIND: EnumDecl = EnumDecl {
    name: "TransferKind",
    doc: "How a transfer was made.",
    values: &["blind", "attended", "blonde"],
};
pub const DIVERT_REASON: EnumDecl = EnumDecl {
    name: "DivertReason",
    doc: "Why a call moved to another device without being answered there.",
    values: &["forward", "deflect", "pickup"],
};
pub const FORWARD_KIND: EnumDecl = EnumDecl {
    name: "ForwardKind",
    doc: "Which calls a forwarding applies to.",
    values: &["immediate", "busy", "no_answer"],
};
pub const PRESENTATION: EnumDecl = EnumDecl {
    name: "Presentation",
    doc: "Whether the caller lets the number be shown.",
    values: &["allowed", "restricted", "unavailable"],
};

/// The enums the records and events use, in the order the declarations list them.
pub const ENUMS: &[&EnumDecl] = &[
    &CONNECTION_STATE,
    &DEVICE_STATE,
    &FAILURE_REASON,
    &TRANSFER_KIND,
    &DIVERT_REASON,
    &FORWARD_KIND,
    &PRESENTATION,
];

pub const PARTY: RecordDecl = RecordDecl {
    name: "Party",
    doc: "A party's number and name as the PBX shows them.",
    fields: &[
        field("number", STR),
        field("name", STR),
        doc(
            "presentation",
            Ty::OmittedIfDefault(&PRESENTATION),
            "Present only when the number is not to be shown.",
        ),
    ],
};
pub const ENDPOINT: RecordDecl = RecordDecl {
    name: "Endpoint",
    doc: "One end of a connection: the device and the PBX channel that carries it.",
    fields: &[field("device", STR), field("channel", STR)],
};
pub const CONNECTION: RecordDecl = RecordDecl {
    name: "Connection",
    doc: "One device's part in one call.",
    fields: &[field("device", STR), field("channel", STR), field("state", CONN)],
};
pub const DIVERSION: RecordDecl = RecordDecl {
    name: "Diversion",
    doc: "Who a redirected call was meant for and why it moved.",
    fields: &[field("from", ENDPOINT_TY), field("reason", Ty::Enum(&DIVERT_REASON))],
};
pub const CALL: RecordDecl = RecordDecl {
    name: "Call",
    doc: "A call: its stable id, who called whom, and the connections of the devices in it.",
    fields: &[
        field("id", STR),
        field("calling_device", OPT_STR),
        field("caller", PARTY_TY),
        field("called", PARTY_TY),
        field("connections", Ty::List(&Ty::Record(&CONNECTION))),
        field("answered", Ty::Bool),
        field("diverted", Ty::Nullable(&Ty::Record(&DIVERSION))),
        field("click_to_dial", Ty::Bool),
    ],
};
pub const DEVICE: RecordDecl = RecordDecl {
    name: "Device",
    doc: "What the model knows about a device.",
    fields: &[
        field("id", STR),
        doc("interface", OPT_STR, "The PBX interface (`PJSIP/100`), once seen."),
        field("state", Ty::Enum(&DEVICE_STATE)),
        field("presence", OPT_STR),
        field("do_not_disturb", Ty::Bool),
        field("forward_to", OPT_STR),
        field("forward_busy", OPT_STR),
        field("forward_no_answer", OPT_STR),
    ],
};
pub const SNAPSHOT: RecordDecl = RecordDecl {
    name: "Snapshot",
    doc: "Devices and calls at one moment.",
    fields: &[field("devices", Ty::List(&Ty::Record(&DEVICE))), field("calls", Ty::List(&Ty::Record(&CALL)))],
};

/// The records, those the events use first.
pub const RECORDS: &[&RecordDecl] = &[&PARTY, &ENDPOINT, &CONNECTION, &DIVERSION, &CALL, &DEVICE, &SNAPSHOT];

const CALL_DEVICE_CHANNEL: &[Accessor] = &[Accessor::Call, Accessor::Device, Accessor::Channel];
const CONNECTION_FIELDS: [Field; 4] =
    [field("call", STR), field("device", STR), field("channel", STR), field("state", CONN)];
const PARTIES: [Field; 2] = [field("caller", PARTY_TY), field("called", PARTY_TY)];

/// `Delivered` and `Established` carry the same fields.
const RINGING_OR_ANSWERED: &[Field] = &[
    CONNECTION_FIELDS[0],
    CONNECTION_FIELDS[1],
    CONNECTION_FIELDS[2],
    CONNECTION_FIELDS[3],
    PARTIES[0],
    PARTIES[1],
    doc("calling_device", OPT_STR, "The device that placed the call, when it is a device of this PBX."),
    doc(
        "click_to_dial",
        Ty::Bool,
        "The user's own phone ringing for a click-to-dial, before the destination is dialed.",
    ),
];

/// Every kind of event, in the core's order.
pub const EVENTS: &[EventDecl] = &[
    EventDecl {
        kind: "originated",
        name: "Originated",
        category: Category::Call,
        doc: "The device made a call (for a click-to-dial: the user answered their own phone).",
        fields: &[
            CONNECTION_FIELDS[0],
            CONNECTION_FIELDS[1],
            CONNECTION_FIELDS[2],
            CONNECTION_FIELDS[3],
            PARTIES[0],
            PARTIES[1],
        ],
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "delivered",
        name: "Delivered",
        category: Category::Call,
        doc: "The call rings at `device`.",
        fields: RINGING_OR_ANSWERED,
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "established",
        name: "Established",
        category: Category::Call,
        doc: "`device` answered.",
        fields: RINGING_OR_ANSWERED,
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "held",
        name: "Held",
        category: Category::Call,
        doc: "`device` put the call on hold.",
        fields: &CONNECTION_FIELDS,
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "retrieved",
        name: "Retrieved",
        category: Category::Call,
        doc: "`device` took the call off hold.",
        fields: &CONNECTION_FIELDS,
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "diverted",
        name: "Diverted",
        category: Category::Call,
        doc: "The call left `from` without being answered there; it now rings at `device`.",
        fields: &[
            CONNECTION_FIELDS[0],
            CONNECTION_FIELDS[1],
            CONNECTION_FIELDS[2],
            field("from", ENDPOINT_TY),
            field("reason", Ty::Enum(&DIVERT_REASON)),
            PARTIES[0],
            PARTIES[1],
        ],
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "transferred",
        name: "Transferred",
        category: Category::Call,
        doc: "`transferring` handed the call to `targets`; `call` keeps its id.",
        fields: &[
            CONNECTION_FIELDS[0],
            field("kind", Ty::Enum(&TRANSFER_KIND)),
            field("transferring", ENDPOINT_TY),
            field("transferred", ENDPOINT_TY),
            field("targets", Ty::List(&ENDPOINT_TY)),
            doc(
                "secondary_call",
                OPT_STR,
                "The consultation call merged into this one (attended and blonde transfers).",
            ),
            PARTIES[0],
        ],
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "conferenced",
        name: "Conferenced",
        category: Category::Call,
        doc: "Three or more devices talk together.",
        fields: &[
            CONNECTION_FIELDS[0],
            CONNECTION_FIELDS[1],
            CONNECTION_FIELDS[2],
            CONNECTION_FIELDS[3],
            field("parties", Ty::List(&STR)),
        ],
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "queued",
        name: "Queued",
        category: Category::Call,
        doc: "The call waits in `queue`.",
        fields: &[
            CONNECTION_FIELDS[0],
            CONNECTION_FIELDS[1],
            field("queue", STR),
            CONNECTION_FIELDS[3],
            PARTIES[0],
            field("position", OPT_INT),
        ],
        // A queue's connection has no channel: the accessor answers `""`.
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "failed",
        name: "Failed",
        category: Category::Call,
        doc: "The call could not reach `device`.",
        fields: &[
            CONNECTION_FIELDS[0],
            CONNECTION_FIELDS[1],
            CONNECTION_FIELDS[2],
            CONNECTION_FIELDS[3],
            field("reason", Ty::Enum(&FAILURE_REASON)),
            doc("cause", OPT_INT, "Q.850 release cause."),
        ],
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "connection_cleared",
        name: "ConnectionCleared",
        category: Category::Call,
        doc: "`device` left the call.",
        fields: &[
            CONNECTION_FIELDS[0],
            CONNECTION_FIELDS[1],
            CONNECTION_FIELDS[2],
            CONNECTION_FIELDS[3],
            field("previous", CONN),
            field("cause", OPT_INT),
            doc(
                "released_by",
                OPT_STR,
                "The device whose hang-up ended the talk, when the PBX said (this device, or the other party).",
            ),
        ],
        always: CALL_DEVICE_CHANNEL,
    },
    EventDecl {
        kind: "call_cleared",
        name: "CallCleared",
        category: Category::Call,
        doc: "The call ended; it and its connections are gone.",
        fields: &[
            CONNECTION_FIELDS[0],
            field("cause", OPT_INT),
            field("answered", Ty::Bool),
            doc("merged_into", OPT_STR, "Set when a transfer merged this call into another."),
        ],
        always: &[Accessor::Call],
    },
    EventDecl {
        kind: "device_state",
        name: "DeviceState",
        category: Category::Device,
        doc: "A device's state changed.",
        fields: &[field("device", STR), field("state", Ty::Enum(&DEVICE_STATE)), field("previous", Ty::Enum(&DEVICE_STATE))],
        always: &[Accessor::Device],
    },
    EventDecl {
        kind: "device_removed",
        name: "DeviceRemoved",
        category: Category::Device,
        doc: "The PBX no longer has `device`: a resync found it in none of the PBX's lists (a restart\n\
              or reload with other extensions). Comes before `resynced`; forget the device.",
        fields: &[field("device", STR)],
        always: &[Accessor::Device],
    },
    EventDecl {
        kind: "presence",
        name: "Presence",
        category: Category::Device,
        doc: "A device's presence changed (available, away, dnd...).",
        fields: &[field("device", STR), field("presence", STR), field("subtype", STR), field("message", STR)],
        always: &[Accessor::Device],
    },
    EventDecl {
        kind: "do_not_disturb",
        name: "DoNotDisturb",
        category: Category::Device,
        doc: "Do-not-disturb was turned on or off at `device`.",
        fields: &[field("device", STR), field("enabled", Ty::Bool)],
        always: &[Accessor::Device],
    },
    EventDecl {
        kind: "forwarding",
        name: "Forwarding",
        category: Category::Device,
        doc: "Forwarding of `kind` changed: on to `to`, or off (`null`).",
        fields: &[field("device", STR), field("kind", Ty::Enum(&FORWARD_KIND)), field("to", OPT_STR)],
        always: &[Accessor::Device],
    },
    EventDecl {
        kind: "user_event",
        name: "UserEvent",
        category: Category::User,
        doc: "An AMI `UserEvent` from the dialplan, passed through.",
        fields: &[
            field("name", STR),
            field("call", OPT_STR),
            doc("fields", Ty::List(&Ty::Pair(&STR, &STR)), "`[name, value]` pairs in the PBX's order (names may repeat)."),
        ],
        always: &[],
    },
    EventDecl {
        kind: "resynced",
        name: "Resynced",
        category: Category::Link,
        doc: "The model was rebuilt from the PBX's lists (after connect and every reconnect).",
        fields: &[
            field("calls_ended", Ty::List(&STR)),
            field("calls_found", Ty::List(&STR)),
            field("devices_changed", Ty::List(&STR)),
        ],
        always: &[],
    },
    EventDecl {
        kind: "link_up",
        name: "LinkUp",
        category: Category::Link,
        doc: "The link to the PBX is up (again).",
        fields: &[field("reconnected", Ty::Bool)],
        always: &[],
    },
    EventDecl {
        kind: "link_down",
        name: "LinkDown",
        category: Category::Link,
        doc: "The link is down; it reconnects, then `resynced` brings the model up to date.",
        fields: &[field("reason", STR)],
        always: &[],
    },
    EventDecl {
        kind: "lagged",
        name: "Lagged",
        category: Category::Link,
        doc: "This consumer fell behind and `missed` events were dropped; ask for a snapshot.",
        fields: &[field("missed", Ty::Int)],
        always: &[],
    },
];

#[cfg(test)]
#[path = "catalogue_tests.rs"]
mod tests;
