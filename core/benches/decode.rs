//! AMI decoder throughput (issue 2, section 8).
//!
//! `cargo bench -p ctilink --bench decode`
//!
//! Groups:
//! - `decode_bytes`: bytes per second (`Throughput::Bytes`);
//! - `decode_msgs`: messages per second (`Throughput::Elements`), same inputs;
//! - `frame5`: one 5-header frame (`Event`, `Privilege`, `Channel`, `Uniqueid`,
//!   `Cause`), the figure to hold against "0.5 us per 5-header frame";
//! - `lookup`: three `get()` calls on a 20-header message.
//!
//! Inputs: every real capture of `$CTILINK_VECTORS/ami/real/*.ami` and
//! `$CTILINK_VECTORS/ami/asterisk20/*.ami` concatenated in memory (default
//! `tests/vectors` in the repository; skipped with a note when absent), and
//! a synthetic stream of ~10k Asterisk 20 call events built below. Each is decoded
//! from one `BytesMut` per iteration, both whole (one buffer holding everything) and
//! as a socket would deliver it (16 KiB reads appended to the buffer).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ctilink::ami::{Decoder, Frame, Message};

/// Size of one simulated socket read.
const READ: usize = 16 * 1024;

fn vectors_dir() -> PathBuf {
    match std::env::var_os("CTILINK_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors")),
    }
}

/// All real captures, sorted by path, joined by a blank line (so that a file which
/// ends mid-line cannot glue itself onto the next file's banner).
fn real_captures() -> Option<(Vec<u8>, usize)> {
    let root = vectors_dir().join("ami");
    let mut files = Vec::new();
    for sub in ["real", "asterisk20"] {
        let Ok(rd) = std::fs::read_dir(root.join(sub)) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "ami") {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        return None;
    }
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        out.extend_from_slice(&std::fs::read(f).ok()?);
        out.extend_from_slice(b"\r\n\r\n");
    }
    Some((out, files.len()))
}

/// Decodes `data` from one buffer holding all of it; returns (messages, errors).
fn decode_whole(data: &[u8]) -> (usize, usize) {
    let mut buf = BytesMut::from(data);
    let mut d = Decoder::default();
    let (mut msgs, mut errs) = (0, 0);
    loop {
        match d.decode_eof(&mut buf) {
            Ok(Some(f)) => {
                black_box(&f);
                msgs += 1;
            }
            Ok(None) => break,
            Err(e) => {
                black_box(&e);
                errs += 1;
            }
        }
    }
    (msgs, errs)
}

/// Decodes `data` as it would arrive from a socket: `read`-sized chunks appended
/// to one buffer, draining complete frames after each read.
fn decode_reads(data: &[u8], read: usize) -> (usize, usize) {
    let mut buf = BytesMut::with_capacity(4 * read);
    let mut d = Decoder::default();
    let (mut msgs, mut errs) = (0, 0);
    for chunk in data.chunks(read) {
        buf.extend_from_slice(chunk);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(f)) => {
                    black_box(&f);
                    msgs += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    black_box(&e);
                    errs += 1;
                }
            }
        }
    }
    loop {
        match d.decode_eof(&mut buf) {
            Ok(Some(f)) => {
                black_box(&f);
                msgs += 1;
            }
            Ok(None) => break,
            Err(_) => errs += 1,
        }
    }
    (msgs, errs)
}

// ---------------------------------------------------------------------------
// Synthetic Asterisk 20 call events.

/// One channel as Asterisk 20 describes it in channel events.
struct Chan {
    name: String,
    state: (u8, &'static str),
    num: String,
    cid_name: String,
    cl_num: String,
    cl_name: String,
    context: &'static str,
    exten: String,
    priority: u32,
    uniqueid: String,
    linkedid: String,
}

impl Chan {
    /// The 14 channel fields every channel event carries (`Dest` prefix in Dial*).
    fn write(&self, out: &mut String, prefix: &str) {
        use std::fmt::Write;
        let _ = write!(
            out,
            "{p}Channel: {}\r\n{p}ChannelState: {}\r\n{p}ChannelStateDesc: {}\r\n\
             {p}CallerIDNum: {}\r\n{p}CallerIDName: {}\r\n{p}ConnectedLineNum: {}\r\n\
             {p}ConnectedLineName: {}\r\n{p}Language: en\r\n{p}AccountCode: \r\n\
             {p}Context: {}\r\n{p}Exten: {}\r\n{p}Priority: {}\r\n{p}Uniqueid: {}\r\n\
             {p}Linkedid: {}\r\n",
            self.name,
            self.state.0,
            self.state.1,
            self.num,
            self.cid_name,
            self.cl_num,
            self.cl_name,
            self.context,
            self.exten,
            self.priority,
            self.uniqueid,
            self.linkedid,
            p = prefix,
        );
    }
}

fn event(out: &mut String, name: &str, privilege: &str) {
    out.push_str("Event: ");
    out.push_str(name);
    out.push_str("\r\nPrivilege: ");
    out.push_str(privilege);
    out.push_str("\r\n");
}

fn kv(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push_str(": ");
    out.push_str(v);
    out.push_str("\r\n");
}

/// The bridge fields Asterisk 20 puts first in every Bridge* event.
fn bridge_event(out: &mut String, name: &str, bridge: &str, num_channels: &str) {
    event(out, name, "call,all");
    kv(out, "BridgeUniqueid", bridge);
    kv(out, "BridgeType", "basic");
    kv(out, "BridgeTechnology", "simple_bridge");
    kv(out, "BridgeCreator", "<unknown>");
    kv(out, "BridgeName", "<unknown>");
    kv(out, "BridgeNumChannels", num_channels);
    kv(out, "BridgeVideoSourceMode", "none");
}

/// The channel events of one answered SIP call between two phones, with the
/// names, fields and order Asterisk 20 emits (after `asterisk20/sip_call.ami`).
/// Returns the number of events written.
fn synthetic_call(out: &mut String, n: u32) -> usize {
    let t = 1_795_662_582 + n / 4;
    let (a, b) = (100 + n % 50, 150 + (n * 7) % 50);
    let uid_a = format!("{t}.{}", 2 * n);
    let uid_b = format!("{t}.{}", 2 * n + 1);
    let mut ca = Chan {
        name: format!("SIP/{a}-{:08x}", 2 * n),
        state: (0, "Down"),
        num: a.to_string(),
        cid_name: format!("Phone {a}"),
        cl_num: "<unknown>".into(),
        cl_name: "<unknown>".into(),
        context: "internal",
        exten: b.to_string(),
        priority: 1,
        uniqueid: uid_a.clone(),
        linkedid: uid_a.clone(),
    };
    let mut cb = Chan {
        name: format!("SIP/{b}-{:08x}", 2 * n + 1),
        state: (0, "Down"),
        num: b.to_string(),
        cid_name: format!("Phone {b}"),
        cl_num: a.to_string(),
        cl_name: format!("Phone {a}"),
        context: "internal",
        exten: "s".into(),
        priority: 1,
        uniqueid: uid_b,
        linkedid: uid_a.clone(),
    };
    let bridge = format!("{:08x}-2f1c-4a57-9b3e-{:012x}", n, u64::from(n) * 7919);
    let mut count = 0;
    let mut end = |out: &mut String| {
        out.push_str("\r\n");
        count += 1;
    };

    event(out, "Newchannel", "call,all");
    ca.write(out, "");
    end(out);
    event(out, "VarSet", "dialplan,all");
    ca.write(out, "");
    kv(out, "Variable", "SIPCALLID");
    kv(out, "Value", &format!("{n}-21380@127.0.0.1"));
    end(out);
    ca.state = (4, "Ring");
    event(out, "Newstate", "call,all");
    ca.write(out, "");
    end(out);
    event(out, "Newexten", "dialplan,all");
    ca.write(out, "");
    kv(out, "Extension", &ca.exten);
    kv(out, "Application", "NoOp");
    kv(out, "AppData", &format!("Call from \"Phone {a}\" <{a}> to {b}"));
    end(out);
    ca.priority = 2;
    event(out, "Newexten", "dialplan,all");
    ca.write(out, "");
    kv(out, "Extension", &ca.exten);
    kv(out, "Application", "Dial");
    kv(out, "AppData", &format!("SIP/{b},30,tT"));
    end(out);
    event(out, "Newchannel", "call,all");
    cb.write(out, "");
    end(out);
    event(out, "DialBegin", "call,all");
    ca.write(out, "");
    cb.write(out, "Dest");
    kv(out, "DialString", &b.to_string());
    end(out);
    cb.state = (5, "Ringing");
    event(out, "Newstate", "call,all");
    cb.write(out, "");
    end(out);
    event(out, "DialState", "call,all");
    ca.write(out, "");
    cb.write(out, "Dest");
    kv(out, "DialStatus", "RINGING");
    end(out);
    cb.state = (6, "Up");
    event(out, "Newstate", "call,all");
    cb.write(out, "");
    end(out);
    event(out, "DialEnd", "call,all");
    ca.write(out, "");
    cb.write(out, "Dest");
    kv(out, "DialStatus", "ANSWER");
    end(out);
    ca.state = (6, "Up");
    ca.cl_num = b.to_string();
    ca.cl_name = format!("Phone {b}");
    event(out, "Newstate", "call,all");
    ca.write(out, "");
    end(out);
    bridge_event(out, "BridgeCreate", &bridge, "0");
    end(out);
    for (c, num) in [(&cb, "1"), (&ca, "2")] {
        bridge_event(out, "BridgeEnter", &bridge, num);
        c.write(out, "");
        end(out);
    }
    event(out, "HangupRequest", "call,all");
    ca.write(out, "");
    kv(out, "Cause", "16");
    end(out);
    for (c, num) in [(&ca, "1"), (&cb, "0")] {
        bridge_event(out, "BridgeLeave", &bridge, num);
        c.write(out, "");
        end(out);
    }
    for c in [&ca, &cb] {
        event(out, "Hangup", "call,all");
        c.write(out, "");
        kv(out, "Cause", "16");
        kv(out, "Cause-txt", "Normal Clearing");
        end(out);
    }
    event(out, "Cdr", "cdr,all");
    kv(out, "AccountCode", "");
    kv(out, "Source", &a.to_string());
    kv(out, "Destination", &b.to_string());
    kv(out, "DestinationContext", "internal");
    kv(out, "CallerID", &format!("\"Phone {a}\" <{a}>"));
    kv(out, "Channel", &ca.name);
    kv(out, "DestinationChannel", &cb.name);
    kv(out, "LastApplication", "Dial");
    kv(out, "LastData", &format!("SIP/{b},30,tT"));
    kv(out, "StartTime", "2026-11-26 03:09:42");
    kv(out, "AnswerTime", "2026-11-26 03:09:45");
    kv(out, "EndTime", "2026-11-26 03:09:49");
    kv(out, "Duration", "7");
    kv(out, "BillableSeconds", "4");
    kv(out, "Disposition", "ANSWERED");
    kv(out, "AMAFlags", "DOCUMENTATION");
    kv(out, "UniqueID", &ca.uniqueid);
    kv(out, "UserField", "");
    end(out);
    count
}

/// About `events` call events, whole calls.
fn synthetic_stream(events: usize) -> (Vec<u8>, usize) {
    let mut out = String::new();
    let (mut n, mut count) = (0, 0);
    while count < events {
        count += synthetic_call(&mut out, n);
        n += 1;
    }
    (out.into_bytes(), count)
}

const FRAME5: &[u8] = b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/100-00000001\r\n\
Uniqueid: 1700000000.1\r\nCause: 16\r\n\r\n";

/// A 20-header message: a Hangup as Asterisk 20 sends it, plus the 2 fields a
/// `SystemName`/manager-debug setup adds.
const FRAME20: &[u8] = b"Event: Hangup\r\nPrivilege: call,all\r\nSystemName: pbx1\r\n\
Channel: SIP/101-00000000\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 101\r\n\
CallerIDName: Phone 101\r\nConnectedLineNum: 100\r\nConnectedLineName: Phone 100\r\n\
Language: en\r\nAccountCode: \r\nContext: internal\r\nExten: 100\r\nPriority: 2\r\n\
Uniqueid: 1795662582.2\r\nLinkedid: 1795662582.2\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\
SequenceNumber: 1234\r\n\r\n";

fn decode_one(buf: &mut BytesMut) -> Message {
    match Decoder::default().decode(buf) {
        Ok(Some(Frame::Message(m))) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn headers(data: &[u8]) -> usize {
    let mut buf = BytesMut::from(data);
    let mut d = Decoder::default();
    let mut n = 0;
    while let Ok(Some(f)) = d.decode_eof(&mut buf) {
        if let Frame::Message(m) = f {
            n += m.len();
        }
    }
    n
}

fn streams() -> Vec<(&'static str, Vec<u8>, usize)> {
    let mut v = Vec::new();
    match real_captures() {
        Some((data, files)) => {
            let (msgs, errs) = decode_whole(&data);
            let (msgs_r, errs_r) = decode_reads(&data, READ);
            assert_eq!((msgs, errs), (msgs_r, errs_r), "split reads changed the result");
            eprintln!(
                "real captures: {files} files, {} bytes, {msgs} frames, {errs} errors, {:.1} bytes/frame",
                data.len(),
                data.len() as f64 / msgs as f64
            );
            v.push(("real", data, msgs));
        }
        None => eprintln!(
            "real captures not found under {} (set CTILINK_VECTORS): skipping that input",
            vectors_dir().display()
        ),
    }
    let (syn, events) = synthetic_stream(10_000);
    let (msgs, errs) = decode_whole(&syn);
    assert_eq!((msgs, errs), (events, 0));
    eprintln!(
        "synthetic: {events} events, {} bytes, {:.1} bytes/event, {:.1} headers/event",
        syn.len(),
        syn.len() as f64 / events as f64,
        headers(&syn) as f64 / events as f64
    );
    v.push(("synthetic", syn, events));
    let frames5 = FRAME5.repeat(10_000);
    v.push(("frame5x10k", frames5, 10_000));
    v
}

fn bench_streams(c: &mut Criterion) {
    let inputs = streams();
    for (group, by_bytes) in [("decode_bytes", true), ("decode_msgs", false)] {
        let mut g = c.benchmark_group(group);
        g.measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(50);
        for (name, data, msgs) in &inputs {
            g.throughput(if by_bytes {
                Throughput::Bytes(data.len() as u64)
            } else {
                Throughput::Elements(*msgs as u64)
            });
            g.bench_function(format!("{name}/whole"), |b| b.iter(|| decode_whole(black_box(data))));
            g.bench_function(format!("{name}/16k_reads"), |b| b.iter(|| decode_reads(black_box(data), READ)));
        }
        g.finish();
    }
}

fn bench_frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame5");
    g.throughput(Throughput::Elements(1));
    // The decoder and buffer are made outside the timed part: only decode() counts.
    g.bench_function("decode_one", |b| {
        b.iter_batched(
            || (Decoder::default(), BytesMut::from(FRAME5)),
            |(mut d, mut buf)| d.decode(&mut buf),
            BatchSize::SmallInput,
        )
    });
    // Everything a caller pays for one frame from bytes: buffer, decoder, decode.
    g.bench_function("decode_one_with_setup", |b| {
        b.iter(|| decode_one(&mut BytesMut::from(black_box(FRAME5))))
    });
    g.finish();

    let m = decode_one(&mut BytesMut::from(FRAME20));
    assert_eq!(m.len(), 20);
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(3));
    g.bench_function("get3_of_20", |b| {
        b.iter(|| {
            let m = black_box(&m);
            (m.get("Channel"), m.get("Uniqueid"), m.get("Cause"))
        })
    });
    g.bench_function("get3_of_20_lowercase", |b| {
        b.iter(|| {
            let m = black_box(&m);
            (m.get("channel"), m.get("uniqueid"), m.get("cause"))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_streams, bench_frames);
criterion_main!(benches);
