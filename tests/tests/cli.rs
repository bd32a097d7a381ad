//! The `ctilink` binary, run as a user runs it: `demo` with its output piped, `dial` and
//! `status` against a simulator started by the test.
//!
//! The binary belongs to another package of the workspace, so Cargo does not build it
//! for these tests; the first test to need it runs `cargo build -p ctilink-cli` into the
//! target directory these tests run from (a no-op when it is up to date).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use ctilink_sim::{SimConfig, SimHandle, Simulator};

/// The `ctilink` binary of this build profile, built if needed.
fn ctilink() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/cli-<hash>
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target directory");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "ctilink-cli", "--bin", "ctilink", "--target-dir"]);
        build.arg(target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(other) => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p ctilink-cli failed: {status}");
        let bin = profile_dir.join(format!("ctilink{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

/// Runs `ctilink ARGS` to its end, off the async runtime (the simulator keeps running).
async fn run(args: &[&str]) -> Output {
    let bin = ctilink().to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || Command::new(bin).args(args).env("CTILINK_LOG", "warn").output())
        .await
        .expect("join")
        .expect("ctilink runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_owned()
}

/// Phones 100-105 that ring briefly; 105 rings until `Dial()` gives up.
async fn office(answer_delay: Duration) -> SimHandle {
    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 105),
        ring_delay: Duration::from_millis(50),
        answer_delay,
        no_answer: vec!["105".into()],
        dial_timeout: Duration::from_millis(500),
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_piped_logs_calls_ringing_answered_and_cleared() {
    let out = run(&["demo", "--duration", "6", "--seed", "1"]).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{out:?}");
    let kinds: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    for kind in ["delivered", "established", "call_cleared", "device_state"] {
        assert!(kinds.contains(&kind), "no {kind} in:\n{text}");
    }
    // Log lines are `time kind call=... device=... details`, no terminal escapes.
    let delivered = text.lines().find(|l| l.split_whitespace().nth(1) == Some("delivered")).expect("line");
    assert!(delivered.contains(" call=") && delivered.contains(" device="), "{delivered}");
    assert!(!text.contains('\x1b'), "escapes in piped output:\n{text}");
    let summary = last_line(&out);
    assert!(summary.starts_with("ctilink demo: ") && summary.contains(" answered, "), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_json_prints_only_json_events() {
    let out = run(&["demo", "--duration", "6", "--seed", "1", "--json"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .map(|v| v["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    for kind in ["delivered", "established", "call_cleared"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in:\n{text}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("ctilink demo: "), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_answered_exits_zero() {
    let sim = office(Duration::from_millis(150)).await;
    let out = run(&["dial", &sim.url(), "--from", "100", "--to", "101", "--timeout", "20"]).await;
    assert_eq!(last_line(&out), "answered", "{out:?}");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("your phone 100 rings") && text.contains("101 answered"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_busy_exits_three_with_busy_last() {
    let sim = office(Duration::from_millis(150)).await;
    sim.place_call("102", "101").expect("101 is in a call");
    let out = run(&["dial", &sim.url(), "--from", "100", "--to", "101", "--timeout", "20"]).await;
    assert_eq!(last_line(&out), "busy", "{out:?}");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_no_answer_and_unknown_number_have_their_own_codes() {
    let sim = office(Duration::from_millis(150)).await;
    let out = run(&["dial", &sim.url(), "--from", "100", "--to", "105", "--timeout", "20"]).await;
    assert_eq!((last_line(&out).as_str(), out.status.code()), ("no-answer", Some(4)), "{out:?}");
    let out = run(&["dial", &sim.url(), "--from", "100", "--to", "999", "--timeout", "20"]).await;
    assert_eq!((last_line(&out).as_str(), out.status.code()), ("failed", Some(1)), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_errors_go_to_stderr_without_the_secret() {
    // Nothing listens on the port of a simulator that was shut down.
    let sim = office(Duration::from_millis(150)).await;
    let port = sim.addr().port();
    sim.shutdown().await;
    let url = format!("ami://admin:s3cr3tpw@127.0.0.1:{port}?reconnect=0");
    let out = run(&["dial", &url, "--from", "100", "--to", "101", "--timeout", "10"]).await;
    assert_eq!((last_line(&out).as_str(), out.status.code()), ("failed", Some(1)), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ctilink dial: "), "{err}");
    assert!(!err.contains("s3cr3tpw") && !stdout(&out).contains("s3cr3tpw"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_help_documents_the_exit_codes() {
    let out = run(&["dial", "--help"]).await;
    let text = stdout(&out);
    for word in ["answered   0", "failed     1", "busy       3", "no-answer  4"] {
        assert!(text.contains(word), "{word} missing in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_lists_devices_and_the_ringing_call() {
    let sim = office(Duration::from_secs(60)).await;
    sim.place_call("101", "100").expect("call");
    let out = run(&["status", &sim.url(), "--json"]).await;
    assert!(out.status.success(), "{out:?}");
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let devices = snap["devices"].as_array().expect("devices");
    let ids: Vec<&str> = devices.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, ["100", "101", "102", "103", "104", "105"], "{snap}");
    let state = |id: &str| devices.iter().find(|d| d["id"] == id).map(|d| d["state"].clone());
    assert_eq!(state("100"), Some("ringing".into()), "{snap}");
    assert_eq!(state("102"), Some("idle".into()), "{snap}");
    let calls = snap["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{snap}");
    let conns: Vec<(&str, &str)> = calls[0]["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| (c["device"].as_str().unwrap_or(""), c["state"].as_str().unwrap_or("")))
        .collect();
    assert!(conns.contains(&("100", "alerting")) && conns.contains(&("101", "connected")), "{snap}");

    let out = run(&["status", &sim.url()]).await;
    let text = stdout(&out);
    assert!(text.starts_with("devices: 6\n") && text.contains("calls: 1\n"), "{text}");
    assert!(text.contains("      100      alerting"), "{text}");
    sim.hangup_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_serves_each_token_its_own_devices_and_lists_the_clients() {
    use ctilink::{Error, Session};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let cfg = SimConfig {
        extensions: SimConfig::extension_range(100, 103),
        secret: "Pbx-S3cret-42".into(),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts");
    let dir = std::env::temp_dir().join(format!("ctilink-gw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("gateway.toml");
    let toml = format!(
        r#"[pbx]
url = "{}"
[listen]
tcp = "127.0.0.1:0"
diagnostics = "127.0.0.1:0"
[[token]]
identity = "desk-100"
token = "desk-100-token-0123456789"
monitor = ["100"]
control = ["100"]
[[token]]
identity = "desk-101"
token = "desk-101-token-0123456789"
monitor = ["101"]
control = ["101"]
"#,
        sim.session_url()
    );
    std::fs::write(&config, toml).expect("write the config");
    let mut gw = tokio::process::Command::new(ctilink())
        .args(["gateway", "--config"])
        .arg(&config)
        .env("CTILINK_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ctilink gateway starts");
    let mut lines = BufReader::new(gw.stdout.take().expect("stdout")).lines();
    let (mut tcp, mut diag, mut printed) = (None, None, Vec::new());
    while tcp.is_none() || diag.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the gateway prints its addresses")
            .expect("read")
            .expect("a line");
        let addr = line.rsplit_once("127.0.0.1:").map(|(_, p)| p.trim_end_matches("/ws").to_owned());
        if line.starts_with("tcp") {
            tcp = addr;
        } else if line.starts_with("diagnostics") {
            diag = addr;
        }
        printed.push(line);
    }
    let (tcp, diag) = (tcp.unwrap_or_default(), diag.unwrap_or_default());

    let desk100 = Session::connect(&format!("ctilink://desk-100-token-0123456789@127.0.0.1:{tcp}"))
        .await
        .expect("desk-100");
    let desk101 = Session::connect(&format!("ctilink://desk-101-token-0123456789@127.0.0.1:{tcp}"))
        .await
        .expect("desk-101");
    let ids = |s: &Session| s.snapshot().devices.iter().map(|d| d.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&desk100), ["100"], "a desk sees only its own device");
    assert_eq!(ids(&desk101), ["101"]);
    assert!(matches!(desk101.make_call("100", "102").await, Err(Error::NotAllowed(_))), "not its phone");
    let bad = Session::connect(&format!("ctilink://wrong-token-0123456789@127.0.0.1:{tcp}")).await;
    assert!(matches!(bad, Err(Error::AuthFailed(_))), "{bad:?}");

    let mut http = tokio::net::TcpStream::connect(format!("127.0.0.1:{diag}")).await.expect("diagnostics");
    http.write_all(b"GET /api/clients HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    http.read_to_string(&mut body).await.expect("response");
    assert!(body.contains("\"desk-100\"") && body.contains("\"desk-101\""), "{body}");
    assert!(!body.contains("token-0123456789"), "no token on the diagnostics: {body}");

    desk100.close().await;
    desk101.close().await;
    let pid = gw.id().expect("pid").to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), gw.wait())
        .await
        .expect("ends on SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status}");
    let all = printed.join("\n");
    assert!(!all.contains("Pbx-S3cret-42"), "the PBX secret is not printed: {all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_check_passes_the_example_and_warns_about_plaintext_on_the_network() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gateway/gateway.toml");
    let out = run(&["gateway", "--config", example, "--check"]).await;
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("warning"), "the example binds to loopback: {err}");
    let text = std::fs::read_to_string(example).expect("the example");
    let exposed = text.replace("tcp = \"127.0.0.1:7070\"", "tcp = \"0.0.0.0:7070\"");
    assert_ne!(exposed, text, "the example's tcp listener line moved");
    let path = std::env::temp_dir().join(format!("ctilink-gw-check-{}.toml", std::process::id()));
    std::fs::write(&path, exposed).expect("write");
    let out = run(&["gateway", "--config", path.to_str().expect("utf-8 path"), "--check"]).await;
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "a warning is not an error: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("warning: [listen] tcp = \"0.0.0.0:7070\" is reachable from the network without TLS"),
        "{err}"
    );
    assert!(!err.contains("change-me"), "no token in the warning: {err}");
}
