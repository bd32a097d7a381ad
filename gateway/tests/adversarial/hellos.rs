//! Failed hellos were delayed a flat 250 ms per connection: with parallel connections an
//! address could guess thousands of tokens a second. Now each failure makes the next
//! hello from its address wait longer (before its token is looked at), counted in
//! `/metrics`; other addresses do not wait.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::attack::{connect_from, loopback, metric};
use crate::common::{config, office, start, start_sim, DESK_100};

/// One hello from `from` with `token`; the first line of the answer to it.
///
/// 32 guessers that reconnect at once are the address's whole budget of connections
/// before hello, so a new connection can come while the gateway still counts the one
/// just refused: it is turned away ("try again"), or an older one still waiting out its
/// throttle is closed to make room. Either way that token was never looked at, and the
/// guesser tries it again, as an attacker would.
async fn guess(from: std::net::IpAddr, to: std::net::SocketAddr, token: &str) -> String {
    for _ in 0..100 {
        let mut s = connect_from(from, to).await.expect("connect");
        let hello = json!({"type": "hello", "version": 1, "token": token, "client": "guesser"});
        s.write_all(format!("{hello}\n").as_bytes()).await.expect("write");
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(20), BufReader::new(&mut s).read_line(&mut line))
            .await
            .expect("an answer within 20 s")
            .expect("read");
        if !line.contains("too many connections") {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{token}: turned away 100 times for too many connections")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_guessing_slows_down_for_its_address_only() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let gw = start(config(&sim)).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    // 32 connections in parallel (the address's whole budget), two guesses each.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..32 {
        tasks.push(tokio::spawn(async move {
            let mut refused = 0;
            for round in 0..2 {
                let line = guess(loopback(2), addr, &format!("guess-{i}-{round}-0123456789abcdef")).await;
                if line.contains("auth_failed") {
                    refused += 1;
                }
            }
            refused
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.expect("guesser");
    }
    let took = started.elapsed();
    let throttled = metric(diag, "hellos_throttled_total").await;
    let waited = metric(diag, "hello_throttle_seconds_total").await;
    eprintln!(
        "hellos: 64 wrong tokens from one address over 32 connections took {took:.1?} \
         ({:.1} guesses/s; a flat 250 ms allowed 128/s); {throttled} throttled, {waited:.1} s waited",
        64.0 / took.as_secs_f64()
    );
    assert_eq!(refused, 64, "every guess was refused");
    assert!(throttled >= 32.0, "the second round waited: {throttled}");
    assert!(waited >= 32.0 * 4.0, "each waited for 32 failures before it: {waited} s in all");
    assert!(metric(diag, "auth_failures_total").await >= 64.0);
    // Another address is not slowed down.
    let line = guess(loopback(1), addr, DESK_100).await;
    assert!(line.contains("\"welcome\""), "{line}");
    assert_eq!(metric(diag, "hellos_throttled_total").await, throttled, "127.0.0.1 did not wait");
    // A right token from the guessing address still works, after its wait.
    let line = guess(loopback(2), addr, DESK_100).await;
    assert!(line.contains("\"welcome\""), "{line}");
    assert_eq!(metric(diag, "hellos_throttled_total").await, throttled + 1.0);
}
