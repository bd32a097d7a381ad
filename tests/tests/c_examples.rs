//! `examples/c/` built as a user would (the header, the static library, -Wall -Wextra
//! -Werror) and run under valgrind against the simulator.

use std::time::Duration;

use ctilink_tests::live::{fast_office, start_sim};
use ctilink_tests::native::{compile_c, Program};

const LONG: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn click_to_dial_prints_each_outcome_and_exits_with_its_code() {
    let exe = compile_c("click_to_dial", &["examples/c/click_to_dial.c"]);
    let sim = start_sim(fast_office()).await;
    sim.place_call("102", "103").expect("a call keeps 103 busy");
    for _ in 0..200 {
        if sim.truth().channels.iter().filter(|c| c.state == "Up").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each from its own phone: an answered call stays up after the example ends.
    let cases = [
        ("100", "101", "answered", 0),
        ("104", "103", "busy", 3),
        ("105", "108", "no-answer", 4),
        ("106", "555", "failed", 1),
    ];
    for (from, to, word, code) in cases {
        let p = Program::start(&exe, &[&sim.url(), from, to]);
        let (status, out) = p.finish_with_status(LONG).await;
        assert_eq!(out.last().map(String::as_str), Some(word), "{from} -> {to}: {out:?}");
        assert_eq!(status, code, "{from} -> {to}: {out:?}");
        assert!(out[0].starts_with("call ctilink"), "the call id is printed first: {out:?}");
    }
    let p = Program::start(&exe, &["ami://admin:nope@127.0.0.1:1", "100", "101"]);
    let (status, out) = p.finish_with_status(LONG).await;
    assert_eq!(status, 1, "{out:?}");
}

/// The C ABI takes the session's URL as it is: a standby PBX (`standby=`) is used when the
/// first does not answer.
#[tokio::test(flavor = "multi_thread")]
async fn click_to_dial_reaches_the_standby_when_the_pbx_does_not_answer() {
    let exe = compile_c("click_to_dial", &["examples/c/click_to_dial.c"]);
    let standby = start_sim(fast_office()).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let url = format!("ami://admin:secret@{dead_addr}?standby={}", standby.addr());
    let p = Program::start(&exe, &[&url, "100", "101"]);
    let (status, out) = p.finish_with_status(LONG).await;
    assert_eq!(out.last().map(String::as_str), Some("answered"), "{out:?}");
    assert_eq!(status, 0, "{out:?}");
    assert!(standby.actions_received() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_shows_the_extensions_and_an_incoming_call() {
    let exe = compile_c("monitor", &["examples/c/monitor.c"]);
    let sim = start_sim(fast_office()).await;
    let mut p = Program::start(&exe, &[&sim.url(), "4"]);
    for ext in 100..110 {
        p.expect_line(&format!("extension {ext}: idle"), LONG).await;
    }
    p.expect_line("0 calls in progress", LONG).await;
    sim.place_call("101", "100").expect("101 calls 100");
    let out = p.finish(LONG).await;
    let delivered = out.iter().find(|l| l.starts_with("delivered") && l.contains("device=100"));
    assert!(delivered.is_some_and(|l| l.contains("caller=101")), "{out:#?}");
    assert!(
        out.iter().any(|l| l.starts_with("device_state") && l.contains("device=100 state=ringing")),
        "{out:#?}"
    );
    let total = out.last().and_then(|l| l.strip_suffix(" events")).and_then(|n| n.parse::<usize>().ok());
    assert_eq!(total, Some(out.len() - 12), "every event printed is counted: {out:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pkg_config_link_line_builds_a_working_program() {
    use ctilink_tests::native::{c_compiler, ffi_library_dir, native_out_dir, repo_root};
    let prefix = native_out_dir().join(format!("prefix-{}", std::process::id()));
    let status = std::process::Command::new(repo_root().join("scripts/install-c.sh"))
        .arg(&prefix)
        .arg(ffi_library_dir())
        .status()
        .expect("install-c.sh runs");
    assert!(status.success());
    let pkg = |args: &[&str]| {
        let out = std::process::Command::new("pkg-config")
            .args(args)
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .output()
            .expect("pkg-config runs (apt-get install pkg-config)");
        assert!(out.status.success(), "pkg-config {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(pkg(&["--modversion", "ctilink"]), [env!("CARGO_PKG_VERSION")]);
    let exe = native_out_dir().join("click_to_dial_pkgconfig");
    let out = std::process::Command::new(c_compiler())
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(pkg(&["--cflags", "ctilink"]))
        .arg(repo_root().join("examples/c/click_to_dial.c"))
        .arg("-o")
        .arg(&exe)
        .args(pkg(&["--libs", "ctilink"]))
        .output()
        .expect("cc runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sim = start_sim(fast_office()).await;
    let run = tokio::process::Command::new(&exe)
        .args([&sim.url(), "100", "101"])
        .env("LD_LIBRARY_PATH", prefix.join("lib"))
        .output()
        .await
        .expect("the program runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(stdout.lines().last(), Some("answered"), "{stdout}");
    let _ = std::fs::remove_dir_all(&prefix);
}

/// The same C program through the gateway: only the URL changes (`ctilink://TOKEN@...`),
/// and the token's control list decides what it may dial from.
#[tokio::test(flavor = "multi_thread")]
async fn click_to_dial_through_the_gateway_with_the_tokens_rights() {
    use ctilink_gateway::{Config, Gateway, Listen, TokenConfig};
    let exe = compile_c("click_to_dial", &["examples/c/click_to_dial.c"]);
    let sim = start_sim(fast_office()).await;
    let mut cfg = Config::new(&sim.session_url());
    cfg.listen = Listen { tcp: Some("127.0.0.1:0".parse().expect("addr")), ..Listen::default() };
    cfg.tokens = vec![TokenConfig {
        token: Some("c-desk-100-token-5d1e2f".into()),
        token_sha256: None,
        identity: "c-desk-100".into(),
        monitor: vec!["100".into(), "101".into()],
        control: vec!["100".into()],
        user_events: false,
    }];
    let gateway = Gateway::start(cfg).await.expect("gateway starts");
    let port = gateway.addrs().tcp.expect("tcp listener").port();
    let url = format!("ctilink://c-desk-100-token-5d1e2f@127.0.0.1:{port}");
    let (status, out) = Program::start(&exe, &[&url, "100", "101"]).finish_with_status(LONG).await;
    assert_eq!((status, out.last().map(String::as_str)), (0, Some("answered")), "{out:?}");
    // 101 is monitored but not controlled by this token: the request completes refused.
    let (status, out) = Program::start(&exe, &[&url, "101", "100"]).finish_with_status(LONG).await;
    assert_eq!((status, out.last().map(String::as_str)), (1, Some("failed")), "{out:?}");
}
