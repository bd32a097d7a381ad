//! `ctilink replay FILE`: feed an AMI capture through the call model and print what it
//! makes of it.
//!
//! Every message of the capture goes through a fresh [`Tracker`], in order; each
//! normalized `Event` is printed as it comes out, then a summary of the calls and
//! devices the model holds at the end of the capture. Text mode prints one aligned line
//! per event (`delivered          call=... device=... state=alerting caller="Ann" <201>`)
//! and a summary section; `--json` prints each event as its JSON form (the one the SDK
//! defines: the kind in `event`, the fields by name), one per line, and last
//! `{"summary": {"calls_total": N, "calls_open": M, "devices": D}}`.
//!
//! Decoder errors are counted and the first few are shown on stderr; the replay goes on
//! with every message that could be read. Exit status: 0 when the capture was replayed,
//! 2 when the file could not be read.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::BytesMut;
use ctilink::ami::{Decoder, Frame};
use ctilink::model::Tracker;

use crate::event_line::event_line;
use crate::summary::{self, Summary};

/// How many decoder errors are shown with their text.
const ERROR_SAMPLES: usize = 5;

/// Arguments of `ctilink replay`.
#[derive(clap::Args, Debug)]
pub(crate) struct ReplayArgs {
    /// An AMI capture file (raw bytes as received from port 5038).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// One JSON object per line: each event, then a summary object.
    #[arg(long)]
    json: bool,
}

/// Runs `ctilink replay` on stdout.
pub(crate) fn run(args: &ReplayArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let data = match std::fs::read(&args.file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ctilink replay: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = replay(&data, args.json, &mut out, &mut |errors, samples| {
        eprintln!(
            "ctilink replay: {name}: {errors} decoder errors (replaying the messages that could be read)"
        );
        for e in samples {
            eprintln!("  error: {e}");
        }
        if errors > samples.len() {
            eprintln!("  ... and {} more errors", errors - samples.len());
        }
    })
    .and_then(|()| out.flush());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // stdout closed early (e.g. piped into `head`): not an error of the replay.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctilink replay: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Decodes `data`, replays it through a fresh tracker and writes the events and the
/// summary to `out`. `on_errors` gets the number of decoder errors and the text of the
/// first few, when there are any.
///
/// The decoding is the one of [`read_capture`](ctilink::ami::read_capture) (default
/// limits, resynchronising after an error), one message at a time so that a large
/// capture is not held twice in memory.
fn replay(
    data: &[u8],
    json: bool,
    out: &mut dyn Write,
    on_errors: &mut dyn FnMut(usize, &[String]),
) -> std::io::Result<()> {
    let mut buf = BytesMut::from(data);
    let mut decoder = Decoder::default();
    let mut tracker = Tracker::new();
    let (mut messages, mut events, mut errors) = (0usize, 0u64, 0usize);
    let mut samples: Vec<String> = Vec::new();
    let mut evs = Vec::new();
    loop {
        let msg = match decoder.decode_eof(&mut buf) {
            Ok(Some(Frame::Message(m))) => m,
            Ok(Some(Frame::Banner(_))) => continue,
            Ok(None) => break,
            Err(e) => {
                errors += 1;
                if samples.len() < ERROR_SAMPLES {
                    samples.push(e.to_string());
                }
                continue;
            }
        };
        messages += 1;
        evs.clear();
        tracker.apply_into(&msg, &mut evs);
        for ev in &evs {
            events += 1;
            if json {
                writeln!(out, "{}", serde_json::to_string(ev).map_err(std::io::Error::other)?)?;
            } else {
                writeln!(out, "{}", event_line(ev))?;
            }
        }
    }
    if errors > 0 {
        on_errors(errors, &samples);
    }
    let devices = tracker.devices();
    let counts = Summary {
        calls_total: tracker.calls_total(),
        calls_open: tracker.open_calls(),
        devices: devices.len(),
    };
    if json {
        summary::write_json(out, &counts)
    } else {
        let header = format!("{messages} AMI messages ({errors} decoder errors), {events} events");
        summary::write_text(out, &header, &counts, tracker.calls(), &devices)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const CALL: &[u8] = b"Asterisk Call Manager/9.0.0\r\n\
Event: Newchannel\r\nChannel: PJSIP/201-00000001\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n\
CallerIDNum: 201\r\nCallerIDName: Ann\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n\
Exten: 202\r\nContext: internal\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n";

    fn run_replay(data: &[u8], json: bool) -> (String, Vec<(usize, Vec<String>)>) {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        replay(data, json, &mut out, &mut |n, s| errs.push((n, s.to_vec()))).unwrap();
        (String::from_utf8(out).unwrap(), errs)
    }

    #[test]
    fn json_mode_ends_with_the_summary() {
        let (text, errs) = run_replay(CALL, true);
        assert!(errs.is_empty());
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let (last, events) = lines.split_last().unwrap();
        assert_eq!(events.len(), 1, "{text}");
        assert_eq!(events[0]["event"], "originated", "{text}");
        assert_eq!(events[0]["caller"], serde_json::json!({"number": "201", "name": "Ann"}), "{text}");
        assert_eq!(events[0]["called"]["number"], "202", "{text}");
        assert_eq!(*last, serde_json::json!({"summary": {"calls_total": 1, "calls_open": 1, "devices": 0}}));
    }

    #[test]
    fn decoder_errors_are_reported_and_the_replay_goes_on() {
        let mut data = CALL.to_vec();
        data.extend_from_slice(b"\x01\x02 not ami\r\n\r\n");
        let (text, errs) = run_replay(&data, false);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 1);
        assert!(text.contains("summary: 1 AMI messages (1 decoder errors), 1 events"), "{text}");
        assert!(
            text.contains("  calls open:   1\n    call=1.1 caller=\"Ann\" <201> called=<202>\n"),
            "{text}"
        );
        assert!(text.contains("      201  connected  PJSIP/201-00000001\n"), "{text}");
    }

    #[test]
    fn empty_capture_has_an_empty_summary() {
        let (text, _) = run_replay(b"", false);
        assert!(text.contains("calls total:  0"), "{text}");
        assert!(text.contains("calls open:   0"), "{text}");
        assert!(
            text.contains("devices seen: 0 (only device-state and presence events report devices)"),
            "{text}"
        );
        let (json, _) = run_replay(b"", true);
        assert_eq!(json.trim(), r#"{"summary":{"calls_total":0,"calls_open":0,"devices":0}}"#);
    }

    /// The streaming decode gives what `read_capture` gives: same messages, same errors,
    /// so the same events.
    #[test]
    fn same_as_read_capture_on_the_real_captures() {
        let dir = match std::env::var_os("CTILINK_VECTORS") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors"),
        };
        let mut files = 0;
        for sub in ["ami/real", "ami/asterisk20"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|x| x != "ami") {
                    continue;
                }
                files += 1;
                let data = std::fs::read(&path).unwrap();
                let cap = ctilink::ami::read_capture(&data);
                let mut tracker = Tracker::new();
                let mut expected = String::new();
                for m in &cap.messages {
                    for ev in tracker.apply(m) {
                        expected.push_str(&serde_json::to_string(&ev).unwrap());
                        expected.push('\n');
                    }
                }
                let (json, errs) = run_replay(&data, true);
                let (events, _summary) = json.trim_end().rsplit_once('\n').unwrap_or(("", &json));
                let events = if events.is_empty() { String::new() } else { format!("{events}\n") };
                assert_eq!(events, expected, "{}", path.display());
                assert_eq!(errs.first().map_or(0, |e| e.0), cap.errors.len(), "{}", path.display());
                let (text, _) = run_replay(&data, false);
                let count = format!(
                    "summary: {} AMI messages ({} decoder errors)",
                    cap.messages.len(),
                    cap.errors.len()
                );
                assert!(text.contains(&count), "{}: {text}", path.display());
            }
        }
        assert!(files > 70, "{files} captures");
    }
}
