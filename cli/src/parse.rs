//! `ctilink parse FILE...`: decode AMI capture files and count what they hold.
//!
//! Each file is read into memory and decoded as one stream with the SDK's own
//! [`Decoder`]: the counts of banners, events, responses, actions and other
//! messages, the decoder errors (with the text of the first few) and the junk bytes
//! it skipped. `--json` prints one JSON object per file and one for the total.
//! `--timing --repeat N` decodes each file N times from memory and reports MB/s
//! and messages/s (the figure `benches/peers/run.sh` holds against other parsers).
//!
//! Exit status: 0 when every file decoded without error, 1 when any decoder error
//! occurred, 2 when a file could not be read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ctilink::ami::{DecodeError, Decoder, Frame, MessageKind};
use serde_json::{json, Value};

/// How many decoder errors of one file are shown with their text.
const ERROR_SAMPLES: usize = 5;

/// Arguments of `ctilink parse`.
#[derive(clap::Args, Debug)]
pub(crate) struct ParseArgs {
    /// AMI capture files (raw bytes as received from or sent to port 5038).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print one JSON object per file, then one with the totals.
    #[arg(long)]
    json: bool,
    /// With --timing: decode each file this many times from memory.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "timing",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    repeat: usize,
    /// Time the decoding (file reading excluded) and print MB/s and messages/s.
    #[arg(long)]
    timing: bool,
}

/// What decoding one stream found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Counts {
    bytes: u64,
    banners: u64,
    events: u64,
    responses: u64,
    actions: u64,
    other: u64,
    errors: u64,
    skipped_bytes: u64,
    /// Text of the first [`ERROR_SAMPLES`] errors.
    error_samples: Vec<String>,
}

impl Counts {
    fn messages(&self) -> u64 {
        self.events + self.responses + self.actions + self.other
    }

    fn add(&mut self, o: &Counts) {
        self.bytes += o.bytes;
        self.banners += o.banners;
        self.events += o.events;
        self.responses += o.responses;
        self.actions += o.actions;
        self.other += o.other;
        self.errors += o.errors;
        self.skipped_bytes += o.skipped_bytes;
    }

    fn error(&mut self, e: &DecodeError) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(e.to_string());
        }
    }

    fn frame(&mut self, f: &Frame) {
        match f {
            Frame::Banner(_) => self.banners += 1,
            Frame::Message(m) => match m.kind() {
                MessageKind::Event => self.events += 1,
                MessageKind::Response => self.responses += 1,
                MessageKind::Action => self.actions += 1,
                MessageKind::Other => self.other += 1,
            },
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "bytes": self.bytes,
            "banners": self.banners,
            "events": self.events,
            "responses": self.responses,
            "actions": self.actions,
            "other": self.other,
            "messages": self.messages(),
            "errors": self.errors,
            "skipped_bytes": self.skipped_bytes,
        })
    }

    fn summary(&self) -> String {
        format!(
            "{} bytes, {} banners, {} events, {} responses, {} actions, {} other, {} errors, {} bytes skipped",
            self.bytes,
            self.banners,
            self.events,
            self.responses,
            self.actions,
            self.other,
            self.errors,
            self.skipped_bytes
        )
    }
}

/// Decodes `data` as one AMI stream, end of stream included.
fn decode(data: &[u8]) -> Counts {
    let mut counts = Counts { bytes: data.len() as u64, ..Counts::default() };
    let mut buf = BytesMut::from(data);
    let mut decoder = Decoder::default();
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(frame)) => counts.frame(&frame),
            Ok(None) => break,
            Err(e) => counts.error(&e),
        }
    }
    counts.skipped_bytes = decoder.skipped_bytes();
    counts
}

/// Decoding rate over `repeat` passes of `data`.
#[derive(Clone, Copy, Debug)]
struct Timing {
    repeat: usize,
    elapsed: Duration,
    bytes: u64,
    messages: u64,
}

impl Timing {
    fn measure(data: &[u8], repeat: usize) -> Self {
        let mut messages = 0;
        let start = Instant::now();
        for _ in 0..repeat {
            messages += std::hint::black_box(decode(std::hint::black_box(data))).messages();
        }
        let elapsed = start.elapsed();
        Self { repeat, elapsed, bytes: data.len() as u64 * repeat as u64, messages }
    }

    fn add(&mut self, o: &Timing) {
        self.elapsed += o.elapsed;
        self.bytes += o.bytes;
        self.messages += o.messages;
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn messages_per_s(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn to_json(self) -> Value {
        json!({
            "repeat": self.repeat,
            "seconds": self.elapsed.as_secs_f64(),
            "bytes": self.bytes,
            "messages": self.messages,
            "mb_per_s": self.mb_per_s(),
            "messages_per_s": self.messages_per_s(),
        })
    }

    fn summary(&self) -> String {
        format!(
            "{} x decoded in {:.3} s: {:.1} MB/s, {:.0} messages/s",
            self.repeat,
            self.elapsed.as_secs_f64(),
            self.mb_per_s(),
            self.messages_per_s()
        )
    }
}

/// The outcome for one file.
enum FileResult {
    Unreadable(std::io::Error),
    Decoded(Counts, Option<Timing>),
}

fn parse_file(path: &Path, args: &ParseArgs) -> FileResult {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => return FileResult::Unreadable(e),
    };
    let counts = decode(&data);
    let timing = args.timing.then(|| Timing::measure(&data, args.repeat));
    FileResult::Decoded(counts, timing)
}

/// Runs `ctilink parse`, writing the report to `out`; returns the exit status
/// (0 clean, 1 decoder errors, 2 unreadable file).
fn report(args: &ParseArgs, out: &mut dyn Write) -> u8 {
    let mut total = Counts::default();
    let mut total_timing: Option<Timing> = None;
    let (mut files, mut unreadable) = (0u64, 0u64);
    for path in &args.files {
        let name = path.display().to_string();
        match parse_file(path, args) {
            FileResult::Unreadable(e) => {
                unreadable += 1;
                eprintln!("ctilink parse: cannot read {name}: {e}");
                if args.json {
                    let _ = writeln!(out, "{}", json!({ "file": name, "read_error": e.to_string() }));
                }
            }
            FileResult::Decoded(counts, timing) => {
                files += 1;
                total.add(&counts);
                if let Some(t) = &timing {
                    match &mut total_timing {
                        Some(tt) => tt.add(t),
                        None => total_timing = Some(*t),
                    }
                }
                if args.json {
                    let mut obj = counts.to_json();
                    obj["file"] = json!(name);
                    obj["error_samples"] = json!(counts.error_samples);
                    if let Some(t) = timing {
                        obj["timing"] = t.to_json();
                    }
                    let _ = writeln!(out, "{obj}");
                } else {
                    let _ = writeln!(out, "{name}: {}", counts.summary());
                    for e in &counts.error_samples {
                        let _ = writeln!(out, "  error: {e}");
                    }
                    let more = counts.errors.saturating_sub(counts.error_samples.len() as u64);
                    if more > 0 {
                        let _ = writeln!(out, "  ... and {more} more errors");
                    }
                    if let Some(t) = timing {
                        let _ = writeln!(out, "  timing: {}", t.summary());
                    }
                }
            }
        }
    }
    if args.json {
        let mut obj = total.to_json();
        obj["total"] = json!(true);
        obj["files"] = json!(files);
        obj["unreadable_files"] = json!(unreadable);
        if let Some(t) = total_timing {
            obj["timing"] = t.to_json();
        }
        let _ = writeln!(out, "{obj}");
    } else if args.files.len() > 1 || unreadable > 0 {
        let _ = writeln!(out, "total: {files} files ({unreadable} unreadable), {}", total.summary());
        if let Some(t) = total_timing {
            let _ = writeln!(out, "  timing: {}", t.summary());
        }
    }
    let _ = out.flush();
    if unreadable > 0 {
        2
    } else if total.errors > 0 {
        1
    } else {
        0
    }
}

/// Runs `ctilink parse` on stdout.
pub(crate) fn run(args: &ParseArgs) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    ExitCode::from(report(args, &mut out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ParseArgs,
    }

    fn args(argv: &[&str]) -> ParseArgs {
        Cli::try_parse_from(std::iter::once("parse").chain(argv.iter().copied())).unwrap().args
    }

    fn temp_file(name: &str, data: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ctilink-parse-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    fn run_to_string(a: &ParseArgs) -> (u8, String) {
        let mut out = Vec::new();
        let code = report(a, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    const CLEAN: &[u8] = b"Asterisk Call Manager/9.0.0\r\n\
Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n\
Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n\
Action: Ping\r\nActionID: 2\r\n\r\n\
Event: Hangup\r\nChannel: SIP/100-00000001\r\nCause: 16\r\n\r\n";

    #[test]
    fn counts_each_kind() {
        let c = decode(CLEAN);
        assert_eq!(
            c,
            Counts {
                bytes: CLEAN.len() as u64,
                banners: 1,
                events: 2,
                responses: 1,
                actions: 1,
                ..Counts::default()
            }
        );
        assert_eq!(c.messages(), 4);
    }

    #[test]
    fn errors_are_counted_with_their_text() {
        let mut data = b"Event: A\r\n\x01\x02garbage\r\n\r\nEvent: B\r\n\r\n".to_vec();
        for _ in 0..7 {
            data.extend_from_slice(b"\x01bad\r\n\r\n");
        }
        let c = decode(&data);
        assert_eq!(c.events, 1, "{c:?}");
        assert_eq!(c.errors, 8, "{c:?}");
        assert_eq!(c.error_samples.len(), ERROR_SAMPLES);
        assert!(c.error_samples[0].contains("invalid AMI line"), "{:?}", c.error_samples);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let c = decode(b"Response: Follows\r\nPrivilege: Command\r\nsome output\r\n");
        assert_eq!(c.errors, 1);
        assert!(c.error_samples[0].contains("ended inside a message"));
    }

    #[test]
    fn skipped_junk_is_reported() {
        let c = decode(b"[218 bytes missing in capture file]Event: Newexten\r\nX: 1\r\n\r\n");
        assert_eq!((c.events, c.errors, c.skipped_bytes), (1, 0, 35));
    }

    #[test]
    fn text_report_and_exit_codes() {
        let good = temp_file("good.ami", CLEAN);
        let bad = temp_file("bad.ami", b"Event: A\r\n\x01\r\n\r\n");
        let a = args(&[good.to_str().unwrap()]);
        let (code, text) = run_to_string(&a);
        assert_eq!(code, 0);
        assert!(text.contains("1 banners, 2 events, 1 responses, 1 actions, 0 other, 0 errors"), "{text}");

        let a = args(&[good.to_str().unwrap(), bad.to_str().unwrap()]);
        let (code, text) = run_to_string(&a);
        assert_eq!(code, 1);
        assert!(text.contains("  error: invalid AMI line"), "{text}");
        assert!(text.contains("total: 2 files (0 unreadable)"), "{text}");

        let missing = good.with_file_name("does-not-exist.ami");
        let a = args(&[bad.to_str().unwrap(), missing.to_str().unwrap()]);
        assert_eq!(run_to_string(&a).0, 2, "an unreadable file wins over decoder errors");
    }

    #[test]
    fn json_one_object_per_file_and_a_total() {
        let good = temp_file("good2.ami", CLEAN);
        let missing = good.with_file_name("missing2.ami");
        let a = args(&["--json", good.to_str().unwrap(), missing.to_str().unwrap()]);
        let (code, text) = run_to_string(&a);
        assert_eq!(code, 2);
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["events"], 2);
        assert_eq!(lines[0]["messages"], 4);
        assert_eq!(lines[0]["errors"], 0);
        assert!(lines[0]["file"].as_str().unwrap().ends_with("good2.ami"));
        assert!(lines[0].get("timing").is_none());
        assert!(lines[1]["read_error"].is_string());
        assert_eq!(lines[2]["total"], true);
        assert_eq!(lines[2]["files"], 1);
        assert_eq!(lines[2]["unreadable_files"], 1);
        assert_eq!(lines[2]["bytes"], CLEAN.len() as u64);
    }

    #[test]
    fn timing_repeats_from_memory() {
        let good = temp_file("good3.ami", CLEAN);
        let a = args(&["--json", "--timing", "--repeat", "3", good.to_str().unwrap()]);
        let (code, text) = run_to_string(&a);
        assert_eq!(code, 0);
        let total: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(total["timing"]["repeat"], 3);
        assert_eq!(total["timing"]["messages"], 12);
        assert_eq!(total["timing"]["bytes"], 3 * CLEAN.len() as u64);
        assert!(total["timing"]["mb_per_s"].as_f64().unwrap() > 0.0);

        let a = args(&["--timing", good.to_str().unwrap()]);
        let (_, text) = run_to_string(&a);
        assert!(text.contains("  timing: 1 x decoded in"), "{text}");
    }

    #[test]
    fn arguments() {
        assert!(Cli::try_parse_from(["parse"]).is_err(), "a file is required");
        assert!(Cli::try_parse_from(["parse", "--repeat", "2", "f"]).is_err(), "--repeat needs --timing");
        assert!(Cli::try_parse_from(["parse", "--timing", "--repeat", "0", "f"]).is_err());
        let a = args(&["--timing", "a", "b"]);
        assert_eq!((a.repeat, a.files.len(), a.json), (1, 2, false));
    }
}
