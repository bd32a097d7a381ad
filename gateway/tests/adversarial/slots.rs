//! Finding 1: connections that never say `hello` took every client slot. They now have a
//! budget of their own, per source address and in all, and a valid client still gets in.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::attack::{connect_from, loopback, metric};
use crate::common::{config, office, start, start_sim, Raw, DESK_100, SUPERVISOR};

/// Holds `n` silent connections from `from`, opening a new one whenever one is closed,
/// until told to stop. Counts the connections it opened.
fn silent_flood(
    from: std::net::IpAddr,
    to: std::net::SocketAddr,
    n: usize,
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            // Drop the ones the gateway closed, as an attacker's loop would notice them.
            let mut alive = Vec::with_capacity(held.len());
            for s in held.drain(..) {
                let mut probe = [0u8; 1];
                match s.try_read(&mut probe) {
                    Ok(0) => {}
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => alive.push(s),
                    Err(_) => {}
                }
            }
            held = alive;
            while held.len() < n && !stop.load(Ordering::Relaxed) {
                match connect_from(from, to).await {
                    Ok(s) => {
                        opened.fetch_add(1, Ordering::Relaxed);
                        held.push(s);
                    }
                    Err(_) => break,
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// A hello from `from`: the first message back.
async fn hello_from(from: std::net::IpAddr, to: std::net::SocketAddr, token: &str) -> (TcpStream, String) {
    let mut s = connect_from(from, to).await.expect("connect");
    let hello = json!({"type": "hello", "version": 1, "token": token, "client": "valid"});
    s.write_all(format!("{hello}\n").as_bytes()).await.expect("write");
    let mut line = String::new();
    let mut r = BufReader::new(&mut s);
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    (s, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_of_one_address_cannot_keep_a_valid_client_out() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.max_clients = 50;
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    // The probe: 50 silent sockets (as many as max_clients), here 200, re-opened as they
    // are closed, from an attacker's address.
    let flood = silent_flood(loopback(2), addr, 200, stop.clone(), opened.clone());
    while opened.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every client slot goes to valid clients of another address, all 50 of them.
    let mut valid = Vec::new();
    for i in 0..50 {
        let (s, first) = hello_from(loopback(1), addr, DESK_100).await;
        assert!(first.contains("\"welcome\""), "valid client {i} refused: {first}");
        valid.push(s);
    }
    let unauthenticated = metric(diag, "clients_unauthenticated").await;
    let evicted = metric(diag, "unauthenticated_evicted_total").await;
    let refused = metric(diag, "unauthenticated_refused_total").await;
    stop.store(true, Ordering::Relaxed);
    flood.await.expect("the flood ends");
    eprintln!(
        "slots: {} silent sockets opened; 50 of 50 valid hellos welcomed; {unauthenticated} \
         unauthenticated held, {evicted} evicted, {refused} refused",
        opened.load(Ordering::Relaxed)
    );
    assert!(unauthenticated <= 32.0, "one address holds at most its budget: {unauthenticated}");
    assert!(
        evicted + refused >= 168.0,
        "the address's newest were refused, or its oldest made way: {evicted} + {refused}"
    );
    // The 51st valid client is past max_clients: refused with the reason.
    let (_, first) = hello_from(loopback(1), addr, SUPERVISOR).await;
    assert!(first.contains("as many clients as it takes"), "{first}");
    // One leaves; its slot is taken again.
    drop(valid.pop());
    let mut tries = 0;
    loop {
        let (_, first) = hello_from(loopback(1), addr, SUPERVISOR).await;
        if first.contains("\"welcome\"") {
            break;
        }
        tries += 1;
        assert!(tries < 50, "the freed slot was never given again: {first}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_addresses_fill_the_total_budget_and_a_prompt_hello_still_gets_in() {
    let _turn = crate::serial().await;
    let sim = start_sim(office()).await;
    let mut cfg = config(&sim);
    cfg.clients.max_unauthenticated = 64;
    cfg.clients.max_unauthenticated_per_address = 8;
    cfg.clients.hello_timeout = Duration::from_secs(30);
    let gw = start(cfg).await;
    let addr = gw.addrs().tcp.expect("tcp");
    let diag = gw.addrs().diagnostics.expect("diag");
    // 20 addresses with 8 silent sockets each: 160 for a budget of 64.
    let mut held = Vec::new();
    for n in 10..30 {
        for _ in 0..8 {
            held.push(connect_from(loopback(n), addr).await.expect("connect"));
        }
    }
    let unauthenticated = metric(diag, "clients_unauthenticated").await;
    assert!(unauthenticated <= 64.0, "{unauthenticated}");
    // Past their grace, the oldest make way for a client that says hello at once.
    tokio::time::sleep(ctilink_gateway::admission::GRACE).await;
    for _ in 0..10 {
        let (_, first) = hello_from(loopback(1), addr, DESK_100).await;
        assert!(first.contains("\"welcome\""), "{first}");
    }
    // Within the grace, a newcomer is refused instead of pushing out someone mid-hello.
    for n in 30..40 {
        for _ in 0..8 {
            held.push(connect_from(loopback(n), addr).await.expect("connect"));
        }
    }
    let mut c = Raw::connect(addr).await;
    let bye = c.until_closed().await;
    assert_eq!(
        bye,
        [json!({"type": "bye", "reason": "too many connections are waiting for hello: try again"})]
    );
    assert!(metric(diag, "unauthenticated_refused_total").await >= 1.0);
    drop(held);
}
