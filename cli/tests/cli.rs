//! The `ctilink` binary as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ctilink_sim::{SimConfig, Simulator};

fn ctilink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ctilink"))
}

fn vectors() -> PathBuf {
    let dir = match std::env::var_os("CTILINK_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors"),
    };
    assert!(dir.join("ami/real").is_dir(), "vectors not found at {}", dir.display());
    dir
}

fn real_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(vectors().join("ami/real"))
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ami"))
        .collect();
    v.sort();
    v
}

#[test]
fn help_is_available_everywhere() {
    for args in [
        vec!["--help"],
        vec!["parse", "--help"],
        vec!["replay", "--help"],
        vec!["sim", "--help"],
        vec!["monitor", "--help"],
        vec!["events", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = ctilink().args(&args).output().expect("runs");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
}

#[test]
fn parse_reports_zero_errors_on_every_real_capture() {
    let files = real_captures();
    assert!(files.len() >= 70);
    let out = ctilink().arg("parse").arg("--json").args(&files).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert!(lines.len() > files.len(), "one line per file plus a total");
    for l in &lines {
        assert_eq!(l["errors"], 0, "{l}");
    }
}

#[test]
fn parse_fails_on_garbage_and_on_a_missing_file() {
    let dir = std::env::temp_dir().join(format!("ctilink-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let bad = dir.join("bad.ami");
    std::fs::write(&bad, b"\x01\x02\x03 not ami\r\n\r\nEvent: Ok\r\n\r\n").expect("write");
    let out = ctilink().arg("parse").arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let out = ctilink().arg("parse").arg(dir.join("missing.ami")).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn monitor_prints_the_simulators_events() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(async {
        let cfg = SimConfig {
            extensions: SimConfig::extension_range(100, 103),
            ring_delay: Duration::from_millis(20),
            answer_delay: Duration::from_millis(50),
            ..SimConfig::default()
        };
        Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim")
    });
    let child = ctilink()
        .args(["monitor", "--json", "--count", "5", "--duration", "10", &sim.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Give the monitor time to log in, then make the PBX talk.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sim.logins() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.place_call("101", "100").expect("call");
    let out = child.wait_with_output().expect("monitor ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|v| v["type"] == "event")
        .collect();
    assert_eq!(events.len(), 5, "{stdout}");
    assert!(events.iter().any(|e| e["event"] == "Newchannel"), "{stdout}");
    assert!(!stdout.contains(&SimConfig::default().secret), "secret leaked");
}

#[test]
fn monitor_with_a_bad_url_exits_2_without_echoing_the_secret() {
    let out = ctilink().args(["monitor", "http://user:topsecret@host"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("topsecret"));
}

/// Runs `ctilink replay --json FILE`: the JSON lines and stderr, after checking the exit status.
fn replay_json(file: &std::path::Path) -> (Vec<serde_json::Value>, String) {
    let out = ctilink().arg("replay").arg("--json").arg(file).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}: exit {:?}\n{stderr}", file.display(), out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", file.display()))
        })
        .collect();
    (lines, stderr)
}

#[test]
fn replay_json_prints_the_call_events_then_a_summary() {
    let file = vectors().join("ami/real/cacofonisk_simple_ab_success_a_hangup.ami");
    let (lines, stderr) = replay_json(&file);
    assert!(stderr.is_empty(), "{stderr}");
    let (summary, events) = lines.split_last().expect("at least the summary");
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().expect("an event kind")).collect();
    // The kinds appear in this order (other events may come in between).
    let mut rest = kinds.iter();
    for expected in ["originated", "delivered", "established", "connection_cleared", "call_cleared"] {
        assert!(rest.any(|k| *k == expected), "no {expected} in order in {kinds:?}");
    }
    assert_eq!(kinds.last(), Some(&"call_cleared"), "{kinds:?}");
    let call = events[0]["call"].as_str().expect("a call id");
    assert!(events.iter().all(|e| e["call"] == call), "one call: {events:?}");
    let delivered = events.iter().find(|e| e["event"] == "delivered").expect("delivered");
    assert_eq!(delivered["state"], "alerting");
    assert_eq!(delivered["device"], "150010002");
    assert_eq!(delivered["caller"], serde_json::json!({"number": "201", "name": "Andrew Garza"}));
    assert_eq!(delivered["called"]["number"], "202");
    let cleared = events.iter().find(|e| e["event"] == "call_cleared").expect("call_cleared");
    assert_eq!(cleared["cause"], 16);
    assert_eq!(summary["summary"]["calls_total"], 1, "{summary}");
    assert_eq!(summary["summary"]["calls_open"], 0, "{summary}");
    assert!(summary["summary"]["devices"].is_u64(), "{summary}");
    assert_eq!(summary.as_object().map(|o| o.len()), Some(1), "{summary}");
}

#[test]
fn replay_json_is_clean_on_every_capture() {
    let mut files = real_captures();
    let mut ast20: Vec<PathBuf> = std::fs::read_dir(vectors().join("ami/asterisk20"))
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ami"))
        .collect();
    ast20.sort();
    assert!(!ast20.is_empty());
    files.extend(ast20);
    let mut calls = 0;
    for file in &files {
        let (lines, _) = replay_json(file);
        let (summary, events) = lines.split_last().expect("at least the summary");
        for e in events {
            assert!(e["event"].is_string() && e.get("summary").is_none(), "{}: {e}", file.display());
        }
        let s = &summary["summary"];
        assert!(s["calls_total"].is_u64() && s["calls_open"].is_u64() && s["devices"].is_u64(), "{s}");
        calls += s["calls_total"].as_u64().unwrap_or(0);
    }
    assert!(calls > 50, "the captures hold calls: {calls}");
}

#[test]
fn replay_text_has_aligned_events_and_a_summary() {
    let file = vectors().join("ami/real/cacofonisk_simple_ab_success_a_hangup.ami");
    let out = ctilink().arg("replay").arg(&file).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let delivered = stdout.lines().find(|l| l.starts_with("delivered ")).expect("a delivered line");
    assert!(
        delivered.contains(
            " call=195176c06ab8-1529936170.42 device=150010002 channel=SIP/150010002-00000005 \
             state=alerting caller=\"Andrew Garza\" <201> called=<202>"
        ),
        "{stdout}"
    );
    // The fields start in one column whatever the kind.
    let columns: Vec<usize> =
        stdout.lines().take_while(|l| !l.is_empty()).map(|l| l.find(" call=").expect("a call")).collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{stdout}");
    assert!(stdout.contains("cause=16 (normal clearing)"), "{stdout}");
    assert!(stdout.contains("\n  calls total:  1\n"), "{stdout}");
    assert!(stdout.contains("\n  calls open:   0\n"), "{stdout}");
    assert!(stdout.contains("\n  devices seen: "), "{stdout}");
}

#[test]
fn replay_text_lists_open_calls_and_devices() {
    let dir = std::env::temp_dir().join(format!("ctilink-cli-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    // A capture cut while 201 rings 202, with the phones' states.
    let cut = dir.join("cut.ami");
    std::fs::write(
        &cut,
        "Event: Newchannel\r\nChannel: PJSIP/201-00000001\r\nChannelState: 4\r\n\
         ChannelStateDesc: Ring\r\nCallerIDNum: 201\r\nCallerIDName: Ann\r\nExten: 202\r\n\
         Uniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n\
         Event: DeviceStateChange\r\nDevice: PJSIP/201\r\nState: INUSE\r\n\r\n\
         \x01 garbage\r\n\r\n",
    )
    .expect("write");
    let out = ctilink().arg("replay").arg(&cut).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "decoder errors are reported, not fatal: {stderr}");
    assert!(stderr.contains("1 decoder errors"), "{stderr}");
    assert!(
        stdout.contains("  calls open:   1\n    call=1.1 caller=\"Ann\" <201> called=<202>\n"),
        "{stdout}"
    );
    assert!(stdout.contains("      201  connected  PJSIP/201-00000001\n"), "{stdout}");
    assert!(stdout.contains("  devices seen: 1\n    201  in_use"), "{stdout}");
    let (lines, _) = replay_json(&cut);
    assert_eq!(
        lines.last().map(|l| l["summary"].clone()),
        Some(serde_json::json!({
            "calls_total": 1, "calls_open": 1, "devices": 1
        }))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn replay_of_a_missing_file_fails_naming_it() {
    let missing = std::env::temp_dir().join("ctilink-no-such-capture.ami");
    for json in [false, true] {
        let mut cmd = ctilink();
        cmd.arg("replay").arg(&missing);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "json={json}");
        assert!(out.stdout.is_empty(), "json={json}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("ctilink replay: cannot read") && stderr.contains(&*missing.to_string_lossy()),
            "{stderr}"
        );
    }
    let out = ctilink().arg("replay").output().expect("runs");
    assert!(!out.status.success(), "a file is required");
}

/// Lines of a child's output, read in a thread, so that the test can wait for one.
fn lines_of(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads `rx` into `seen` until a line satisfies `done`; panics after `wait`.
fn wait_for(
    rx: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    wait: Duration,
    done: impl Fn(&str) -> bool,
) {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = done(&line);
                seen.push(line);
                if hit {
                    return;
                }
            }
            Err(e) => panic!("{e:?} while waiting; so far:\n{}", seen.join("\n")),
        }
    }
}

/// The event lines of `ctilink events` or `replay` text output (before the summary).
fn event_lines(lines: &[String]) -> Vec<String> {
    lines.iter().take_while(|l| !l.is_empty()).cloned().collect()
}

#[cfg(unix)]
#[test]
fn events_prints_a_live_call_and_its_recording_replays_to_the_same_lines() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(async {
        let cfg = SimConfig {
            extensions: SimConfig::extension_range(100, 103),
            ring_delay: Duration::from_millis(20),
            answer_delay: Duration::from_millis(100),
            ..SimConfig::default()
        };
        Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim")
    });
    let dir = std::env::temp_dir().join(format!("ctilink-cli-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let capture = dir.join("live.ami");
    let mut child = ctilink()
        .args(["events", &sim.url(), "--duration", "60", "--record"])
        .arg(&capture)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = lines_of(child.stdout.take().expect("stdout"));
    let err = lines_of(child.stderr.take().expect("stderr"));
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    wait_for(&err, &mut stderr, Duration::from_secs(20), |l| l.contains("connected to"));
    assert!(stderr[0].contains("ami://admin:***@127.0.0.1:"), "{stderr:?}");
    sim.place_call("101", "100").expect("call");
    wait_for(&out, &mut stdout, Duration::from_secs(20), |l| l.starts_with("established"));
    assert!(sim.hangup_ext("101"), "hang up");
    wait_for(&out, &mut stdout, Duration::from_secs(20), |l| l.starts_with("call_cleared"));
    // SIGTERM: the command logs off, prints its summary and reports the recording.
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("events ends");
    stdout.extend(out.iter());
    stderr.extend(err.iter());
    let text = stdout.join("\n");
    assert!(status.success(), "{status:?}\n{text}\n{}", stderr.join("\n"));
    for kind in ["delivered ", "established ", "connection_cleared ", "call_cleared "] {
        assert!(stdout.iter().any(|l| l.starts_with(kind)), "no {kind}:\n{text}");
    }
    assert!(text.contains("\nsummary: ") && text.contains("  calls total:  1"), "{text}");
    assert!(text.contains("  calls open:   0"), "{text}");
    let report = stderr.last().expect("report");
    assert!(report.starts_with("ctilink events: recorded ") && report.contains("live.sent"), "{report}");

    // Nothing shows the secret; the capture is what was received, the companion what
    // was sent, with the login masked.
    let secret = SimConfig::default().secret;
    let captured = std::fs::read(&capture).expect("capture");
    let sent = std::fs::read_to_string(dir.join("live.sent")).expect("sent companion");
    assert!(captured.starts_with(b"Asterisk Call Manager/"), "the capture starts with the banner");
    assert!(!String::from_utf8_lossy(&captured).contains(&format!("Secret: {secret}")));
    assert!(sent.starts_with("Action: Login\r\n") && sent.contains("Secret: ***\r\n"), "{sent}");
    assert!(sent.contains("Action: CoreShowChannels") && sent.contains("Action: Logoff"), "{sent}");
    assert!(!sent.contains(&secret) && !text.contains(&secret) && !stderr.join("\n").contains(&secret));

    // The replay of the recording gives the same call events, line for line.
    let replay = ctilink().arg("replay").arg(&capture).output().expect("replay");
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let replayed: Vec<String> = String::from_utf8_lossy(&replay.stdout).lines().map(str::to_owned).collect();
    // The replay starts earlier: the device states of the lists the session read while it
    // connected, which the live run does not print (its session took them in before).
    let (live, all) = (event_lines(&stdout), event_lines(&replayed));
    assert!(live.len() >= 4, "{text}");
    assert!(all.ends_with(&live), "live:\n{text}\nreplay:\n{}", replayed.join("\n"));
    assert!(all[..all.len() - live.len()].iter().all(|l| l.starts_with("device_state ")), "{all:#?}");
    assert!(
        replayed.iter().any(|l| l.starts_with("summary: ") && l.contains("(0 decoder errors)")),
        "{}",
        replayed.join("\n")
    );
    if std::env::var_os("CTILINK_SHOW").is_some() {
        eprintln!("live:\n{text}\n{}\nreplay:\n{}\nsent:\n{sent}", stderr.join("\n"), replayed.join("\n"));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn events_fails_clearly_on_a_bad_url_a_refused_login_or_no_pbx() {
    let out = ctilink().args(["events", "http://user:topsecret@host"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid URL") && !err.contains("topsecret"), "{err}");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(async {
        Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().expect("addr")).await.expect("sim")
    });
    let wrong = format!("ami://admin:topsecret@127.0.0.1:{}", sim.addr().port());
    let out = ctilink().args(["events", &wrong]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("login refused") && !err.contains("topsecret"), "{err}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));

    // A port nobody listens on: the simulator's, once it is gone.
    let port = sim.addr().port();
    rt.block_on(sim.shutdown());
    let down = format!("ami://admin:topsecret@127.0.0.1:{port}");
    let out = ctilink()
        .args(["events", "--record"])
        .arg(std::env::temp_dir().join("ctilink-down.ami"))
        .arg(&down)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect") && !err.contains("topsecret"), "{err}");
    let _ = std::fs::remove_file(std::env::temp_dir().join("ctilink-down.ami"));
    let _ = std::fs::remove_file(std::env::temp_dir().join("ctilink-down.sent"));
}

#[test]
fn monitor_records_what_it_receives_for_replay() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt.block_on(async {
        let cfg = SimConfig {
            extensions: SimConfig::extension_range(100, 103),
            ring_delay: Duration::from_millis(20),
            answer_delay: Duration::from_millis(50),
            ..SimConfig::default()
        };
        Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("sim")
    });
    let dir = std::env::temp_dir().join(format!("ctilink-cli-monitor-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let capture = dir.join("monitor.ami");
    let child = ctilink()
        .args(["monitor", "--count", "5", "--duration", "10", &sim.url(), "--record"])
        .arg(&capture)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sim.logins() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.place_call("101", "100").expect("call");
    let out = child.wait_with_output().expect("monitor ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("ctilink monitor: recorded ") && stderr.contains("monitor.sent"), "{stderr}");
    let (lines, _) = replay_json(&capture);
    assert!(lines.iter().any(|l| l["event"] == "originated"), "{lines:?}");
    let sent = std::fs::read_to_string(dir.join("monitor.sent")).expect("sent");
    assert!(sent.contains("Secret: ***\r\n") && !sent.contains(&SimConfig::default().secret), "{sent}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `--duration` that is no time (too large, not a number) is a usage error before any
/// connection, for both live commands; `monitor` used to panic on it after connecting.
#[test]
fn a_duration_that_is_no_time_is_a_usage_error() {
    for cmd in ["monitor", "events"] {
        for bad in ["--duration=1e30", "--duration=NaN", "--duration=-1"] {
            let out = ctilink().args([cmd, "ami://admin:secret@127.0.0.1:1", bad]).output().expect("runs");
            assert_eq!(out.status.code(), Some(2), "{cmd} {bad}: {}", String::from_utf8_lossy(&out.stderr));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("--duration must be a number of seconds") && !err.contains("panicked"),
                "{err}"
            );
        }
    }
}
