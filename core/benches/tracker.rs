//! Codec + call tracker throughput, and heap bytes per tracked call.
//!
//! `cargo bench -p ctilink --bench tracker` (`-- --test` runs every benchmark once, as CI
//! does; the memory measurement runs in both modes).
//!
//! Groups (criterion; `Throughput::Elements` = AMI events in the input):
//! - `tracker/real_captures`: every capture of `$CTILINK_VECTORS/ami/real/*.ami` and
//!   `ami/asterisk20/*.ami` concatenated in memory (default `../shared/vectors` beside
//!   the repository). `decode_track`: decode + a fresh [`Tracker`] applying every
//!   message; `track_only`: a fresh tracker over the pre-decoded messages;
//!   `decode_only`: the decoder alone, to split the first figure.
//! - `tracker/synthetic_calls`: a stream of answered calls as Asterisk 13+ reports
//!   them through a `Local/` channel pair (the field layout of
//!   `real/cacofonisk_simple_ab_success_a_hangup.ami`: sorted keys, `SystemName`,
//!   `AccountCode`), with `VarSet`/`Newexten`/`NewCallerid`/`NewConnectedLine` noise,
//!   many calls interleaved; same three benchmarks.
//!
//! Memory (not criterion; printed before the timings): a counting global allocator
//! measures the live heap bytes a tracker holds with `CTILINK_MEMORY_CALLS` (default
//! 100,000; `0` skips) concurrent established calls of the synthetic shape (caller,
//! callee and a Local pair, all bridged and up), then after every call hung up, then
//! after the tracker is dropped. Input bytes, decoded messages and output events are
//! dropped before each reading, so the figure is the tracker's own heap.

// The counting `#[global_allocator]` must `unsafe impl GlobalAlloc` (it only forwards to
// `std::alloc::System` and adds to counters); the workspace denies unsafe code, so this
// one bench file allows it.
#![allow(unsafe_code)]
#![allow(missing_docs, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, Criterion, Throughput};
use ctilink::ami::{Decoder, Frame, Message, MessageKind};
use ctilink::model::{Event, Tracker, TrackerLimits};

// ---------------------------------------------------------------------------
// Counting allocator.
//
// Counting is switched on only around the memory measurement (one relaxed load per
// allocation otherwise), so the criterion timings run at full speed. Every block freed
// while counting was allocated while counting (the measurement allocates and frees
// its own data only), so the live figures are exact for what it does.

struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
/// Live bytes as requested (`Layout::size`).
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Highest `LIVE` seen.
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Live blocks.
static BLOCKS: AtomicIsize = AtomicIsize::new(0);
/// Live bytes as glibc malloc would hold them (see [`chunk`]).
static CHUNKS: AtomicIsize = AtomicIsize::new(0);
/// Live blocks by exact size, for sizes up to `SMALL_MAX`.
const SMALL_MAX: usize = 512;
static BY_SIZE: [AtomicIsize; SMALL_MAX + 1] = [const { AtomicIsize::new(0) }; SMALL_MAX + 1];
/// Live blocks larger than `SMALL_MAX`, and their bytes, by power of two.
static BIG_BLOCKS: [AtomicIsize; 64] = [const { AtomicIsize::new(0) }; 64];
static BIG_BYTES: [AtomicIsize; 64] = [const { AtomicIsize::new(0) }; 64];

/// Bytes glibc's malloc uses for a request of `size` on x86_64: 8 bytes of header,
/// 16-byte granules, 32 bytes at least; mmap'd blocks (128 KiB and up) in whole pages.
fn chunk(size: usize) -> usize {
    if size >= 128 * 1024 {
        (size + 16).div_ceil(4096) * 4096
    } else {
        ((size + 8 + 15) & !15).max(32)
    }
}

fn count(size: usize, sign: isize) {
    let live = LIVE.fetch_add(sign * size as isize, Relaxed) + sign * size as isize;
    PEAK.fetch_max(live, Relaxed);
    BLOCKS.fetch_add(sign, Relaxed);
    CHUNKS.fetch_add(sign * chunk(size) as isize, Relaxed);
    if size <= SMALL_MAX {
        BY_SIZE[size].fetch_add(sign, Relaxed);
    } else {
        let b = (usize::BITS - 1 - size.leading_zeros()) as usize;
        BIG_BLOCKS[b].fetch_add(sign, Relaxed);
        BIG_BYTES[b].fetch_add(sign * size as isize, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && ON.load(Relaxed) {
            count(layout.size(), 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && ON.load(Relaxed) {
            count(layout.size(), 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if ON.load(Relaxed) {
            count(layout.size(), -1);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && ON.load(Relaxed) {
            count(layout.size(), -1);
            count(new_size, 1);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy, Debug)]
struct Heap {
    bytes: isize,
    blocks: isize,
    chunks: isize,
}

fn heap() -> Heap {
    Heap { bytes: LIVE.load(Relaxed), blocks: BLOCKS.load(Relaxed), chunks: CHUNKS.load(Relaxed) }
}

/// Resident set size in bytes (Linux), as a cross-check that includes the allocator.
fn rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

// ---------------------------------------------------------------------------
// Inputs.

fn vectors_dir() -> PathBuf {
    match std::env::var_os("CTILINK_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors")),
    }
}

/// All real captures, sorted by path, each followed by a blank line (so that a file
/// ending mid-line cannot glue itself onto the next file's banner).
fn real_captures() -> (Vec<u8>, usize) {
    let root = vectors_dir().join("ami");
    let mut files = Vec::new();
    for sub in ["real", "asterisk20"] {
        let dir = root.join(sub);
        let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "AMI captures not found: cannot read {} ({e}); set CTILINK_VECTORS to the \
                 shared vectors directory (the one holding ami/real and ami/asterisk20)",
                dir.display()
            )
        });
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "ami") {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty(), "no .ami files under {} (set CTILINK_VECTORS)", root.display());
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display()));
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\r\n\r\n");
    }
    (out, files.len())
}

// ---------------------------------------------------------------------------
// Synthetic calls.
//
// One call is a list of event templates built once, with placeholders for what differs
// between calls (uniqueids, channel names, accounts, bridge ids...); rendering a call
// is then copying literals and values, fast enough to render 100,000 calls for the
// memory measurement in well under a second.

/// What differs between calls.
#[derive(Clone, Copy)]
enum V {
    AUid,
    L1Uid,
    L2Uid,
    BUid,
    AChan,
    L1Chan,
    L2Chan,
    BChan,
    AAcct,
    BAcct,
    ANum,
    BNum,
    AName,
    LExten,
    Br1,
    Br2,
    SipCallId,
}
const NVARS: usize = V::SipCallId as usize + 1;

/// The placeholder for `v` inside a template string.
fn ph(v: V) -> String {
    format!("\x01{}", char::from(b'A' + v as u8))
}

const SYSTEM: &str = "195176c06ab8";
const NAMES: &[&str] = &["Andrew Garza", "Maria de Vries", "Tom Bakker", "Sanne Visser", "Li Wei"];

/// The values of call `n`. Accounts come from a pool of 1,000 phones.
fn call_vars(n: u32) -> [String; NVARS] {
    let t = 1_529_936_170 + n / 16;
    let (a, b) = (n % 1000, (n * 7 + 3) % 1000);
    let b = if a == b { (b + 1) % 1000 } else { b };
    let uid = |i: u32| format!("{SYSTEM}-{t}.{}", 4 * n + i);
    let a_acct = format!("1500{:05}", a + 1);
    let b_acct = format!("1500{:05}", b + 1);
    let lexten = format!("ID{}", 730_000 + b);
    let local = format!("Local/{lexten}@osvpi_route_phoneaccount-{n:08x}");
    [
        uid(0),
        uid(1),
        uid(2),
        uid(3),
        format!("SIP/{a_acct}-{:08x}", 2 * n),
        format!("{local};1"),
        format!("{local};2"),
        format!("SIP/{b_acct}-{:08x}", 2 * n + 1),
        a_acct,
        b_acct,
        (200 + a).to_string(),
        (200 + b).to_string(),
        NAMES[(n as usize) % NAMES.len()].to_owned(),
        lexten,
        format!("{n:08x}-e609-4fef-b3aa-{:012x}", u64::from(n) * 2),
        format!("{n:08x}-839b-4127-aafe-{:012x}", u64::from(n) * 2 + 1),
        format!("{:08x}{:08x}@172.20.0.13", n.wrapping_mul(2_654_435_761), n),
    ]
}

/// A channel's fields as its events carry them (values may hold placeholders).
#[derive(Clone)]
struct Ch {
    acct: String,
    cid_name: String,
    cid_num: String,
    chan: String,
    state: u8,
    cl_name: String,
    cl_num: String,
    context: &'static str,
    exten: String,
    language: &'static str,
    priority: u32,
    uid: String,
}

fn state_desc(s: u8) -> &'static str {
    match s {
        0 => "Down",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        _ => "Unknown",
    }
}

/// One event under construction: fields are sorted by key (bytewise, as in the
/// cacofonisk captures) when rendered, with `Event` first.
struct Ev {
    name: &'static str,
    fields: Vec<(String, String)>,
}

impl Ev {
    fn new(name: &'static str, privilege: &str) -> Self {
        let mut e = Ev { name, fields: Vec::with_capacity(40) };
        e.kv("Privilege", privilege).kv("SystemName", SYSTEM);
        e
    }

    fn kv(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
        self.fields.push((k.to_owned(), v.into()));
        self
    }

    fn chan(&mut self, p: &str, c: &Ch) -> &mut Self {
        self.kv(&format!("{p}AccountCode"), c.acct.clone())
            .kv(&format!("{p}CallerIDName"), c.cid_name.clone())
            .kv(&format!("{p}CallerIDNum"), c.cid_num.clone())
            .kv(&format!("{p}Channel"), c.chan.clone())
            .kv(&format!("{p}ChannelState"), c.state.to_string())
            .kv(&format!("{p}ChannelStateDesc"), state_desc(c.state))
            .kv(&format!("{p}ConnectedLineName"), c.cl_name.clone())
            .kv(&format!("{p}ConnectedLineNum"), c.cl_num.clone())
            .kv(&format!("{p}Context"), c.context)
            .kv(&format!("{p}Exten"), c.exten.clone())
            .kv(&format!("{p}Language"), c.language)
            .kv(&format!("{p}Linkedid"), ph(V::AUid))
            .kv(&format!("{p}Priority"), c.priority.to_string())
            .kv(&format!("{p}Uniqueid"), c.uid.clone())
    }

    fn bridge(&mut self, id: V, channels: u8) -> &mut Self {
        self.kv("BridgeCreator", "<unknown>")
            .kv("BridgeName", "<unknown>")
            .kv("BridgeNumChannels", channels.to_string())
            .kv("BridgeTechnology", "simple_bridge")
            .kv("BridgeType", "basic")
            .kv("BridgeUniqueid", ph(id))
            .kv("BridgeVideoSourceMode", "none")
    }

    fn render(&mut self) -> String {
        self.fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut s = format!("Event: {}\r\n", self.name);
        for (k, v) in &self.fields {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s
    }
}

enum Seg {
    Lit(Box<[u8]>),
    Var(usize),
}

/// One event of a call, ready to render.
struct Template(Vec<Seg>);

impl Template {
    fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        let mut parts = s.split('\x01');
        if let Some(first) = parts.next() {
            segs.push(Seg::Lit(first.as_bytes().into()));
        }
        for p in parts {
            let var = usize::from(p.as_bytes()[0] - b'A');
            segs.push(Seg::Var(var));
            segs.push(Seg::Lit(p.as_bytes()[1..].into()));
        }
        Template(segs)
    }

    fn render(&self, vars: &[String; NVARS], out: &mut Vec<u8>) {
        for s in &self.0 {
            match s {
                Seg::Lit(b) => out.extend_from_slice(b),
                Seg::Var(i) => out.extend_from_slice(vars[*i].as_bytes()),
            }
        }
    }
}

/// The events of one call: `setup` up to the moment caller and callee talk (caller,
/// callee and both Local halves bridged and up), then `teardown` (bridges left,
/// four hangups).
struct CallShape {
    setup: Vec<Template>,
    teardown: Vec<Template>,
}

impl CallShape {
    fn new() -> Self {
        let unknown = || "<unknown>".to_owned();
        let mut a = Ch {
            acct: ph(V::AAcct),
            cid_name: ph(V::AName),
            cid_num: ph(V::ANum),
            chan: ph(V::AChan),
            state: 0,
            cl_name: unknown(),
            cl_num: unknown(),
            context: "osvpi_account",
            exten: ph(V::BNum),
            language: "nl",
            priority: 1,
            uid: ph(V::AUid),
        };
        let mut l1 = Ch {
            acct: ph(V::AAcct),
            cid_name: unknown(),
            cid_num: ph(V::BNum),
            chan: ph(V::L1Chan),
            state: 0,
            cl_name: ph(V::AName),
            cl_num: ph(V::ANum),
            context: "osvpi_route_phoneaccount",
            exten: ph(V::BNum),
            language: "en",
            priority: 1,
            uid: ph(V::L1Uid),
        };
        let mut l2 = Ch {
            acct: ph(V::AAcct),
            cid_name: ph(V::AName),
            cid_num: ph(V::ANum),
            chan: ph(V::L2Chan),
            state: 4,
            cl_name: unknown(),
            cl_num: ph(V::BNum),
            context: "osvpi_route_phoneaccount",
            exten: ph(V::LExten),
            language: "en",
            priority: 1,
            uid: ph(V::L2Uid),
        };
        let mut b = Ch {
            acct: ph(V::BAcct),
            cid_name: unknown(),
            cid_num: unknown(),
            chan: ph(V::BChan),
            state: 0,
            cl_name: unknown(),
            cl_num: unknown(),
            context: "osvpi_account",
            exten: "s".to_owned(),
            language: "nl",
            priority: 1,
            uid: ph(V::BUid),
        };

        let mut setup = Vec::new();
        let mut push = |e: &mut Ev| setup.push(e.render());
        let call = "call,all";
        let dialplan = "dialplan,all";

        push(Ev::new("Newchannel", call).chan("", &a));
        push(
            Ev::new("VarSet", dialplan)
                .chan("", &a)
                .kv("Variable", "SIPCALLID")
                .kv("Value", ph(V::SipCallId)),
        );
        a.state = 4;
        push(Ev::new("Newstate", call).chan("", &a));
        a.context = "osvpi_account_call_int";
        push(
            Ev::new("Newexten", dialplan)
                .chan("", &a)
                .kv("Extension", ph(V::BNum))
                .kv("Application", "NoOp")
                .kv(
                    "AppData",
                    format!("Call from \"{}\" <{}> to {}", ph(V::AName), ph(V::ANum), ph(V::BNum)),
                ),
        );
        a.priority = 5;
        push(
            Ev::new("NewCallerid", call)
                .chan("", &a)
                .kv("CID-CallingPres", "1 (Presentation Allowed, Passed Screen)"),
        );
        a.priority = 11;
        push(
            Ev::new("VarSet", dialplan)
                .chan("", &a)
                .kv("Variable", "__CALLERID_NUM")
                .kv("Value", ph(V::ANum)),
        );
        a.priority = 12;
        push(
            Ev::new("Newexten", dialplan)
                .chan("", &a)
                .kv("Extension", ph(V::BNum))
                .kv("Application", "Dial")
                .kv("AppData", format!("Local/{}@osvpi_route_phoneaccount,,tT", ph(V::LExten))),
        );
        push(Ev::new("Newchannel", call).chan("", &l1));
        push(Ev::new("Newchannel", call).chan("", &l2));
        push(
            Ev::new("LocalBridge", call)
                .chan("LocalOne", &l1)
                .chan("LocalTwo", &l2)
                .kv("Context", "osvpi_route_phoneaccount")
                .kv("Exten", ph(V::LExten))
                .kv("LocalOptimization", "Yes"),
        );
        push(
            Ev::new("DialBegin", call)
                .chan("", &a)
                .chan("Dest", &l1)
                .kv("DialString", format!("{}@osvpi_route_phoneaccount", ph(V::LExten))),
        );
        l2.context = "osvpi_proc_proxy_out";
        l2.exten = ph(V::BNum);
        l2.priority = 8;
        push(
            Ev::new("Newexten", dialplan)
                .chan("", &l2)
                .kv("Extension", ph(V::BNum))
                .kv("Application", "Dial")
                .kv("AppData", format!("SIP/{},,tT", ph(V::BAcct))),
        );
        push(
            Ev::new("VarSet", dialplan)
                .chan("", &l2)
                .kv("Variable", "DIALEDPEERNUMBER")
                .kv("Value", ph(V::BAcct)),
        );
        push(Ev::new("Newchannel", call).chan("", &b));
        b.cid_num = ph(V::BNum);
        b.cl_name = ph(V::AName);
        b.cl_num = ph(V::ANum);
        b.exten = ph(V::BNum);
        push(Ev::new("NewConnectedLine", call).chan("", &b));
        push(
            Ev::new("DialBegin", call)
                .chan("", &l2)
                .chan("Dest", &b)
                .kv("DialString", format!("{}/{}/172.20.0.13!!{}", ph(V::BAcct), ph(V::BAcct), ph(V::ANum))),
        );
        b.state = 5;
        push(Ev::new("Newstate", call).chan("", &b));
        l1.state = 5;
        push(Ev::new("Newstate", call).chan("", &l1));
        b.state = 6;
        push(Ev::new("Newstate", call).chan("", &b));
        push(Ev::new("DialEnd", call).chan("", &l2).chan("Dest", &b).kv("DialStatus", "ANSWER"));
        l2.state = 6;
        push(Ev::new("Newstate", call).chan("", &l2));
        l1.state = 6;
        push(Ev::new("Newstate", call).chan("", &l1));
        push(Ev::new("BridgeCreate", call).bridge(V::Br1, 0));
        push(Ev::new("DialEnd", call).chan("", &a).chan("Dest", &l1).kv("DialStatus", "ANSWER"));
        push(Ev::new("BridgeEnter", call).bridge(V::Br1, 1).chan("", &b));
        a.state = 6;
        push(Ev::new("Newstate", call).chan("", &a));
        push(Ev::new("BridgeEnter", call).bridge(V::Br1, 2).chan("", &l2));
        push(Ev::new("BridgeCreate", call).bridge(V::Br2, 0));
        push(Ev::new("BridgeEnter", call).bridge(V::Br2, 1).chan("", &l1));
        push(Ev::new("BridgeEnter", call).bridge(V::Br2, 2).chan("", &a));

        let mut teardown = Vec::new();
        let mut push = |e: &mut Ev| teardown.push(e.render());
        push(Ev::new("BridgeLeave", call).bridge(V::Br2, 1).chan("", &a));
        push(Ev::new("BridgeLeave", call).bridge(V::Br2, 0).chan("", &l1));
        push(Ev::new("BridgeDestroy", call).bridge(V::Br2, 0));
        let hangup = |c: &Ch| {
            let mut c = c.clone();
            c.context = "handlers";
            c.exten = "onhangup".to_owned();
            c.priority = 4;
            let mut e = Ev::new("Hangup", call);
            e.chan("", &c).kv("Cause", "16").kv("Cause-txt", "Normal Clearing");
            e
        };
        push(&mut hangup(&a));
        push(&mut hangup(&l1));
        push(Ev::new("BridgeLeave", call).bridge(V::Br1, 1).chan("", &l2));
        push(Ev::new("BridgeLeave", call).bridge(V::Br1, 0).chan("", &b));
        push(Ev::new("BridgeDestroy", call).bridge(V::Br1, 0));
        push(&mut hangup(&l2));
        push(&mut hangup(&b));

        let parse = |v: Vec<String>| v.iter().map(|s| Template::parse(s)).collect();
        CallShape { setup: parse(setup), teardown: parse(teardown) }
    }

    fn events(&self) -> usize {
        self.setup.len() + self.teardown.len()
    }

    fn event(&self, i: usize) -> &Template {
        if i < self.setup.len() {
            &self.setup[i]
        } else {
            &self.teardown[i - self.setup.len()]
        }
    }
}

/// Normalized events the tracker reports per synthetic call: `Originated`, `Delivered`,
/// `Established`, two `ConnectionCleared`, `CallCleared`.
const EVENTS_PER_CALL: usize = 6;

/// `calls` whole calls, about `concurrency` at a time: each step renders the next
/// event of a call picked at random among those in progress (seeded: the same stream
/// every run). Returns the wire bytes and the number of events.
fn synthetic_stream(shape: &CallShape, calls: u32, concurrency: usize) -> (Vec<u8>, usize) {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut out = Vec::new();
    let mut active: Vec<([String; NVARS], usize)> = Vec::new();
    let (mut started, mut events) = (0, 0);
    while started < calls || !active.is_empty() {
        while active.len() < concurrency && started < calls {
            active.push((call_vars(started), 0));
            started += 1;
        }
        let i = rng.usize(..active.len());
        let (vars, next) = &mut active[i];
        shape.event(*next).render(vars, &mut out);
        events += 1;
        *next += 1;
        if *next == shape.events() {
            active.swap_remove(i);
        }
    }
    (out, events)
}

// ---------------------------------------------------------------------------
// What is timed.

/// Counts of one pass: (AMI messages, AMI events, normalized events out).
type Counts = (usize, usize, usize);

/// Decodes `data` from one buffer and applies every message to a fresh tracker.
fn decode_track(data: &[u8]) -> Counts {
    let mut buf = BytesMut::from(data);
    let mut d = Decoder::default();
    let mut t = Tracker::new();
    let mut out: Vec<Event> = Vec::new();
    let (mut msgs, mut evs, mut norm) = (0, 0, 0);
    loop {
        match d.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => {
                msgs += 1;
                evs += usize::from(m.kind() == MessageKind::Event);
                t.apply_into(&m, &mut out);
                norm += out.len();
                black_box(&out);
                out.clear();
            }
            Ok(Some(f)) => {
                black_box(&f);
            }
            Ok(None) => break,
            Err(e) => {
                black_box(&e);
            }
        }
    }
    black_box(&t);
    (msgs, evs, norm)
}

/// A fresh tracker over pre-decoded messages.
fn track_only(msgs: &[Message]) -> usize {
    let mut t = Tracker::new();
    let mut out: Vec<Event> = Vec::new();
    let mut norm = 0;
    for m in msgs {
        t.apply_into(m, &mut out);
        norm += out.len();
        black_box(&out);
        out.clear();
    }
    black_box(&t);
    norm
}

/// The decoder alone, same loop as [`decode_track`] without the tracker.
fn decode_only(data: &[u8]) -> Counts {
    let mut buf = BytesMut::from(data);
    let mut d = Decoder::default();
    let (mut msgs, mut evs) = (0, 0);
    loop {
        match d.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => {
                msgs += 1;
                evs += usize::from(m.kind() == MessageKind::Event);
                black_box(&m);
            }
            Ok(Some(f)) => {
                black_box(&f);
            }
            Ok(None) => break,
            Err(e) => {
                black_box(&e);
            }
        }
    }
    (msgs, evs, 0)
}

fn decoded(data: &[u8]) -> Vec<Message> {
    let cap = ctilink::ami::read_capture(data);
    cap.messages
}

fn bench_group(c: &mut Criterion, group: &str, data: &[u8], measure: Duration) {
    let msgs = decoded(data);
    let (n_msgs, n_events, n_norm) = decode_track(data);
    assert_eq!(n_msgs, msgs.len(), "{group}: decode_track and read_capture disagree");
    assert_eq!(track_only(&msgs), n_norm, "{group}: track_only and decode_track disagree");
    eprintln!(
        "{group}: {} bytes, {n_msgs} messages, {n_events} events ({:.1} bytes/event), \
         {n_norm} normalized events out",
        data.len(),
        data.len() as f64 / n_events as f64
    );
    let mut g = c.benchmark_group(group);
    g.measurement_time(measure).warm_up_time(Duration::from_secs(1)).sample_size(20);
    g.throughput(Throughput::Elements(n_events as u64));
    g.bench_function("decode_track", |b| b.iter(|| decode_track(black_box(data))));
    g.bench_function("track_only", |b| b.iter(|| track_only(black_box(&msgs))));
    g.bench_function("decode_only", |b| b.iter(|| decode_only(black_box(data))));
    g.finish();
}

fn bench_real(c: &mut Criterion) {
    let (data, files) = real_captures();
    eprintln!("real captures: {files} files from {}", vectors_dir().display());
    bench_group(c, "tracker/real_captures", &data, Duration::from_secs(4));
}

/// Calls in the synthetic timing stream, and how many are in progress at once.
const SYN_CALLS: u32 = 1_000;
const SYN_CONCURRENCY: usize = 100;

fn bench_synthetic(c: &mut Criterion) {
    let shape = CallShape::new();
    let (data, events) = synthetic_stream(&shape, SYN_CALLS, SYN_CONCURRENCY);
    let (msgs, evs, norm) = decode_track(&data);
    assert_eq!((msgs, evs), (events, events), "the synthetic stream must decode whole");
    assert_eq!(norm, EVENTS_PER_CALL * SYN_CALLS as usize, "the tracker must see every call");
    eprintln!(
        "synthetic: {SYN_CALLS} calls of {} events, about {SYN_CONCURRENCY} in progress at once",
        shape.events()
    );
    bench_group(c, "tracker/synthetic_calls", &data, Duration::from_secs(8));
}

// ---------------------------------------------------------------------------
// Memory per tracked call.

fn mb(b: isize) -> f64 {
    b as f64 / 1e6
}

/// Decodes `wire` and applies every message; returns the number of messages.
fn feed(d: &mut Decoder, buf: &mut BytesMut, wire: &[u8], t: &mut Tracker, out: &mut Vec<Event>) -> usize {
    buf.extend_from_slice(wire);
    let mut n = 0;
    while let Ok(Some(f)) = d.decode(buf) {
        if let Frame::Message(m) = f {
            t.apply_into(&m, out);
            n += 1;
        }
        out.clear();
    }
    n
}

/// Applies `phase` of calls `0..calls` to `t` (setup when `true`), one call's events
/// at a time; every input and output is dropped before returning.
fn run_phase(shape: &CallShape, t: &mut Tracker, calls: u32, setup: bool) -> (usize, Duration) {
    let templates = if setup { &shape.setup } else { &shape.teardown };
    let mut wire = Vec::with_capacity(64 * 1024);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut d = Decoder::default();
    let mut out = Vec::with_capacity(16);
    let (mut events, mut busy) = (0, Duration::ZERO);
    for n in 0..calls {
        let vars = call_vars(n);
        wire.clear();
        for tpl in templates {
            tpl.render(&vars, &mut wire);
        }
        let start = Instant::now();
        events += feed(&mut d, &mut buf, &wire, t, &mut out);
        busy += start.elapsed();
    }
    assert!(buf.is_empty(), "undecoded bytes left");
    (events, busy)
}

/// The live blocks by size, largest total first.
fn print_sizes(calls: u32) {
    println!("memory: live blocks by size at {calls} calls (largest shares):");
    let mut rows: Vec<(String, isize, isize)> = Vec::new();
    for (size, n) in BY_SIZE.iter().enumerate() {
        let n = n.load(Relaxed);
        if n > 0 {
            rows.push((format!("{size} B"), n, n * size as isize));
        }
    }
    for b in 0..64 {
        let n = BIG_BLOCKS[b].load(Relaxed);
        if n > 0 {
            let label = format!("{}..{} KiB", (1usize << b) / 1024, (2usize << b) / 1024);
            rows.push((label, n, BIG_BYTES[b].load(Relaxed)));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    for (label, n, total) in rows.iter().take(14) {
        println!(
            "memory:   {label:>14} x {n:>7} = {:>7.2} MB ({:>5.1} B per call)",
            mb(*total),
            *total as f64 / f64::from(calls)
        );
    }
}

fn memory_report(calls: u32) {
    let shape = CallShape::new();
    let limits = TrackerLimits { max_channels: 4 * calls as usize + 1024, ..TrackerLimits::default() };
    // Printed before counting starts, so that stdout's buffer is not counted.
    println!("memory: {calls} concurrent established calls (4 channels each), then all hung up");
    let rss0 = rss();
    ON.store(true, Relaxed);
    let base = heap();
    PEAK.store(base.bytes, Relaxed);

    let mut t = Tracker::with_limits(limits);
    let (events, busy) = run_phase(&shape, &mut t, calls, true);
    let open = heap();
    let rss1 = rss();
    let (open_calls, channels) = (t.open_calls(), t.channels());
    assert_eq!(open_calls, calls as usize, "every call must be open");
    assert_eq!(channels, 4 * calls as usize, "4 channels per call");

    let bytes = open.bytes - base.bytes;
    let per_call = bytes as f64 / f64::from(calls);
    println!(
        "memory: {calls} calls, {bytes} bytes, {per_call:.0} bytes per call \
         ({channels} channels; goal < 2048 bytes per call: {})",
        if per_call < 2048.0 { "met" } else { "MISSED" }
    );
    println!(
        "memory: {} live blocks ({:.1} per call); with glibc malloc's headers and rounding \
         about {:.0} bytes per call; RSS grew by {}",
        open.blocks - base.blocks,
        (open.blocks - base.blocks) as f64 / f64::from(calls),
        (open.chunks - base.chunks) as f64 / f64::from(calls),
        match (rss0, rss1) {
            (Some(a), Some(b)) => format!("{:.1} MB", (b as f64 - a as f64) / 1e6),
            _ => "n/a".to_owned(),
        }
    );
    println!(
        "memory: building them: {events} events decoded and tracked in {:.2} s \
         ({:.0} events/s with the counting allocator on); peak {:.1} MB live (tables \
         old and new during a resize)",
        busy.as_secs_f64(),
        events as f64 / busy.as_secs_f64(),
        mb(PEAK.load(Relaxed) - base.bytes)
    );
    print_sizes(calls);

    let (events, busy) = run_phase(&shape, &mut t, calls, false);
    let closed = heap();
    println!(
        "memory: after hanging all up ({events} events, {:.2} s): open_calls() == {}, \
         channels() == {}, {} bytes live ({:.1} MB, {} blocks) above the baseline",
        busy.as_secs_f64(),
        t.open_calls(),
        t.channels(),
        closed.bytes - base.bytes,
        mb(closed.bytes - base.bytes),
        closed.blocks - base.blocks,
    );
    assert_eq!(t.open_calls(), 0);
    drop(t);
    let dropped = heap();
    ON.store(false, Relaxed);
    println!("memory: after dropping the tracker: {} bytes above the baseline", dropped.bytes - base.bytes);
}

// ---------------------------------------------------------------------------

criterion_group!(benches, bench_real, bench_synthetic);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list");
    let calls: u32 = match std::env::var("CTILINK_MEMORY_CALLS") {
        Ok(v) => v.trim().parse().expect("CTILINK_MEMORY_CALLS must be a number of calls"),
        Err(_) => 100_000,
    };
    if !listing && calls > 0 {
        let start = Instant::now();
        memory_report(calls);
        eprintln!("memory measurement took {:.1} s", start.elapsed().as_secs_f64());
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
