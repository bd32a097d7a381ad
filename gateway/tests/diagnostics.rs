//! The diagnostics' numbers are exact: two clients exchange a known number of messages
//! and `/api/clients` shows exactly those counts, `/api/link` the PBX link, `/metrics`
//! the totals, `/healthz` the link's health.

mod common;

use common::{
    api_clients, config, http_get, office, row, start, start_sim, until_clients, Raw, DESK_100, DESK_102,
};
use serde_json::{json, Value};

#[tokio::test]
async fn message_counts_match_what_each_client_sent_and_received() {
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    let (mut a, _, _) = Raw::hello(addr, DESK_100, "crm-a").await;
    let (mut b, _, _) = Raw::hello(addr, DESK_102, "crm-b").await;
    for id in 1..=3 {
        a.sync(id).await;
    }
    a.send(json!({"type": "snapshot", "id": 4})).await;
    a.until("the snapshot", |v| v["type"] == "snapshot" && v["id"] == 4).await;
    a.send_raw(b"this is not JSON\n").await;
    a.sent += 1;
    a.until("the error", |v| v["type"] == "error").await;
    b.sync(1).await;
    b.command(2, json!({"command": "make_call", "from": "100", "to": "101"})).await;
    // hello + 3 pings + snapshot + garbage; welcome + snapshot + 3 pongs + snapshot + error.
    assert_eq!((a.sent, a.received), (6, 7));
    // hello + ping + command; welcome + snapshot + pong + result.
    assert_eq!((b.sent, b.received), (3, 4));
    let want = |c: &Value, raw: &Raw, id: &str| {
        let r = row(c, id);
        r["messages_in"] == raw.sent && r["messages_out"] == raw.received
    };
    let clients =
        until_clients(diag, "the counts", |c| want(c, &a, "desk-100") && want(c, &b, "desk-102")).await;
    let ra = row(&clients, "desk-100");
    assert_eq!(ra["client"], "crm-a");
    assert_eq!(ra["transport"], "tcp");
    assert_eq!(ra["errors"], 1, "the garbage line");
    assert_eq!(ra["queue"], 0);
    assert_eq!(ra["dropped"], 0);
    assert!(ra["address"].as_str().is_some_and(|s| s.starts_with("127.0.0.1:")), "{ra}");
    assert!(ra["since"].as_str().is_some_and(|s| s.ends_with('Z')), "{ra}");
    assert_eq!(row(&clients, "desk-102")["errors"], 0, "a refused command is an answer, not an error");

    // Nothing else moves the counts: they stay exact.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let again = api_clients(diag).await;
    assert!(want(&again, &a, "desk-100") && want(&again, &b, "desk-102"), "{again:#}");

    let (status, link) = http_get(diag, "/api/link").await;
    assert_eq!(status, 200);
    let link: Value = serde_json::from_str(&link).expect("JSON");
    assert_eq!(link["state"], "up");
    assert_eq!(link["devices"], 10);
    assert_eq!(link["clients"], 2);
    assert!(link["messages_in"].as_u64().is_some_and(|n| n > 10), "{link}");
    assert!(link["messages_out"].as_u64().is_some_and(|n| n >= 4), "login and the three lists: {link}");
    assert!(!link["url"].as_str().unwrap_or("").contains("secret"), "{link}");

    let (status, metrics) = http_get(diag, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "ctilink_gateway_clients{transport=\"tcp\"} 2\n",
        "ctilink_gateway_client_messages_in_total 9\n",
        "ctilink_gateway_client_messages_out_total 11\n",
        "ctilink_gateway_commands_refused_total 1\n",
        "ctilink_gateway_protocol_errors_total 1\n",
        "ctilink_gateway_pbx_link_up 1\n",
        "ctilink_gateway_devices 10\n",
    ] {
        assert!(metrics.contains(line), "{line:?} not in\n{metrics}");
    }
    assert_eq!(http_get(diag, "/healthz").await.0, 200);
    assert_eq!(http_get(diag, "/nope").await.0, 404);

    // A client that leaves is listed as closed with its final counts.
    drop(a);
    let closed =
        until_clients(diag, "A closed", |c| c["clients"].as_array().is_some_and(|v| v.len() == 1)).await;
    let gone = closed["closed"]
        .as_array()
        .expect("closed")
        .iter()
        .find(|c| c["identity"] == "desk-100")
        .cloned()
        .expect("listed");
    assert_eq!((gone["messages_in"].clone(), gone["messages_out"].clone()), (json!(6), json!(7)));
    assert_eq!(gone["closed_reason"], "closed by the client");
}

#[tokio::test]
async fn healthz_follows_the_pbx_link() {
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    // No reconnect: the link stays down after the drop.
    cfg.pbx.url = Some(format!("{}&reconnect=0", sim.session_url()).into());
    let gw = start(cfg).await;
    let diag = gw.addrs().diagnostics.expect("diagnostics");
    assert_eq!(http_get(diag, "/healthz").await.0, 200);
    sim.drop_connections();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while http_get(diag, "/healthz").await.0 != 503 {
        assert!(tokio::time::Instant::now() < deadline, "healthz still 200 with the link down");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, link) = http_get(diag, "/api/link").await;
    assert!(link.contains("\"state\":\"down\""), "{link}");
}
