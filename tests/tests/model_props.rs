//! Property tests of the call model: the normalized events keep the contract documented in
//! `core/src/model/event.rs` and `docs/call-model.md` ("Guarantees") whatever order, loss or
//! duplication the AMI input has, and a tracker whose channels have all hung up holds nothing.
//!
//! [`EventChecker`] is that contract as code: feed it every event a tracker reports and it
//! names the first rule broken and the index of the event. [`Harness`] runs AMI messages
//! through a tracker and the checker and adds the rules that need the tracker itself (a
//! cleared call is no longer listed; once every channel has hung up nothing is left).
//!
//! A failing property panics with a reproduction: proptest's minimal input, then that
//! input's AMI messages cut down further to the fewest that still break the same rule, each
//! with the events it produced. `PROPTEST_CASES` raises the number of cases.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, OnceLock};

use ctilink::ami::{read_capture, Message};
use ctilink::model::{CallId, ConnectionState, DeviceId, Event, Tracker};
use ctilink_tests::vector_files;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

// ---------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------

/// A rule of the event contract (or of the tracker's bookkeeping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    FirstEvent,
    AfterCallCleared,
    Transition,
    StateOfKind,
    ClearedPrevious,
    ClearedCallListed,
    CallsAfterHangup,
    ChannelsAfterHangup,
    Panic,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::FirstEvent => {
                "first-event: a call's first event is Originated, Delivered, Queued, Failed or Transferred"
            }
            Rule::AfterCallCleared => {
                "after-call-cleared: CallCleared is the last event of a call (until the id starts a new call)"
            }
            Rule::Transition => "transition: a connection moves only along ConnectionState::can_become",
            Rule::StateOfKind => "state-of-kind: an event reports the connection state its kind implies",
            Rule::ClearedPrevious => {
                "cleared-previous: ConnectionCleared.previous is the connection's last reported state"
            }
            Rule::ClearedCallListed => {
                "cleared-call-listed: after CallCleared, tracker.calls() omits the call"
            }
            Rule::CallsAfterHangup => {
                "calls-after-hangup: once every non-Local channel hung up, no call is open"
            }
            Rule::ChannelsAfterHangup => {
                "channels-after-hangup: once every channel hung up, the tracker holds no channel"
            }
            Rule::Panic => "no-panic: Tracker::apply never panics",
        })
    }
}

/// A rule broken by the event at `index` (counted from 0 over every event checked).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Violation {
    index: usize,
    rule: Rule,
    detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event #{}: {} -- {}", self.index, self.rule, self.detail)
    }
}

/// Checks a stream of normalized events against the contract of `event.rs`:
/// - a call's first event is `Originated`, `Delivered`, `Queued`, `Failed` or `Transferred`,
///   and nothing of a call comes before it;
/// - `CallCleared` is a call's last event: after it the id reports nothing, unless it starts
///   again with a valid first event (a new call);
/// - per connection (call, device, channel: a trunk can carry two legs of one call), the
///   connection state moves only along
///   [`ConnectionState::can_become`], starting from `Null`; `Conferenced` may repeat the
///   current state; `ConnectionCleared` removes the connection (and its `previous` is the
///   state last reported);
/// - each state-reporting event carries the state its kind implies (`Delivered` is
///   `Alerting`, `Held` is `Held`...);
/// - `Transferred` moves each target's connection of `secondary_call` into `call`, keeping its
///   state; `CallCleared` drops the call's connections.
///
/// A `UserEvent` that names a call must name an open one; events that name no call (device
/// state, presence...) are not checked.
#[derive(Debug, Default)]
struct EventChecker {
    seen: usize,
    /// Open calls and their connections.
    calls: HashMap<CallId, HashMap<(DeviceId, String), ConnectionState>>,
    /// Calls whose last event was `CallCleared`.
    cleared: HashSet<CallId>,
}

/// The state an event of this kind must report, where the kind fixes it.
fn state_of_kind(ev: &Event) -> Option<ConnectionState> {
    use ConnectionState::*;
    Some(match ev {
        Event::Originated { .. } | Event::Established { .. } | Event::Retrieved { .. } => Connected,
        Event::Delivered { .. } => Alerting,
        Event::Held { .. } => Held,
        Event::Queued { .. } => Queued,
        Event::Failed { .. } => Failed,
        Event::ConnectionCleared { .. } => Null,
        _ => return None,
    })
}

impl EventChecker {
    fn violation(index: usize, rule: Rule, detail: String) -> Result<(), Violation> {
        Err(Violation { index, rule, detail })
    }

    /// Checks the next event.
    fn push(&mut self, ev: &Event) -> Result<(), Violation> {
        let index = self.seen;
        self.seen += 1;
        let Some(call) = ev.call() else { return Ok(()) };
        if !self.calls.contains_key(call) {
            let starts = matches!(
                ev,
                Event::Originated { .. }
                    | Event::Delivered { .. }
                    | Event::Queued { .. }
                    | Event::Failed { .. }
                    | Event::Transferred { .. }
            );
            if !starts {
                let rule =
                    if self.cleared.contains(call) { Rule::AfterCallCleared } else { Rule::FirstEvent };
                return Self::violation(index, rule, format!("call {call} is not open: {}", brief(ev)));
            }
            self.cleared.remove(call);
            self.calls.insert(call.clone(), HashMap::new());
        }
        match ev {
            Event::CallCleared { call, .. } => {
                self.calls.remove(call);
                self.cleared.insert(call.clone());
            }
            Event::Transferred { call, targets, secondary_call: Some(secondary), .. }
                if secondary != call =>
            {
                for t in targets.iter().filter(|t| !t.channel.is_empty()) {
                    let key = (t.device.clone(), t.channel.clone());
                    let moved = self.calls.get_mut(secondary).and_then(|c| c.remove(&key));
                    if let (Some(state), Some(conns)) = (moved, self.calls.get_mut(call)) {
                        conns.insert(key, state);
                    }
                }
            }
            _ => {
                let (Some(device), Some(to)) = (ev.device(), ev.connection_state()) else { return Ok(()) };
                if let Some(expected) = state_of_kind(ev) {
                    if to != expected {
                        return Self::violation(
                            index,
                            Rule::StateOfKind,
                            format!("{} reports {to:?}, expected {expected:?}", ev.kind()),
                        );
                    }
                }
                let Some(conns) = self.calls.get_mut(call) else { return Ok(()) };
                let conn = (device.clone(), ev.channel().unwrap_or("").to_owned());
                let from = conns.get(&conn).copied().unwrap_or(ConnectionState::Null);
                if matches!(ev, Event::Conferenced { .. }) && from == to {
                    return Ok(());
                }
                if !from.can_become(to) {
                    return Self::violation(
                        index,
                        Rule::Transition,
                        format!("call {call} device {device}: {from:?} -> {to:?} by {}", brief(ev)),
                    );
                }
                if let Event::ConnectionCleared { previous, .. } = ev {
                    if *previous != from {
                        return Self::violation(
                            index,
                            Rule::ClearedPrevious,
                            format!(
                                "call {call} device {device}: previous {previous:?}, last reported {from:?}"
                            ),
                        );
                    }
                }
                if to == ConnectionState::Null {
                    conns.remove(&conn);
                } else {
                    conns.insert(conn, to);
                }
            }
        }
        Ok(())
    }
}

/// An event as one line of JSON (the format of `ctilink replay --json`).
fn brief(ev: &Event) -> String {
    serde_json::to_string(ev).unwrap_or_else(|_| format!("{ev:?}"))
}

// ---------------------------------------------------------------------------------------
// Which channels the input opened and hung up
// ---------------------------------------------------------------------------------------

/// Follows the channels an AMI stream names, to know when all of them have hung up.
///
/// A channel is named by any `<Prefix>Uniqueid` field (`Uniqueid`, `DestUniqueid`,
/// `TransfereeUniqueid`, `Uniqueid1`, `SrcUniqueID`...; bridge ids excepted) and is pending
/// from then until a `Hangup` with its `Uniqueid`; a later mention makes it pending again.
/// It counts as a Local channel only when every name seen for it is `Local/...`.
#[derive(Debug, Default)]
struct ChannelMirror {
    /// Keys in first-seen order.
    order: Vec<String>,
    /// Key to (a name seen for it, whether every name seen was Local).
    info: HashMap<String, (Option<String>, bool)>,
    pending: HashSet<String>,
    /// A channel-creating event named a channel without its uniqueid, or a Hangup named
    /// only the channel: the tracker resolves those by name, which this mirror does not
    /// follow, so it no longer knows for sure when everything has hung up.
    by_name: bool,
}

/// Events the tracker creates a channel from (`touch`).
const CREATING: &[&str] = &["Newchannel", "Newstate", "DialBegin", "BridgeEnter", "LocalBridge"];

fn is_local_name(name: &str) -> bool {
    name.starts_with("Local/") || name.starts_with("local/")
}

fn value(msg: &Message, key: &str) -> Option<String> {
    msg.get_lossy(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn event_is(msg: &Message, names: &[&str]) -> bool {
    msg.event().map(str::trim).is_some_and(|e| names.iter().any(|n| n.eq_ignore_ascii_case(e)))
}

impl ChannelMirror {
    fn note(&mut self, key: &str, name: Option<String>) {
        if !self.info.contains_key(key) {
            self.order.push(key.to_owned());
        }
        let entry = self.info.entry(key.to_owned()).or_insert((None, true));
        match name {
            Some(n) => {
                entry.1 &= is_local_name(&n);
                entry.0 = Some(n);
            }
            None if entry.0.is_none() => entry.1 = false,
            None => {}
        }
        self.pending.insert(key.to_owned());
    }

    fn observe(&mut self, msg: &Message) {
        if event_is(msg, &["Masquerade"]) {
            // The Original takes the Clone's place (and, by the Rename that follows, its
            // name): a Local channel masqueraded into a phone's channel is a phone's now.
            if let Some(original) = value(msg, "Original") {
                for (key, (name, local)) in self.info.iter_mut() {
                    if name.as_deref() == Some(original.as_str()) || *key == original {
                        *local = false;
                    }
                }
            }
            return;
        }
        if event_is(msg, &["Hangup"]) {
            match value(msg, "Uniqueid") {
                Some(uid) => {
                    self.pending.remove(&uid);
                }
                None if value(msg, "Channel").is_some() => self.by_name = true,
                None => {}
            }
            return;
        }
        let mut refs: Vec<(String, Option<String>)> = Vec::new();
        for (k, v) in msg.fields() {
            let key = k.to_ascii_lowercase();
            let uid = v.trim();
            if uid.is_empty() || key.contains("bridge") {
                continue;
            }
            let names: Vec<String> = if let Some(prefix) = key.strip_suffix("uniqueid") {
                match prefix {
                    "src" => vec!["source".into(), "srcchannel".into()],
                    "dest" => vec!["destchannel".into(), "destination".into()],
                    p => vec![format!("{p}channel")],
                }
            } else if let Some(n @ ("1" | "2")) = key.strip_prefix("uniqueid") {
                vec![format!("channel{n}")]
            } else {
                continue;
            };
            let name = names.iter().find_map(|n| value(msg, n));
            refs.push((uid.to_owned(), name));
        }
        if event_is(msg, CREATING) {
            for prefix in ["", "Dest", "LocalOne", "LocalTwo"] {
                let name = value(msg, &format!("{prefix}Channel"));
                if let (Some(name), None) = (name, value(msg, &format!("{prefix}Uniqueid"))) {
                    self.by_name = true;
                    refs.push((name.clone(), Some(name)));
                }
            }
        }
        if event_is(msg, &["Rename"]) {
            // The channel is known by its new name from now on: a Local half renamed to a
            // phone's channel (a masquerade's Rename) is a phone's channel for the tracker.
            if let (Some(uid), Some(new)) = (value(msg, "Uniqueid"), value(msg, "Newname")) {
                refs.push((uid, Some(new)));
            }
        }
        for (uid, name) in refs {
            self.note(&uid, name);
        }
    }

    fn is_local(&self, key: &str) -> bool {
        self.info.get(key).is_some_and(|(name, local)| name.is_some() && *local)
    }

    fn non_local_pending(&self) -> bool {
        self.pending.iter().any(|k| !self.is_local(k))
    }

    /// `Hangup` (cause 16) for every pending channel: the non-Local ones, then the Local ones.
    fn hangups(&self, reverse: bool) -> (Vec<Message>, Vec<Message>) {
        let mut keys: Vec<&String> = self.order.iter().filter(|k| self.pending.contains(*k)).collect();
        if reverse {
            keys.reverse();
        }
        let hangup = |k: &String| {
            let name = self.info.get(k).and_then(|(n, _)| n.clone()).unwrap_or_else(|| k.clone());
            Message::from_pairs([
                ("Event", "Hangup"),
                ("Channel", name.as_str()),
                ("Uniqueid", k.as_str()),
                ("Cause", "16"),
            ])
        };
        let non_local = keys.iter().filter(|k| !self.is_local(k)).map(|k| hangup(k)).collect();
        let local = keys.iter().filter(|k| self.is_local(k)).map(|k| hangup(k)).collect();
        (non_local, local)
    }
}

// ---------------------------------------------------------------------------------------
// Tracker + checker
// ---------------------------------------------------------------------------------------

/// A broken rule: at which AMI message (and event), and why.
#[derive(Clone, Debug)]
struct Failure {
    rule: Rule,
    message: usize,
    event: Option<usize>,
    detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  at AMI message #{}", self.rule, self.message)?;
        if let Some(e) = self.event {
            write!(f, ", event #{e}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// A tracker fed message by message, its events checked by an [`EventChecker`], and after
/// each message the rules that need the tracker:
/// - a call whose last event was `CallCleared` is not in `tracker.calls()`;
/// - once every non-Local channel named so far has hung up, `open_calls() == 0` and
///   `calls()` is empty; once every channel has, `channels() == 0` (checked while the
///   [`ChannelMirror`] is sure of it; after the synthetic hangups of [`Ending::HangUpAll`],
///   [`check_stream`] checks both unconditionally).
#[derive(Debug, Default)]
struct Harness {
    tracker: Tracker,
    checker: EventChecker,
    mirror: ChannelMirror,
    messages: usize,
}

thread_local! {
    /// Where the last panic caught by [`catch_quietly`] on this thread happened.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into its message and location, without printing it (the
/// failure report says it instead). Other threads' panics print as usual.
fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let at = info.location().map(|l| l.to_string());
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|p| {
        let text = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-text panic)".into());
        let at = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default();
        format!("panicked at {at}: {text}")
    })
}

impl Harness {
    fn new() -> Self {
        Harness { tracker: Tracker::new(), ..Harness::default() }
    }

    fn fail(&self, rule: Rule, event: Option<usize>, detail: String) -> Failure {
        Failure { rule, message: self.messages.saturating_sub(1), event, detail }
    }

    fn apply(&mut self, msg: &Message) -> Result<Vec<Event>, Failure> {
        self.messages += 1;
        let tracker = &mut self.tracker;
        let events = catch_quietly(|| tracker.apply(msg)).map_err(|p| self.fail(Rule::Panic, None, p))?;
        for ev in &events {
            self.checker.push(ev).map_err(|v| {
                self.fail(
                    v.rule,
                    Some(v.index),
                    format!("{} (events of this message: {})", v.detail, list(&events)),
                )
            })?;
        }
        let mut last: HashMap<&CallId, bool> = HashMap::new();
        for ev in &events {
            if let Some(call) = ev.call() {
                last.insert(call, matches!(ev, Event::CallCleared { .. }));
            }
        }
        if last.values().any(|cleared| *cleared) {
            let listed = self.tracker.calls();
            for (call, _) in last.iter().filter(|(_, cleared)| **cleared) {
                if let Some(c) = listed.iter().find(|c| &c.id == *call) {
                    return Err(self.fail(
                        Rule::ClearedCallListed,
                        None,
                        format!("call {call} was reported cleared but is listed: {c:?}"),
                    ));
                }
            }
        }
        self.mirror.observe(msg);
        if !self.mirror.by_name {
            if !self.mirror.non_local_pending() {
                self.expect_no_calls()?;
            }
            if self.mirror.pending.is_empty() {
                self.expect_no_channels()?;
            }
        }
        Ok(events)
    }

    fn expect_no_calls(&self) -> Result<(), Failure> {
        let calls = self.tracker.calls();
        let open = self.tracker.open_calls();
        let snapshot = self.tracker.snapshot();
        if open != 0 || !calls.is_empty() || !snapshot.calls.is_empty() {
            return Err(self.fail(
                Rule::CallsAfterHangup,
                None,
                format!("open_calls() = {open}, calls() = {calls:?}"),
            ));
        }
        Ok(())
    }

    fn expect_no_channels(&self) -> Result<(), Failure> {
        let n = self.tracker.channels();
        if n != 0 {
            return Err(self.fail(Rule::ChannelsAfterHangup, None, format!("channels() = {n}")));
        }
        Ok(())
    }
}

fn list(events: &[Event]) -> String {
    let v: Vec<String> = events.iter().map(brief).collect();
    format!("[{}]", v.join(", "))
}

/// What follows the input.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Nothing: the input is checked as it is.
    AsIs,
    /// A `Hangup` for every channel still up (non-Local ones first, in first-seen order or
    /// its reverse); then no call may be open, and then no channel left.
    HangUpAll { reverse: bool },
}

/// The synthetic hangups that `ending` appends to `msgs`: (non-Local, Local).
fn synthetic_hangups(msgs: &[Message], ending: Ending) -> (Vec<Message>, Vec<Message>) {
    let Ending::HangUpAll { reverse } = ending else { return (Vec::new(), Vec::new()) };
    let mut mirror = ChannelMirror::default();
    for m in msgs {
        mirror.observe(m);
    }
    mirror.hangups(reverse)
}

/// Runs `msgs` (and the ending) through a [`Harness`]; the number of events on success.
fn check_stream(msgs: &[Message], ending: Ending) -> Result<usize, Failure> {
    let mut h = Harness::new();
    let mut events = 0;
    for m in msgs {
        events += h.apply(m)?.len();
    }
    if let Ending::HangUpAll { reverse } = ending {
        let (non_local, local) = h.mirror.hangups(reverse);
        for m in &non_local {
            h.apply(m)?;
        }
        h.expect_no_calls()?;
        for m in &local {
            h.apply(m)?;
        }
        h.expect_no_channels()?;
    }
    Ok(events)
}

// ---------------------------------------------------------------------------------------
// Reproductions
// ---------------------------------------------------------------------------------------

/// `msgs` cut down to the fewest messages (greedily, chunks then single messages) that
/// still break `rule`.
fn minimize(msgs: &[Message], ending: Ending, rule: Rule) -> Vec<Message> {
    let fails = |m: &[Message]| matches!(check_stream(m, ending), Err(f) if f.rule == rule);
    let mut cur = msgs.to_vec();
    loop {
        let before = cur.len();
        let mut chunk = cur.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            while i < cur.len() {
                let end = (i + chunk).min(cur.len());
                let mut cand = cur[..i].to_vec();
                cand.extend_from_slice(&cur[end..]);
                if fails(&cand) {
                    cur = cand;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        if cur.len() == before {
            return cur;
        }
    }
}

fn format_message(m: &Message) -> String {
    let v: Vec<String> = m.fields().map(|(k, v)| format!("{k}: {v}")).collect();
    v.join(" | ")
}

/// The messages, each followed by the events it produced.
fn transcript(msgs: &[Message], ending: Ending) -> String {
    let (non_local, local) = synthetic_hangups(msgs, ending);
    let mut out = String::new();
    let mut tracker = Tracker::new();
    let all = msgs.iter().map(|m| (m, "")).chain(non_local.iter().chain(&local).map(|m| (m, " (synthetic)")));
    for (i, (m, note)) in all.enumerate() {
        out.push_str(&format!("  #{i}{note} {}\n", format_message(m)));
        match catch_quietly(|| tracker.apply(m)) {
            Ok(evs) => {
                for ev in evs {
                    out.push_str(&format!("      -> {}\n", brief(&ev)));
                }
            }
            Err(p) => {
                out.push_str(&format!("      -> {p}\n"));
                break;
            }
        }
    }
    out
}

/// A failure report: the failure on the full input, then a minimal reproduction.
fn report(what: &str, msgs: &[Message], ending: Ending, failure: &Failure) -> String {
    let min = minimize(msgs, ending, failure.rule);
    let min_failure = check_stream(&min, ending).err().map(|f| f.to_string()).unwrap_or_default();
    format!(
        "{what}: {failure}\n\nminimal reproduction ({} of {} messages; ending {ending:?}):\n{}\nwhich breaks {min_failure}\n",
        min.len(),
        msgs.len(),
        transcript(&min, ending),
    )
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs a property over `strategy`; `stream` turns a value into the AMI input. On failure,
/// panics with proptest's minimal value and a minimal reproduction of its stream.
fn run_property<S>(cases: u32, strategy: S, stream: impl Fn(&S::Value) -> (Vec<Message>, Ending))
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        let (msgs, ending) = stream(&v);
        check_stream(&msgs, ending).map(drop).map_err(|f| TestCaseError::fail(f.to_string()))
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, value)) => {
            let (msgs, ending) = stream(&value);
            let text = match check_stream(&msgs, ending) {
                Err(f) => report("property failed", &msgs, ending, &f),
                Ok(_) => format!("property failed (not reproduced on replay): {reason}"),
            };
            panic!("{text}\nminimal proptest input: {value:#?}");
        }
        Err(TestError::Abort(reason)) => panic!("property aborted: {reason}"),
    }
}

// ---------------------------------------------------------------------------------------
// Test vectors
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Capture {
    name: String,
    messages: Vec<Message>,
    /// The events the tracker reacts to (what the mutations work on).
    relevant: Vec<Message>,
}

/// The events `Tracker::apply` reacts to that concern calls (device state, presence and
/// user events left out).
const CALL_EVENTS: &[&str] = &[
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "NewConnectedLine",
    "DialBegin",
    "DialEnd",
    "Dial",
    "BridgeEnter",
    "BridgeLeave",
    "Link",
    "Unlink",
    "Bridge",
    "LocalBridge",
    "Hangup",
    "Rename",
    "Masquerade",
    "BlindTransfer",
    "AttendedTransfer",
    "Hold",
    "Unhold",
    "Pickup",
    "QueueCallerJoin",
    "Join",
    "QueueCallerLeave",
    "Leave",
    "QueueCallerAbandon",
];

fn captures() -> &'static [Capture] {
    static CAPTURES: OnceLock<Vec<Capture>> = OnceLock::new();
    CAPTURES.get_or_init(|| {
        let mut files = vector_files("real", "ami");
        files.extend(vector_files("asterisk20", "ami"));
        assert!(files.len() >= 60, "expected the real captures, found {}", files.len());
        files
            .iter()
            .map(|p| {
                let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let messages = read_capture(&data).messages;
                let relevant = messages.iter().filter(|m| event_is(m, CALL_EVENTS)).cloned().collect();
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Capture { name, messages, relevant }
            })
            .collect()
    })
}

/// The captures that have call events.
fn call_captures() -> Vec<&'static Capture> {
    captures().iter().filter(|c| !c.relevant.is_empty()).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Real captures, in order
// ---------------------------------------------------------------------------------------

fn check_every_capture(ending: Ending) {
    let mut failures = Vec::new();
    let mut events = 0usize;
    for cap in captures() {
        match check_stream(&cap.messages, ending) {
            Ok(n) => events += n,
            Err(f) => failures.push(report(&cap.name, &cap.messages, ending, &f)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} capture(s) break the contract:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(events > 300, "the captures produced only {events} events");
}

/// Every real capture, applied in order: nothing panics, the events keep the contract, a
/// cleared call is no longer listed, and whenever every channel named so far has hung up
/// the tracker holds no call (and no channel).
#[test]
fn every_real_capture_keeps_the_event_contract() {
    check_every_capture(Ending::AsIs);
}

/// Every real capture followed by a Hangup of each channel it left up: the contract holds
/// through the hangups, then no call is open and no channel is left.
#[test]
fn every_real_capture_hung_up_leaves_nothing() {
    check_every_capture(Ending::HangUpAll { reverse: false });
    check_every_capture(Ending::HangUpAll { reverse: true });
}

// ---------------------------------------------------------------------------------------
// 2 and 3. Real captures, mutated
// ---------------------------------------------------------------------------------------

/// A damage done to a stream of messages.
#[derive(Clone, Debug)]
enum Mutation {
    /// Swaps pairs of messages inside a window of `len` messages starting at `at`.
    Shuffle { at: Index, len: usize, swaps: Vec<(Index, Index)> },
    /// Drops messages (each index taken over the stream as it is by then).
    Drop(Vec<Index>),
    /// Copies the message at `.0` to position `.1`.
    Duplicate(Vec<(Index, Index)>),
    /// Keeps only the first messages.
    Truncate(Index),
}

impl Mutation {
    fn apply(&self, msgs: &mut Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        match self {
            Mutation::Shuffle { at, len, swaps } => {
                let start = at.index(msgs.len());
                let end = (start + len).min(msgs.len());
                let window = &mut msgs[start..end];
                for (a, b) in swaps {
                    let (a, b) = (a.index(window.len()), b.index(window.len()));
                    window.swap(a, b);
                }
            }
            Mutation::Drop(at) => {
                for i in at {
                    if msgs.is_empty() {
                        break;
                    }
                    let i = i.index(msgs.len());
                    msgs.remove(i);
                }
            }
            Mutation::Duplicate(pairs) => {
                for (from, to) in pairs {
                    let m = msgs[from.index(msgs.len())].clone();
                    let to = to.index(msgs.len() + 1);
                    msgs.insert(to, m);
                }
            }
            Mutation::Truncate(at) => {
                let keep = at.index(msgs.len() + 1);
                msgs.truncate(keep);
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 2usize..=16, vec((any::<Index>(), any::<Index>()), 1..=8))
            .prop_map(|(at, len, swaps)| Mutation::Shuffle { at, len, swaps }),
        2 => vec(any::<Index>(), 1..=8).prop_map(Mutation::Drop),
        2 => vec((any::<Index>(), any::<Index>()), 1..=4).prop_map(Mutation::Duplicate),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// A piece of a real capture (its call events) and the damage done to it.
#[derive(Clone, Debug)]
struct Mutated {
    capture: Index,
    /// `None`: from the first message; else a start anywhere (events before it are lost).
    start: Option<Index>,
    len: usize,
    mutations: Vec<Mutation>,
    reverse_hangups: bool,
}

fn mutated() -> impl Strategy<Value = Mutated> {
    (
        any::<Index>(),
        prop::option::weighted(0.3, any::<Index>()),
        1usize..=300,
        vec(mutation(), 0..=3),
        any::<bool>(),
    )
        .prop_map(|(capture, start, len, mutations, reverse_hangups)| Mutated {
            capture,
            start,
            len,
            mutations,
            reverse_hangups,
        })
}

impl Mutated {
    fn messages(&self) -> Vec<Message> {
        let caps = call_captures();
        let cap = caps[self.capture.index(caps.len())];
        let start = self.start.map_or(0, |s| s.index(cap.relevant.len()));
        let end = (start + self.len).min(cap.relevant.len());
        let mut msgs = cap.relevant[start..end].to_vec();
        for m in &self.mutations {
            m.apply(&mut msgs);
        }
        msgs
    }
}

/// A piece of a real capture, shuffled, thinned, duplicated or cut: the tracker never
/// panics and its events keep the contract (first and last events, connection transitions)
/// whatever the order.
#[test]
fn mutated_captures_keep_the_event_contract() {
    run_property(cases(256), mutated(), |m| (m.messages(), Ending::AsIs));
}

/// After any such damaged stream, a Hangup of every channel it named and left up: the
/// contract holds through the hangups, then `open_calls() == 0`, `calls()` is empty and
/// `channels() == 0`.
#[test]
fn mutated_captures_hung_up_leave_nothing() {
    run_property(cases(256), mutated(), |m| (m.messages(), Ending::HangUpAll { reverse: m.reverse_hangups }));
}

// ---------------------------------------------------------------------------------------
// 4. Generated AMI
// ---------------------------------------------------------------------------------------

const NAMES: &[&str] = &["SIP/100-1", "SIP/200-2", "SIP/300-3", "Local/x@ctx-1;1", "Local/x@ctx-1;2"];
/// The caller-id number of each of `NAMES`.
const NUMBERS: &[&str] = &["100", "200", "300", "", ""];
/// `UIDS[i]` is the uniqueid of `NAMES[i]` (mostly); the last one belongs to no name.
const UIDS: &[&str] = &["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"];
const BRIDGES: &[&str] = &["b1", "b2"];

/// One channel as an event names it.
#[derive(Clone, Debug)]
struct Ch {
    name: usize,
    uid: usize,
    linked: usize,
    /// Whether the event carries the uniqueid (else only the name).
    with_uid: bool,
}

fn ch() -> impl Strategy<Value = Ch> {
    (0..NAMES.len(), prop::bool::weighted(0.85), 0..UIDS.len(), 0..UIDS.len(), prop::bool::weighted(0.95))
        .prop_map(|(name, tied, uid, linked, with_uid)| Ch {
            name,
            uid: if tied { name } else { uid },
            linked,
            with_uid,
        })
}

impl Ch {
    fn fields(&self, prefix: &str, out: &mut Vec<(String, String)>) {
        out.push((format!("{prefix}Channel"), NAMES[self.name].into()));
        if self.with_uid {
            out.push((format!("{prefix}Uniqueid"), UIDS[self.uid].into()));
        }
        out.push((format!("{prefix}Linkedid"), UIDS[self.linked].into()));
    }
}

fn state() -> impl Strategy<Value = u8> {
    prop_oneof![2 => 0u8..=7, 3 => select(vec![4u8, 5, 6])]
}

fn build(event: &str, parts: impl FnOnce(&mut Vec<(String, String)>)) -> Message {
    let mut f = vec![("Event".to_owned(), event.to_owned())];
    parts(&mut f);
    Message::from_pairs(f)
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_owned(), v.to_string())
}

/// One AMI event from the vocabulary the tracker uses.
fn ami_event() -> impl Strategy<Value = Message> {
    let dial_status = select(vec!["ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL", ""]);
    let cause = select(vec![0u16, 16, 17, 18, 19, 21, 26, 34, 127]);
    let bridge = select(BRIDGES.to_vec());
    let result = prop::bool::weighted(0.9).prop_map(|ok| if ok { "Success" } else { "Fail" });
    prop_oneof![
        3 => (ch(), state()).prop_map(|(c, s)| build("Newchannel", |f| {
            c.fields("", f);
            f.push(kv("ChannelState", s));
            f.push(kv("CallerIDNum", NUMBERS[c.name]));
            f.push(kv("Exten", "200"));
        })),
        4 => (ch(), state()).prop_map(|(c, s)| build("Newstate", |f| {
            c.fields("", f);
            f.push(kv("ChannelState", s));
        })),
        3 => (prop::option::weighted(0.85, ch()), ch(), state()).prop_map(|(src, dst, s)| {
            build("DialBegin", |f| {
                if let Some(src) = &src {
                    src.fields("", f);
                }
                dst.fields("Dest", f);
                f.push(kv("DestChannelState", s));
            })
        }),
        2 => (
            prop::option::weighted(0.85, ch()),
            ch(),
            dial_status,
            prop::option::weighted(0.15, select(vec!["200", "300"])),
        )
            .prop_map(|(src, dst, st, forward)| {
                build("DialEnd", |f| {
                    if let Some(src) = &src {
                        src.fields("", f);
                    }
                    dst.fields("Dest", f);
                    f.push(kv("DialStatus", st));
                    if let Some(to) = forward {
                        f.push(kv("Forward", to));
                    }
                })
            }),
        3 => (ch(), bridge.clone(), prop::option::of(state())).prop_map(|(c, b, s)| {
            build("BridgeEnter", |f| {
                c.fields("", f);
                f.push(kv("BridgeUniqueid", b));
                if let Some(s) = s {
                    f.push(kv("ChannelState", s));
                }
            })
        }),
        1 => (ch(), bridge.clone()).prop_map(|(c, b)| build("BridgeLeave", |f| {
            c.fields("", f);
            f.push(kv("BridgeUniqueid", b));
        })),
        1 => (ch(), ch()).prop_map(|(a, b)| build("LocalBridge", |f| {
            a.fields("LocalOne", f);
            b.fields("LocalTwo", f);
        })),
        3 => (ch(), cause).prop_map(|(c, cause)| build("Hangup", |f| {
            c.fields("", f);
            f.push(kv("Cause", cause));
        })),
        1 => (ch(), ch(), select(vec!["200", "300", ""]), result.clone()).prop_map(|(a, b, ext, r)| {
            build("BlindTransfer", |f| {
                f.push(kv("Result", r));
                a.fields("Transferer", f);
                b.fields("Transferee", f);
                f.push(kv("Extension", ext));
            })
        }),
        1 => (
            ch(),
            ch(),
            prop::option::of(ch()),
            prop::option::of(ch()),
            any::<bool>(),
            (bridge.clone(), bridge),
            result,
        )
            .prop_map(|(orig, second, transferee, target, app, (b1, b2), r)| {
                build("AttendedTransfer", |f| {
                    f.push(kv("Result", r));
                    orig.fields("OrigTransferer", f);
                    f.push(kv("OrigBridgeUniqueid", b1));
                    second.fields("SecondTransferer", f);
                    f.push(kv("SecondBridgeUniqueid", b2));
                    if let Some(t) = &transferee {
                        t.fields("Transferee", f);
                    }
                    if let Some(t) = &target {
                        t.fields("TransferTarget", f);
                    }
                    f.push(kv("DestType", if app { "App" } else { "Bridge" }));
                })
            }),
        1 => (ch(), ch()).prop_map(|(a, b)| build("Pickup", |f| {
            a.fields("", f);
            b.fields("Target", f);
        })),
        1 => ch().prop_map(|c| build("Hold", |f| c.fields("", f))),
        1 => ch().prop_map(|c| build("Unhold", |f| c.fields("", f))),
        1 => (ch(), 1u32..=3).prop_map(|(c, p)| build("QueueCallerJoin", |f| {
            c.fields("", f);
            f.push(kv("Queue", "q1"));
            f.push(kv("Position", p));
        })),
        1 => ch().prop_map(|c| build("QueueCallerAbandon", |f| {
            c.fields("", f);
            f.push(kv("Queue", "q1"));
        })),
        1 => ch().prop_map(|c| build("QueueCallerLeave", |f| {
            c.fields("", f);
            f.push(kv("Queue", "q1"));
        })),
    ]
}

/// Arbitrary sequences of the AMI events the tracker uses, over a few channels (three
/// phones, the two halves of a Local channel) and uniqueids: the tracker never panics, the
/// events keep the contract, and hanging everything up leaves nothing.
#[test]
fn generated_ami_keeps_the_contract_and_hangs_up_clean() {
    run_property(cases(256), (vec(ami_event(), 1..=40), any::<bool>()), |(msgs, reverse)| {
        (msgs.clone(), Ending::HangUpAll { reverse: *reverse })
    });
}

// ---------------------------------------------------------------------------------------
// The checker itself
// ---------------------------------------------------------------------------------------

fn call_event(kind: &str, call: &str, device: &str) -> Event {
    let (call, device, channel) = (CallId::new(call), DeviceId::new(device), format!("SIP/{device}-1"));
    let p = ctilink::model::Party::default();
    match kind {
        "originated" => Event::Originated {
            call,
            device,
            channel,
            state: ConnectionState::Connected,
            caller: p.clone(),
            called: p,
        },
        "delivered" => Event::Delivered {
            call,
            device,
            channel,
            state: ConnectionState::Alerting,
            caller: p.clone(),
            called: p,
            calling_device: None,
            click_to_dial: false,
        },
        "established" => Event::Established {
            call,
            device,
            channel,
            state: ConnectionState::Connected,
            caller: p.clone(),
            called: p,
            calling_device: None,
            click_to_dial: false,
        },
        "held" => Event::Held { call, device, channel, state: ConnectionState::Held },
        "cleared" => Event::ConnectionCleared {
            call,
            device,
            channel,
            state: ConnectionState::Null,
            previous: ConnectionState::Connected,
            cause: None,
            released_by: None,
        },
        "call_cleared" => Event::CallCleared { call, cause: None, answered: true, merged_into: None },
        other => panic!("no such test event {other}"),
    }
}

fn first_violation(events: &[Event]) -> Option<Rule> {
    let mut c = EventChecker::default();
    events.iter().find_map(|e| c.push(e).err()).map(|v| v.rule)
}

/// The checker accepts a plain call and names the rule of each broken stream.
#[test]
fn checker_names_the_broken_rule() {
    let ok = [
        call_event("originated", "c1", "100"),
        call_event("delivered", "c1", "200"),
        call_event("established", "c1", "200"),
        call_event("held", "c1", "200"),
        call_event("call_cleared", "c1", ""),
        call_event("delivered", "c1", "100"),
        call_event("call_cleared", "c1", ""),
    ];
    assert_eq!(first_violation(&ok), None);
    let cases: &[(&[&str], Rule)] = &[
        (&["established"], Rule::FirstEvent),
        (&["originated", "call_cleared", "held"], Rule::AfterCallCleared),
        (&["originated", "delivered"], Rule::Transition),
        (&["delivered", "held"], Rule::Transition),
        (&["originated", "cleared", "cleared"], Rule::Transition),
    ];
    for (kinds, rule) in cases {
        let evs: Vec<Event> = kinds.iter().map(|k| call_event(k, "c1", "100")).collect();
        assert_eq!(first_violation(&evs), Some(*rule), "{kinds:?}");
    }
    let wrong_previous = [
        call_event("delivered", "c1", "100"),
        call_event("cleared", "c1", "100"), // says it was Connected
    ];
    assert_eq!(first_violation(&wrong_previous), Some(Rule::ClearedPrevious));

    // An attended transfer: the target's connection moves from the consultation call.
    let endpoint = |d: &str| ctilink::model::Endpoint { device: d.into(), channel: format!("SIP/{d}-1") };
    let transferred = Event::Transferred {
        call: CallId::new("c1"),
        kind: ctilink::model::TransferKind::Attended,
        transferring: endpoint("100"),
        transferred: endpoint("200"),
        targets: vec![endpoint("300")],
        secondary_call: Some(CallId::new("c2")),
        caller: ctilink::model::Party::default(),
    };
    let before = [
        call_event("originated", "c1", "200"),
        call_event("originated", "c2", "100"),
        call_event("delivered", "c2", "300"),
        transferred,
    ];
    let mut after_ok = before.to_vec();
    after_ok.extend([call_event("established", "c1", "300"), call_event("call_cleared", "c2", "")]);
    assert_eq!(first_violation(&after_ok), None);
    let mut cleared_in_old_call = before.to_vec();
    cleared_in_old_call.push(call_event("cleared", "c2", "300"));
    assert_eq!(first_violation(&cleared_in_old_call), Some(Rule::Transition));

    // Conferenced may repeat the state.
    let conference = Event::Conferenced {
        call: CallId::new("c1"),
        device: DeviceId::new("100"),
        channel: "SIP/100-1".into(),
        state: ConnectionState::Connected,
        parties: Vec::new(),
    };
    assert_eq!(first_violation(&[call_event("originated", "c1", "100"), conference]), None);
}

fn ami(pairs: &[(&str, &str)]) -> Message {
    Message::from_pairs(pairs.iter().copied())
}

/// The harness sees a call left open, and knows when everything has hung up.
#[test]
fn harness_checks_what_is_left_after_hangups() {
    let mut h = Harness::new();
    let caller = ami(&[
        ("Event", "Newchannel"),
        ("Channel", "SIP/100-1"),
        ("Uniqueid", "1.1"),
        ("Linkedid", "1.1"),
        ("ChannelState", "4"),
    ]);
    let local = ami(&[("Event", "Newchannel"), ("Channel", "Local/x@ctx-1;1"), ("Uniqueid", "1.2")]);
    let events = h.apply(&caller).unwrap_or_else(|f| panic!("{f}"));
    assert!(matches!(events.as_slice(), [Event::Originated { .. }]), "{events:?}");
    h.apply(&local).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(h.expect_no_calls().map_err(|f| f.rule).err(), Some(Rule::CallsAfterHangup));
    let (non_local, local_hangups) = h.mirror.hangups(false);
    assert_eq!((non_local.len(), local_hangups.len()), (1, 1));
    assert_eq!(non_local[0].get("Uniqueid"), Some("1.1"));
    for m in non_local.iter().chain(&local_hangups) {
        h.apply(m).unwrap_or_else(|f| panic!("{f}"));
    }
    assert!(h.mirror.pending.is_empty());
    h.expect_no_calls().unwrap_or_else(|f| panic!("{f}"));
    h.expect_no_channels().unwrap_or_else(|f| panic!("{f}"));
}

/// Found by the mutation property: a Local half renamed to a phone's channel, then up. The
/// tracker rightly keeps the phone's call open; the harness must see that channel as a
/// phone's and not expect the call to be gone.
#[test]
fn a_local_channel_renamed_to_a_phone_is_a_phone() {
    let msgs = [
        ami(&[
            ("Event", "Newchannel"),
            ("Channel", "Local/259@default-00000000;1"),
            ("ChannelState", "0"),
            ("Exten", "259"),
            ("Context", "default"),
            ("Uniqueid", "1414510600.0"),
        ]),
        ami(&[
            ("Event", "Rename"),
            ("Channel", "Local/259@default-00000000;1"),
            ("Newname", "SIP/ddddd-00000000"),
            ("Uniqueid", "1414510600.0"),
        ]),
        ami(&[
            ("Event", "Newstate"),
            ("Channel", "Local/259@default-00000000;1"),
            ("ChannelState", "6"),
            ("CallerIDNum", "259"),
            ("CallerIDName", "S F"),
            ("Uniqueid", "1414510600.0"),
        ]),
    ];
    check_stream(&msgs, Ending::AsIs).unwrap_or_else(|f| panic!("{f}"));
}
