//! The diagnostics page in a real browser: headless Chromium (Debian's `chromium`) loads
//! it with two clients connected, runs its script, and the rendered DOM must list both
//! clients with their exact message counts and the PBX link as up.
//!
//! Chromium is required: without it this test fails and says how to install it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{config, office, row, start, start_sim, until_clients, Raw, DESK_100, DESK_102};
use serde_json::json;

fn chromium() -> PathBuf {
    let candidates = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in candidates {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed for the diagnostics page test and was not found on PATH \
         (looked for {candidates:?}). Install it: `apt-get install -y chromium` (Debian), \
         which scripts/setup.sh does for `make test`."
    );
}

/// The text of the first element after `from` whose class list contains `class`.
fn cell<'a>(dom: &'a str, from: usize, class: &str) -> &'a str {
    let needle = format!("{class}\">");
    let i =
        dom[from..].find(&needle).unwrap_or_else(|| panic!("no {class} cell after {from} in\n{dom}")) + from;
    let start = i + needle.len();
    let end = dom[start..].find('<').expect("the cell ends") + start;
    &dom[start..end]
}

#[tokio::test]
async fn the_page_lists_both_clients_with_their_exact_counts() {
    let browser = chromium();
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "crm-<b>a</b>").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "crm-b").await;
    for id in 1..=4 {
        a.sync(id).await;
    }
    b.sync(1).await;
    b.command(2, json!({"command": "make_call", "from": "103", "to": "101"})).await;
    assert_eq!((a.sent, a.received), (5, 6));
    assert_eq!((b.sent, b.received), (3, 4));
    let counted = |c: &serde_json::Value, raw: &Raw, id: &str| {
        row(c, id)["messages_in"] == raw.sent && row(c, id)["messages_out"] == raw.received
    };
    until_clients(diag, "the counts", |c| counted(c, &a, "desk-100") && counted(c, &b, "desk-102")).await;

    let profile =
        std::env::temp_dir().join(format!("ctilink-chromium-{}-{}", std::process::id(), diag.port()));
    let run = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("http://{diag}/"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium finishes within 90 s")
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The script ran and filled in the tables.
    assert!(dom.contains("id=\"link-state\" class=\"up\">up<"), "link state not shown:\n{dom}");
    assert!(dom.contains("id=\"client-count\">2<"), "two clients:\n{dom}");
    for (identity, raw, name) in [("desk-100", &a, "crm-&lt;b&gt;a&lt;/b&gt;"), ("desk-102", &b, "crm-b")] {
        let at = dom
            .find(&format!("data-identity=\"{identity}\""))
            .unwrap_or_else(|| panic!("no row for {identity}:\n{dom}"));
        assert_eq!(cell(&dom, at, "identity"), identity);
        assert_eq!(cell(&dom, at, "transport"), "tcp");
        assert_eq!(cell(&dom, at, "num messages-in"), raw.sent.to_string(), "{identity} messages in");
        assert_eq!(cell(&dom, at, "num messages-out"), raw.received.to_string(), "{identity} messages out");
        assert_eq!(cell(&dom, at, "name"), name, "the client's name is text, never markup");
        assert!(cell(&dom, at, "address").starts_with("127.0.0.1:"));
    }
    assert!(!dom.contains("<b>a</b>"), "a client name was rendered as markup");
    assert!(!dom.contains(DESK_100) && !dom.contains(DESK_102), "a token on the page");
}
