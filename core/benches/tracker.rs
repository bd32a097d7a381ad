//! Codec + call tracker throughput, and heap bytes per tracked call.
//!
//! `cargo bench -p ctilink --bench tracker` (`-- --test` runs every benchmark once, as CI
//! does; the memory measurement runs in both modes).
//!
//! Groups (criterion; `Throughput::Elements` = AMI events in the input):
//! - `tracker/real_captures`: every capture of `$CTILINK_VECTORS/ami/real/*.ami` and
//!   `ami/asterisk20/*.ami` concatenated in memory (default `tests/vectors` in
//!   the repository). `decode_track`: decode + a fresh [`Tracker`] applying every
//!   message; `track_only`: a fresh tracker over the pre-decoded messages;
//!   `decode_only`: the decoder alone, to split the first figure.
//! - `tracker/synthetic_calls`: a stream of answered calls of the `local_pair` shape:
//!   Asterisk 13+ through a `Local/` channel pair, 4 channels per call (the field
//!   layout of `real/cacofonisk_simple_ab_success_a_hangup.ami`: sorted keys,
//!   `SystemName`, `AccountCode`), with `VarSet`/`Newexten`/`NewCallerid`/
//!   `NewConnectedLine` noise, many calls interleaved; same three benchmarks.
//! - `tracker/direct_calls`: the same for the `direct` shape: a phone calling a phone
//!   on Asterisk 20, 2 channels and no Local channel, every event of
//!   `asterisk20/sip_call.ami`'s call in its order and field layout (Asterisk's key
//!   order, no `SystemName`), its `VarSet`/`Newexten`/`ExtensionStatus`/
//!   `DeviceStateChange`/... noise included; that rendering the shape with the
//!   capture's values gives the capture's call byte for byte is asserted first.
//!
//! Memory (not criterion; printed before the timings): a counting global allocator
//! measures the live heap bytes a tracker holds with `CTILINK_MEMORY_CALLS` (default
//! 100,000; `0` skips) concurrent established calls of each shape in turn (every
//! channel bridged and up: caller, callee and a Local pair for `local_pair`, caller and
//! callee for `direct`), then after every call hung up, then after the tracker is
//! dropped. Input bytes, decoded messages and output events are dropped before each
//! reading, so the figure is the tracker's own heap.

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

/// Returns the heap glibc keeps free to the system, so that the RSS growth of a
/// measurement does not depend on the heap an earlier one freed.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's `malloc_trim` only releases free memory; any pad is valid.
        unsafe {
            malloc_trim(0);
        }
    }
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
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors")),
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
                 vectors directory (the one holding ami/real and ami/asterisk20)",
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
    BName,
    BSipCallId,
}
const NVARS: usize = V::BSipCallId as usize + 1;

/// The placeholder for `v` inside a template string.
fn ph(v: V) -> String {
    format!("\x01{}", char::from(b'A' + v as u8))
}

const SYSTEM: &str = "195176c06ab8";
const NAMES: &[&str] = &["Andrew Garza", "Maria de Vries", "Tom Bakker", "Sanne Visser", "Li Wei"];

/// The values of call `n` of the `local_pair` shape. Accounts come from a pool of
/// 1,000 phones.
fn local_pair_vars(n: u32) -> [String; NVARS] {
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
        String::new(),
        String::new(),
    ]
}

/// The values of call `n` of the `direct` shape, in the style of
/// `asterisk20/sip_call.ami` (uniqueids `<epoch>.<sequence>`, channels
/// `SIP/<peer>-<sequence>`, phones named `Phone <number>`). Caller and callee are two
/// of 1,000 phones, a pair per call in turn, so that calls in progress at once never
/// share a phone (500 calls apart) and every call sees the same device state changes.
fn direct_vars(n: u32) -> [String; NVARS] {
    let t = 1_795_662_582 + n / 16;
    let a = 200 + 2 * (n % 500);
    let b = a + 1;
    let mut v: [String; NVARS] = Default::default();
    let mut set = |k: V, s: String| v[k as usize] = s;
    set(V::AUid, format!("{t}.{}", 2 * n));
    set(V::BUid, format!("{t}.{}", 2 * n + 1));
    set(V::AChan, format!("SIP/{a}-{:08x}", 2 * n));
    set(V::BChan, format!("SIP/{b}-{:08x}", 2 * n + 1));
    set(V::ANum, a.to_string());
    set(V::BNum, b.to_string());
    set(V::AName, format!("Phone {a}"));
    set(V::BName, format!("Phone {b}"));
    set(V::Br1, format!("{n:08x}-080e-45b7-8e2b-{:012x}", u64::from(n) * 3));
    set(V::SipCallId, format!("1-{}@127.0.0.1", 21_380 + u64::from(n)));
    set(
        V::BSipCallId,
        format!("{:016x}{:016x}@127.0.0.1:5060", u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15), n),
    );
    v
}

/// The values of the one call of `asterisk20/sip_call.ami`: rendered with them, the
/// `direct` shape must give that capture's call byte for byte.
fn sip_call_vars() -> [String; NVARS] {
    let mut v: [String; NVARS] = Default::default();
    let mut set = |k: V, s: &str| v[k as usize] = s.to_owned();
    set(V::AUid, "1795662582.2");
    set(V::BUid, "1795662582.3");
    set(V::AChan, "SIP/101-00000000");
    set(V::BChan, "SIP/100-00000001");
    set(V::ANum, "101");
    set(V::BNum, "100");
    set(V::AName, "Phone 101");
    set(V::BName, "Phone 100");
    set(V::Br1, "0d29e3d7-080e-45b7-8e2b-1cc1dd61b970");
    set(V::SipCallId, "1-21380@127.0.0.1");
    set(V::BSipCallId, "136e4b334de94dc105a44b8006ee7edd@127.0.0.1:5060");
    v
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

/// One event under construction, rendered with `Event` first.
struct Ev {
    name: &'static str,
    fields: Vec<(String, String)>,
    /// Fields sorted by key (bytewise) when rendered, as in the cacofonisk captures;
    /// otherwise in the order they were added, as Asterisk 20 sends them.
    sorted: bool,
}

impl Ev {
    /// The cacofonisk layout: sorted keys, with `SystemName`.
    fn new(name: &'static str, privilege: &str) -> Self {
        let mut e = Ev { name, fields: Vec::with_capacity(40), sorted: true };
        e.kv("Privilege", privilege).kv("SystemName", SYSTEM);
        e
    }

    /// The Asterisk 20 layout of `asterisk20/*.ami`: Asterisk's own key order, no
    /// `SystemName`.
    fn a20(name: &'static str, privilege: &str) -> Self {
        let mut e = Ev { name, fields: Vec::with_capacity(40), sorted: false };
        e.kv("Privilege", privilege);
        e
    }

    fn kv(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
        self.fields.push((k.to_owned(), v.into()));
        self
    }

    /// The channel fields with prefix `p`, in Asterisk's own order.
    fn chan(&mut self, p: &str, c: &Ch) -> &mut Self {
        self.kv(&format!("{p}Channel"), c.chan.clone())
            .kv(&format!("{p}ChannelState"), c.state.to_string())
            .kv(&format!("{p}ChannelStateDesc"), state_desc(c.state))
            .kv(&format!("{p}CallerIDNum"), c.cid_num.clone())
            .kv(&format!("{p}CallerIDName"), c.cid_name.clone())
            .kv(&format!("{p}ConnectedLineNum"), c.cl_num.clone())
            .kv(&format!("{p}ConnectedLineName"), c.cl_name.clone())
            .kv(&format!("{p}Language"), c.language)
            .kv(&format!("{p}AccountCode"), c.acct.clone())
            .kv(&format!("{p}Context"), c.context)
            .kv(&format!("{p}Exten"), c.exten.clone())
            .kv(&format!("{p}Priority"), c.priority.to_string())
            .kv(&format!("{p}Uniqueid"), c.uid.clone())
            .kv(&format!("{p}Linkedid"), ph(V::AUid))
    }

    /// The bridge fields, in Asterisk's own order.
    fn bridge(&mut self, id: V, channels: u8) -> &mut Self {
        self.kv("BridgeUniqueid", ph(id))
            .kv("BridgeType", "basic")
            .kv("BridgeTechnology", "simple_bridge")
            .kv("BridgeCreator", "<unknown>")
            .kv("BridgeName", "<unknown>")
            .kv("BridgeNumChannels", channels.to_string())
            .kv("BridgeVideoSourceMode", "none")
    }

    fn render(&mut self) -> String {
        if self.sorted {
            self.fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        }
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

/// The events of one call: `setup` up to the moment caller and callee talk (every
/// channel bridged and up), then `teardown` (bridges left, every channel hung up).
struct CallShape {
    /// The shape's label in the memory report.
    name: &'static str,
    /// Channels the tracker holds for one established call.
    channels: usize,
    /// Normalized events the tracker reports for one whole call (asserted).
    normalized: usize,
    /// The values of call `n`.
    vars: fn(u32) -> [String; NVARS],
    setup: Vec<Template>,
    teardown: Vec<Template>,
}

fn parse_all(v: &[String]) -> Vec<Template> {
    v.iter().map(|s| Template::parse(s)).collect()
}

impl CallShape {
    /// Asterisk 13+ through a `Local/` pair, as cacofonisk captured it
    /// (`real/cacofonisk_simple_ab_success_a_hangup.ami`): 4 channels, 40 events.
    fn local_pair() -> Self {
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

        CallShape {
            name: "local_pair",
            channels: 4,
            normalized: LOCAL_PAIR_EVENTS_PER_CALL,
            vars: local_pair_vars,
            setup: parse_all(&setup),
            teardown: parse_all(&teardown),
        }
    }

    /// A phone calling a phone on Asterisk 20, as `asterisk20/sip_call.ami` reports it
    /// (Asterisk's key order, no `SystemName`, empty `AccountCode`): 2 channels, no
    /// Local channels, 93 events. Every event of that capture from the caller's
    /// `Newchannel` to its `Hangup` is here, in the same order with the same fields
    /// (the `VarSet`, `Newexten`, `NewConnectedLine`, `ExtensionStatus`,
    /// `DeviceStateChange`, `SuccessfulAuth`, `HangupRequest`, `SoftHangupRequest` and
    /// `Cdr` noise included); [`check_direct_shape`] asserts it.
    fn direct() -> Self {
        let unknown = || "<unknown>".to_owned();
        let mut a = Ch {
            acct: String::new(),
            cid_name: ph(V::AName),
            cid_num: ph(V::ANum),
            chan: ph(V::AChan),
            state: 0,
            cl_name: unknown(),
            cl_num: unknown(),
            context: "internal",
            exten: ph(V::BNum),
            language: "en",
            priority: 1,
            uid: ph(V::AUid),
        };
        let mut b = Ch {
            acct: String::new(),
            cid_name: ph(V::BName),
            cid_num: ph(V::BNum),
            chan: ph(V::BChan),
            state: 0,
            cl_name: unknown(),
            cl_num: unknown(),
            context: "internal",
            exten: "s".to_owned(),
            language: "en",
            priority: 1,
            uid: ph(V::BUid),
        };
        let call = "call,all";
        let dialplan = "dialplan,all";
        let var = |c: &Ch, name: &str, value: &str| {
            let mut e = Ev::a20("VarSet", dialplan);
            e.chan("", c).kv("Variable", name).kv("Value", value);
            e
        };
        let ext_status = |num: V, status: u8, text: &str| {
            let mut e = Ev::a20("ExtensionStatus", call);
            e.kv("Exten", ph(num))
                .kv("Context", "internal")
                .kv("Hint", format!("SIP/{}", ph(num)))
                .kv("Status", status.to_string())
                .kv("StatusText", text);
            e
        };
        let dev_state = |num: V, state: &str| {
            let mut e = Ev::a20("DeviceStateChange", call);
            e.kv("Device", format!("SIP/{}", ph(num))).kv("State", state);
            e
        };
        let newexten = |c: &Ch, ext: &str, app: &str, data: &str| {
            let mut e = Ev::a20("Newexten", dialplan);
            e.chan("", c).kv("Extension", ext).kv("Application", app).kv("AppData", data);
            e
        };
        let with_cause = |name: &'static str, c: &Ch, txt: bool| {
            let mut e = Ev::a20(name, call);
            e.chan("", c).kv("Cause", "16");
            if txt {
                e.kv("Cause-txt", "Normal Clearing");
            }
            e
        };
        let dial = |name: &'static str, a: &Ch, b: &Ch, k: &str, v: &str| {
            let mut e = Ev::a20(name, call);
            e.chan("", a).chan("Dest", b).kv(k, v);
            e
        };
        let (an, bn) = (ph(V::ANum), ph(V::BNum));

        let mut setup = Vec::new();
        let mut push = |e: &mut Ev| setup.push(e.render());
        push(Ev::a20("Newchannel", call).chan("", &a));
        push(&mut var(&a, "SIPURI", &format!("sip:{an}@127.0.0.1:5101")));
        push(&mut var(&a, "SIPDOMAIN", "127.0.0.1"));
        push(&mut var(&a, "SIPCALLID", &ph(V::SipCallId)));
        a.state = 4;
        push(Ev::a20("Newstate", call).chan("", &a));
        push(
            Ev::a20("SuccessfulAuth", "security,all")
                .kv("EventTV", "2026-11-26T03:09:42.435+0000")
                .kv("Severity", "Informational")
                .kv("Service", "SIP")
                .kv("EventVersion", "1")
                .kv("AccountID", bn.clone())
                .kv("SessionID", "0x7fe7c800f160")
                .kv("LocalAddress", "IPV4/UDP/127.0.0.1/5060")
                .kv("RemoteAddress", "IPV4/UDP/127.0.0.1/5101")
                .kv("UsingPassword", "0"),
        );
        let noop = format!("Call from \"{}\" <{an}> to phone {bn}", ph(V::AName));
        push(&mut newexten(&a, &bn, "NoOp", &noop));
        a.priority = 2;
        let dial_data = format!("SIP/{bn},30,tTkK");
        push(&mut newexten(&a, &bn, "Dial", &dial_data));
        for v in [
            "DIALSTATUS",
            "DIALEDPEERNUMBER",
            "DIALEDPEERNAME",
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "RINGTIME",
            "RINGTIME_MS",
            "PROGRESSTIME",
            "PROGRESSTIME_MS",
        ] {
            push(&mut var(&a, v, ""));
        }
        push(Ev::a20("Newchannel", call).chan("", &b));
        push(&mut ext_status(V::ANum, 1, "InUse"));
        push(&mut ext_status(V::BNum, 8, "Ringing"));
        push(&mut var(&b, "SIPCALLID", &ph(V::BSipCallId)));
        b.exten = String::new();
        push(&mut var(&b, "DIALEDPEERNUMBER", &bn));
        b.exten = bn.clone();
        b.cl_num = an.clone();
        b.cl_name = ph(V::AName);
        push(&mut newexten(&b, &bn, "AppDial", "(Outgoing Line)"));
        push(Ev::a20("NewConnectedLine", call).chan("", &b));
        push(&mut dial("DialBegin", &a, &b, "DialString", &bn));
        a.cl_num = bn.clone();
        a.cl_name = ph(V::BName);
        push(Ev::a20("NewConnectedLine", call).chan("", &a));
        push(&mut dev_state(V::ANum, "INUSE"));
        push(&mut dev_state(V::BNum, "RINGING"));
        b.state = 5;
        push(Ev::a20("Newstate", call).chan("", &b));
        push(&mut dev_state(V::BNum, "RINGING"));
        push(&mut var(&a, "RINGTIME", "0"));
        push(&mut var(&a, "RINGTIME_MS", "0"));
        push(&mut dial("DialState", &a, &b, "DialStatus", "RINGING"));
        push(&mut ext_status(V::BNum, 1, "InUse"));
        push(&mut dev_state(V::BNum, "INUSE"));
        b.state = 6;
        push(Ev::a20("Newstate", call).chan("", &b));
        push(&mut var(&a, "DIALSTATUS", "ANSWER"));
        push(&mut var(&a, "DIALEDPEERNAME", &ph(V::BChan)));
        push(&mut var(&a, "DIALEDPEERNUMBER", &bn));
        b.exten = String::new();
        push(&mut dial("DialEnd", &a, &b, "DialStatus", "ANSWER"));
        a.state = 6;
        push(Ev::a20("Newstate", call).chan("", &a));
        push(Ev::a20("BridgeCreate", call).bridge(V::Br1, 0));
        push(&mut newexten(&b, "", "AppDial", "(Outgoing Line)"));
        push(Ev::a20("BridgeEnter", call).bridge(V::Br1, 1).chan("", &b));
        push(Ev::a20("BridgeEnter", call).bridge(V::Br1, 2).chan("", &a));
        push(&mut var(&b, "BRIDGEPEER", &ph(V::AChan)));
        push(&mut var(&b, "BRIDGEPVTCALLID", &ph(V::SipCallId)));
        push(&mut var(&a, "BRIDGEPEER", &ph(V::BChan)));
        push(&mut var(&a, "BRIDGEPVTCALLID", &ph(V::BSipCallId)));

        let mut teardown = Vec::new();
        let mut push = |e: &mut Ev| teardown.push(e.render());
        // RTP statistics of both legs, each set on its own channel and on the peer.
        for (x, y, ssrc) in [(&a, &b, "1973213245"), (&b, &a, "721122049")] {
            for (stat, value) in RTP_STATS {
                let value = value.replace("{ssrc}", ssrc);
                push(&mut var(x, stat, &value));
                push(&mut var(y, &format!("{stat}BRIDGED"), &value));
            }
        }
        push(&mut with_cause("HangupRequest", &a, false));
        push(&mut var(&a, "BRIDGEPEER", ""));
        push(&mut var(&a, "BRIDGEPVTCALLID", ""));
        push(&mut var(&b, "BRIDGEPEER", ""));
        push(&mut var(&b, "BRIDGEPVTCALLID", ""));
        push(Ev::a20("BridgeLeave", call).bridge(V::Br1, 1).chan("", &a));
        push(&mut var(&a, "ANSWEREDTIME", "4"));
        push(&mut var(&a, "ANSWEREDTIME_MS", "4004"));
        push(&mut var(&a, "DIALEDTIME", "7"));
        push(&mut var(&a, "DIALEDTIME_MS", "7011"));
        push(Ev::a20("BridgeLeave", call).bridge(V::Br1, 0).chan("", &b));
        push(&mut var(&a, "DIALSTATUS", "ANSWER"));
        push(Ev::a20("BridgeDestroy", call).bridge(V::Br1, 0));
        push(&mut with_cause("SoftHangupRequest", &a, false));
        push(&mut ext_status(V::BNum, 0, "Idle"));
        push(&mut var(&b, "RTPAUDIOQOS", &RTP_STATS[0].1.replace("{ssrc}", "1103569219")));
        push(&mut dev_state(V::BNum, "NOT_INUSE"));
        push(&mut with_cause("Hangup", &b, true));
        push(&mut dev_state(V::ANum, "NOT_INUSE"));
        push(&mut ext_status(V::ANum, 0, "Idle"));
        push(
            Ev::a20("Cdr", "cdr,all")
                .kv("AccountCode", "")
                .kv("Source", an.clone())
                .kv("Destination", bn.clone())
                .kv("DestinationContext", "internal")
                .kv("CallerID", format!("\"{}\" <{an}>", ph(V::AName)))
                .kv("Channel", ph(V::AChan))
                .kv("DestinationChannel", ph(V::BChan))
                .kv("LastApplication", "Dial")
                .kv("LastData", dial_data.clone())
                .kv("StartTime", "2026-11-26 03:09:42")
                .kv("AnswerTime", "2026-11-26 03:09:45")
                .kv("EndTime", "2026-11-26 03:09:49")
                .kv("Duration", "7")
                .kv("BillableSeconds", "4")
                .kv("Disposition", "ANSWERED")
                .kv("AMAFlags", "DOCUMENTATION")
                .kv("UniqueID", ph(V::AUid))
                .kv("UserField", ""),
        );
        push(&mut with_cause("Hangup", &a, true));

        CallShape {
            name: "direct",
            channels: 2,
            normalized: DIRECT_EVENTS_PER_CALL,
            vars: direct_vars,
            setup: parse_all(&setup),
            teardown: parse_all(&teardown),
        }
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

/// Normalized events the tracker reports per `local_pair` call: `Originated`,
/// `Delivered`, `Established`, two `ConnectionCleared`, `CallCleared`.
const LOCAL_PAIR_EVENTS_PER_CALL: usize = 6;

/// Normalized events the tracker reports per `direct` call: the same six, plus five
/// `DeviceState` from the `ExtensionStatus`/`DeviceStateChange` noise (caller and callee
/// `InUse`, callee `Ringing` before that, both `Idle` at the end).
const DIRECT_EVENTS_PER_CALL: usize = 11;

/// The RTP statistics Asterisk 20's `chan_sip` sets on hangup (`RTPAUDIOQOS...`), as in
/// `asterisk20/sip_call.ami`.
const RTP_STATS: [(&str, &str); 5] = [
    (
        "RTPAUDIOQOS",
        "ssrc={ssrc};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;\
         rtt=0.000000;rxmes=0.000000;txmes=0.000000",
    ),
    (
        "RTPAUDIOQOSJITTER",
        "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;\
         stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;\
         avgtxjitter=000.000000;stdevtxjitter=000.000000;",
    ),
    (
        "RTPAUDIOQOSLOSS",
        "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  \
         stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;  \
         avgtxlost=000.000000;  stdevtxlost=000.000000;",
    ),
    (
        "RTPAUDIOQOSRTT",
        "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     \
         stdevrtt=000.000000;",
    ),
    (
        "RTPAUDIOQOSMES",
        "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;   \
         stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;   \
         avgtxmes=000.000000;   stdevtxmes=000.000000;",
    ),
];

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
            active.push(((shape.vars)(started), 0));
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

/// `SYN_CALLS` calls of `shape`, interleaved, as criterion group `group`.
fn bench_calls(c: &mut Criterion, shape: &CallShape, group: &str) {
    let (data, events) = synthetic_stream(shape, SYN_CALLS, SYN_CONCURRENCY);
    let (msgs, evs, norm) = decode_track(&data);
    assert_eq!((msgs, evs), (events, events), "{group}: the synthetic stream must decode whole");
    assert_eq!(
        norm,
        shape.normalized * SYN_CALLS as usize,
        "{group}: the tracker must report {} events for every {} call",
        shape.normalized,
        shape.name
    );
    eprintln!(
        "{group}: {SYN_CALLS} calls of the {} shape ({} channels, {} events each), about \
         {SYN_CONCURRENCY} in progress at once",
        shape.name,
        shape.channels,
        shape.events()
    );
    bench_group(c, group, &data, Duration::from_secs(8));
}

fn bench_synthetic(c: &mut Criterion) {
    bench_calls(c, &CallShape::local_pair(), "tracker/synthetic_calls");
}

fn bench_direct(c: &mut Criterion) {
    let shape = CallShape::direct();
    check_direct_shape(&shape);
    bench_calls(c, &shape, "tracker/direct_calls");
}

/// Asserts that the `direct` shape, rendered with the values of
/// `asterisk20/sip_call.ami`, is that capture's call byte for byte: every event from
/// the first `Newchannel` to the last `Hangup`, in order, with the same fields in the
/// same order and the same values.
fn check_direct_shape(shape: &CallShape) {
    let path = vectors_dir().join("ami/asterisk20/sip_call.ami");
    let data = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("reading {} ({e}); set CTILINK_VECTORS to the vectors directory", path.display())
    });
    let find = |pat: &[u8]| data.windows(pat.len()).position(|w| w == pat);
    let rfind = |pat: &[u8]| data.windows(pat.len()).rposition(|w| w == pat);
    let start = find(b"Event: Newchannel\r\n").expect("a Newchannel in sip_call.ami");
    let last = rfind(b"Event: Hangup\r\n").expect("a Hangup in sip_call.ami");
    let end = last + data[last..].windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let want = &data[start..end];
    let mut got = Vec::new();
    let vars = sip_call_vars();
    for i in 0..shape.events() {
        shape.event(i).render(&vars, &mut got);
    }
    if got != want {
        let (g, w) = (String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
        let (line, (gl, wl)) = g
            .split("\r\n")
            .zip(w.split("\r\n"))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("(same lines, different length)", "")));
        panic!(
            "the direct shape is not {}'s call: line {} of the call is {gl:?}, the capture has {wl:?}",
            path.display(),
            line + 1
        );
    }
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
        let vars = (shape.vars)(n);
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

/// Live blocks by size (the `BY_SIZE`, `BIG_BLOCKS` and `BIG_BYTES` counters), copied
/// onto the stack so that taking one allocates nothing.
struct Sizes {
    small: [isize; SMALL_MAX + 1],
    big_blocks: [isize; 64],
    big_bytes: [isize; 64],
}

fn sizes() -> Sizes {
    Sizes {
        small: std::array::from_fn(|i| BY_SIZE[i].load(Relaxed)),
        big_blocks: std::array::from_fn(|i| BIG_BLOCKS[i].load(Relaxed)),
        big_bytes: std::array::from_fn(|i| BIG_BYTES[i].load(Relaxed)),
    }
}

/// The blocks live now and not at `base`, by size, largest total first.
fn print_sizes(label: &str, calls: u32, base: &Sizes) {
    let now = sizes();
    println!("{label}: live blocks by size at {calls} calls (largest shares):");
    let mut rows: Vec<(String, isize, isize)> = Vec::new();
    for (size, (n, n0)) in now.small.iter().zip(&base.small).enumerate() {
        let n = n - n0;
        if n > 0 {
            rows.push((format!("{size} B"), n, n * size as isize));
        }
    }
    for b in 0..64 {
        let n = now.big_blocks[b] - base.big_blocks[b];
        if n > 0 {
            let label = format!("{}..{} KiB", (1usize << b) / 1024, (2usize << b) / 1024);
            rows.push((label, n, now.big_bytes[b] - base.big_bytes[b]));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    for (size, n, total) in rows.iter().take(14) {
        println!(
            "{label}:   {size:>14} x {n:>7} = {:>7.2} MB ({:>5.1} B per call)",
            mb(*total),
            *total as f64 / f64::from(calls)
        );
    }
}

/// The memory report for `calls` concurrent established calls of `shape`.
fn memory_report(shape: &CallShape, calls: u32) {
    let label = format!("memory[{}]", shape.name);
    let chans = shape.channels;
    let limits = TrackerLimits { max_channels: chans * calls as usize + 1024, ..TrackerLimits::default() };
    // Printed before counting starts, so that stdout's buffer is not counted.
    println!(
        "{label}: {calls} concurrent established calls ({chans} channels each, {} setup \
         events), then all hung up ({} events each)",
        shape.setup.len(),
        shape.teardown.len()
    );
    trim_heap();
    let rss0 = rss();
    let base_sizes = sizes();
    ON.store(true, Relaxed);
    let base = heap();
    PEAK.store(base.bytes, Relaxed);

    let mut t = Tracker::with_limits(limits);
    let (events, busy) = run_phase(shape, &mut t, calls, true);
    let open = heap();
    let rss1 = rss();
    let (open_calls, channels) = (t.open_calls(), t.channels());
    assert_eq!(open_calls, calls as usize, "{label}: every call must be open");
    assert_eq!(channels, chans * calls as usize, "{label}: {chans} channels per call");

    let bytes = open.bytes - base.bytes;
    let per_call = bytes as f64 / f64::from(calls);
    println!(
        "{label}: {calls} calls, {bytes} bytes, {per_call:.0} bytes per call \
         ({channels} channels; goal < 2048 bytes per call: {})",
        if per_call < 2048.0 { "met" } else { "MISSED" }
    );
    println!(
        "{label}: {} live blocks ({:.1} per call); with glibc malloc's headers and rounding \
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
        "{label}: building them: {events} events decoded and tracked in {:.2} s \
         ({:.0} events/s with the counting allocator on); peak {:.1} MB live (tables \
         old and new during a resize)",
        busy.as_secs_f64(),
        events as f64 / busy.as_secs_f64(),
        mb(PEAK.load(Relaxed) - base.bytes)
    );
    print_sizes(&label, calls, &base_sizes);

    let (events, busy) = run_phase(shape, &mut t, calls, false);
    let closed = heap();
    println!(
        "{label}: after hanging all up ({events} events, {:.2} s): open_calls() == {}, \
         channels() == {}, {} bytes live ({:.1} MB, {} blocks) above the baseline",
        busy.as_secs_f64(),
        t.open_calls(),
        t.channels(),
        closed.bytes - base.bytes,
        mb(closed.bytes - base.bytes),
        closed.blocks - base.blocks,
    );
    assert_eq!(t.open_calls(), 0, "{label}: every call must be cleared");
    drop(t);
    let dropped = heap();
    ON.store(false, Relaxed);
    println!("{label}: after dropping the tracker: {} bytes above the baseline", dropped.bytes - base.bytes);
}

// ---------------------------------------------------------------------------

criterion_group!(benches, bench_real, bench_synthetic, bench_direct);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list");
    let calls: u32 = match std::env::var("CTILINK_MEMORY_CALLS") {
        Ok(v) => v.trim().parse().expect("CTILINK_MEMORY_CALLS must be a number of calls"),
        Err(_) => 100_000,
    };
    if !listing && calls > 0 {
        for shape in [CallShape::local_pair(), CallShape::direct()] {
            let start = Instant::now();
            memory_report(&shape, calls);
            eprintln!("memory[{}]: measurement took {:.1} s", shape.name, start.elapsed().as_secs_f64());
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
