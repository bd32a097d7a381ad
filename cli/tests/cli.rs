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
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
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
        vec!["sim", "--help"],
        vec!["monitor", "--help"],
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

#[test]
fn demo_runs_calls_for_its_duration() {
    let out =
        ctilink().args(["demo", "--duration", "4", "--call-every", "0.5", "--json"]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_owned))
        .collect();
    for expected in ["Newchannel", "DialBegin", "BridgeEnter", "Hangup"] {
        assert!(names.iter().any(|n| n == expected), "no {expected} in {names:?}");
    }
}
