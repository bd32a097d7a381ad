//! Gateways as a cluster on a real `nats-server` (docs/cluster.md, "Tests"): a client on
//! one gateway acts on a PBX another owns, with the ACL applied; the owner killed, NATS
//! stopped, or one gateway cut off NATS, and never two links to one PBX.

mod harness;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctilink::{Error, Event, EventStream, Session};
use ctilink_sim::SimHandle;
use harness::*;

/// A short lease, so that failover takes seconds: owners fence at 1.5 s without renewal.
/// (At 2 s, five tests at once on two cores sometimes delayed a renewal past the 1 s
/// fence, and a PBX moved in the middle of a test that counts on its owner.)
const TTL_MS: u64 = 3000;
/// The default lease, where a test needs ownership to stay put.
const STEADY_TTL_MS: u64 = 6000;
/// Never give a PBX back during a test that wants one owner to hold both.
const KEEP_MS: u64 = 600_000;

async fn session(addr: std::net::SocketAddr, token: &str) -> Session {
    Session::connect(&format!("ctilink://{token}@{addr}")).await.expect("a session through the gateway")
}

/// The next event that `f` accepts, within `secs`; every event seen is kept in `seen`.
async fn until_event(
    events: &mut EventStream,
    seen: &mut Vec<Event>,
    what: &str,
    secs: u64,
    f: impl Fn(&Event) -> bool,
) -> Event {
    let wait = async {
        while let Some(ev) = events.next().await {
            seen.push(ev.clone());
            if f(&ev) {
                return ev;
            }
        }
        panic!("the event stream ended waiting for {what}");
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {secs} s; saw {seen:#?}"))
}

fn originates(sim: &SimHandle) -> Vec<String> {
    sim.action_log().into_iter().filter(|(a, _)| a == "originate").map(|(_, id)| id).collect()
}

/// Counts a simulator's AMI connections every 10 ms and keeps the most seen at once.
fn watch_connections(sim: &SimHandle) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let most = Arc::new(AtomicUsize::new(0));
    let (m, sim) = (most.clone(), sim.clone());
    let task = tokio::spawn(async move {
        loop {
            m.fetch_max(sim.connections(), Ordering::AcqRel);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    (most, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_one_gateway_dials_a_phone_of_a_pbx_another_owns() {
    let nats = Nats::start();
    let (berlin, hamburg) = (start_sim().await, start_sim().await);
    let pbxs = [("berlin", &berlin), ("hamburg", &hamburg)];
    let a = start_gateway(&gateway_toml(&nats.url(), "gw-a", &pbxs, STEADY_TTL_MS, 1000)).await;
    let b = start_gateway(&gateway_toml(&nats.url(), "gw-b", &pbxs, STEADY_TTL_MS, 1000)).await;
    let c = start_gateway(&gateway_toml(&nats.url(), "gw-c", &pbxs, STEADY_TTL_MS, 1000)).await;
    let gws = [&a, &b, &c];
    // Ownership spreads: one PBX each on two of the three gateways.
    until("each PBX owned by a gateway of its own", 30, || {
        gws.iter().all(|g| owns(g).len() <= 1) && gws.iter().map(|g| owns(g).len()).sum::<usize>() == 2
    })
    .await;
    let idle = gws.iter().find(|g| owns(g).is_empty()).expect("a gateway owning nothing");
    let berlin_owner = owner_of(idle, "berlin");
    assert!(!berlin_owner.is_empty() && berlin_owner != idle.link().cluster.expect("cluster").node);
    let addr = idle.addrs().tcp.expect("tcp");
    let (op, desk, other) =
        (session(addr, OPERATOR).await, session(addr, BERLIN_DESK).await, session(addr, HAMBURG_DESK).await);
    let (mut desk_events, mut other_events) = (desk.events(), other.events());
    // The PBX given back to spread ownership is followed from its new owner.
    until("the idle gateway's links up", 20, || idle.link().state == "up").await;
    until("the operator's link up", 10, || op.status() == ctilink::LinkStatus::Up).await;
    let ids: BTreeSet<String> = op.snapshot().devices.iter().map(|d| d.id.as_str().to_owned()).collect();
    let want: BTreeSet<String> =
        ["berlin/100", "berlin/101", "berlin/102", "berlin/103", "hamburg/100", "hamburg/101"]
            .map(String::from)
            .into();
    assert_eq!(ids, want, "the operator's devices through a gateway that owns nothing");

    let call = op.make_call("berlin/100", "101").await.expect("a call on the PBX another gateway owns");
    assert!(call.as_str().starts_with("berlin/"), "{call:?}");
    let mut seen = Vec::new();
    until_event(&mut desk_events, &mut seen, "berlin/101 answering", 10, |e| {
        matches!(e, Event::Established { device, call: c, .. } if device.as_str() == "berlin/101" && c == &call)
    })
    .await;
    // The hamburg desk saw nothing of it, though the same gateway served it.
    let mut others = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some(e) = other_events.next().await {
            others.push(e);
        }
    })
    .await;
    assert!(
        others.iter().all(|e| !format!("{e:?}").contains("berlin")),
        "the hamburg desk saw berlin's call: {others:#?}"
    );
    assert_eq!(originates(&berlin).len(), 1, "one Originate: {:?}", berlin.action_log());
    assert!(originates(&hamburg).is_empty());
    // A device the token may not act for is refused by the serving gateway itself.
    let refused = desk.make_call("berlin/101", "100").await;
    assert!(matches!(refused, Err(Error::NotAllowed(_))), "{refused:?}");
    assert_eq!(berlin.connections() + hamburg.connections(), 2, "one AMI link per PBX in the cluster");
    // The diagnostics page of the gateway that owns nothing shows who owns what.
    let node = idle.link().cluster.expect("cluster").node;
    let dom = rendered_page(idle.addrs().diagnostics.expect("diagnostics")).await;
    assert!(dom.contains(&format!("id=\"cluster-node\">{node}<")), "{dom}");
    let rows = &dom[dom.find("id=\"cluster-pbxs\"").expect("the PBX table")..];
    for pbx in ["berlin", "hamburg"] {
        assert!(rows.contains(&format!("<td>{pbx}</td><td>gw-")), "{pbx} and its owner: {rows}");
    }
    let peers = &dom[dom.find("id=\"cluster-peers\"").expect("the peers table")..];
    let peers = &peers[..peers.find("</tbody>").expect("the table ends")];
    assert_eq!(peers.matches("<tr>").count(), 2, "the two other gateways: {peers}");
    assert!(!peers.contains("differs"), "{peers}");
    for s in [op, desk, other] {
        s.close().await;
    }
    for g in [a, b, c] {
        g.shutdown("test over").await;
    }
}

/// Both PBXs' links of the session's gateway up again and in step: the time it took.
async fn resynced_twice(events: &mut EventStream, seen: &mut Vec<Event>, secs: u64) {
    let mut left = BTreeSet::from(["berlin", "hamburg"]);
    while !left.is_empty() {
        let ev =
            until_event(events, seen, "both PBXs resynced", secs, |e| matches!(e, Event::Resynced { .. }))
                .await;
        let Event::Resynced { devices_changed, calls_found, calls_ended } = &ev else { unreachable!() };
        // A resync names one PBX's ids only; an empty one is taken as the next PBX's.
        let named = devices_changed.iter().map(|d| d.as_str()).chain(calls_found.iter().map(|c| c.as_str()));
        let named: Vec<&str> = named.chain(calls_ended.iter().map(|c| c.as_str())).collect();
        match named.first().and_then(|n| n.split('/').next()) {
            Some(p) => {
                left.remove(p);
            }
            None => {
                let first = *left.iter().next().expect("one left");
                left.remove(first);
            }
        }
    }
}

/// `(device, channel)` of every connection the session holds on `pbx`'s phones 100-103,
/// against the simulator's own channels of those phones.
fn agrees(session: &Session, pbx: &str, sim: &SimHandle) {
    let mut model: BTreeSet<(String, String)> = BTreeSet::new();
    for c in session.snapshot().calls {
        for k in c.connections {
            if let Some(ext) = k.device.as_str().strip_prefix(&format!("{pbx}/")) {
                model.insert((ext.to_owned(), k.channel.clone()));
            }
        }
    }
    let truth: BTreeSet<(String, String)> = sim
        .truth()
        .channels
        .into_iter()
        .filter(|c| ["100", "101", "102", "103"].contains(&c.ext.as_str()))
        .map(|c| (c.ext, c.name))
        .collect();
    assert_eq!(model, truth, "{pbx}: the model after failover against the simulator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_killed_mid_call_another_takes_over_and_nothing_runs_twice() {
    let nats = Nats::start();
    let (berlin, hamburg) = (start_sim().await, start_sim().await);
    let pbxs = [("berlin", &berlin), ("hamburg", &hamburg)];
    let mut owner = GatewayProcess::start(&gateway_toml(&nats.url(), "gw-owner", &pbxs, TTL_MS, KEEP_MS));
    // The process owns both before the second gateway joins.
    let probe = session(owner.tcp, OPERATOR).await;
    until("the owner's link up", 30, || probe.status() == ctilink::LinkStatus::Up).await;
    probe.close().await;
    let other = start_gateway(&gateway_toml(&nats.url(), "gw-other", &pbxs, TTL_MS, KEEP_MS)).await;
    assert!(owns(&other).is_empty(), "the first gateway holds both leases");
    assert_eq!(owner_of(&other, "berlin"), "gw-owner");
    let op = session(other.addrs().tcp.expect("tcp"), OPERATOR).await;
    let mut events = op.events();
    let mut seen = Vec::new();
    let c1 = op.make_call("berlin/100", "101").await.expect("berlin's call");
    let c2 = op.make_call("hamburg/100", "101").await.expect("hamburg's call");
    // The two calls are answered in either order.
    let answered = |seen: &[Event], call: &ctilink::CallId, device: &str| {
        seen.iter().any(|e| matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == device && c == call))
    };
    while !(answered(&seen, &c1, "berlin/101") && answered(&seen, &c2, "hamburg/101")) {
        until_event(&mut events, &mut seen, "both callees answering", 10, |e| {
            matches!(e, Event::Established { .. })
        })
        .await;
    }
    let (b_most, b_watch) = watch_connections(&berlin);
    let (h_most, h_watch) = watch_connections(&hamburg);

    let killed = Instant::now();
    owner.kill();
    // A command now reaches no owner: it fails, and never runs later.
    let lost = op.make_call("berlin/102", "103").await;
    assert!(matches!(lost, Err(Error::LinkDown)), "{lost:?}");
    until_event(&mut events, &mut seen, "link_down", 10, |e| matches!(e, Event::LinkDown { .. })).await;
    resynced_twice(&mut events, &mut seen, 20).await;
    let failover = killed.elapsed();
    println!("failover, SIGKILL of the owner to resynced at a client: {} ms", failover.as_millis());
    assert_eq!(owns(&other), ["berlin", "hamburg"], "the remaining gateway took both");
    agrees(&op, "berlin", &berlin);
    agrees(&op, "hamburg", &hamburg);
    // Each command ran once: two Originates in all, the lost one not among them.
    let (bo, ho) = (originates(&berlin), originates(&hamburg));
    assert_eq!((bo.len(), ho.len()), (1, 1), "{bo:?} {ho:?}");
    // The calls made before go on, and commands work again through the new owner.
    let c3 = op.make_call("berlin/102", "103").await.expect("a call after failover");
    until_event(&mut events, &mut seen, "the new call answered", 10, |e| {
        matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == "berlin/103" && c == &c3)
    })
    .await;
    assert_eq!(originates(&berlin).len(), 2);
    assert!(
        b_most.load(Ordering::Acquire) <= 1 && h_most.load(Ordering::Acquire) <= 1,
        "two links to one PBX"
    );
    b_watch.abort();
    h_watch.abort();
    op.close().await;
    other.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stopped_owners_let_go_before_the_lease_ends_and_all_recover() {
    let mut nats = Nats::start();
    let (berlin, hamburg) = (start_sim().await, start_sim().await);
    let pbxs = [("berlin", &berlin), ("hamburg", &hamburg)];
    let a = start_gateway(&gateway_toml(&nats.url(), "gw-a", &pbxs, TTL_MS, KEEP_MS)).await;
    let b = start_gateway(&gateway_toml(&nats.url(), "gw-b", &pbxs, TTL_MS, KEEP_MS)).await;
    let op = session(b.addrs().tcp.expect("tcp"), OPERATOR).await;
    let mut events = op.events();
    let mut seen = Vec::new();
    let (b_most, b_watch) = watch_connections(&berlin);
    let (h_most, h_watch) = watch_connections(&hamburg);
    assert_eq!((berlin.connections(), hamburg.connections()), (1, 1));

    let stopped = Instant::now();
    nats.stop();
    until("both PBX links closed", 10, || berlin.connections() == 0 && hamburg.connections() == 0).await;
    let let_go = stopped.elapsed();
    println!("NATS stopped: PBX links closed after {} ms (lease TTL {TTL_MS} ms)", let_go.as_millis());
    assert!(let_go < Duration::from_millis(TTL_MS), "an owner held its PBX past the lease: {let_go:?}");
    until_event(&mut events, &mut seen, "link_down", 10, |e| matches!(e, Event::LinkDown { .. })).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!((berlin.connections(), hamburg.connections()), (0, 0), "nobody owns a PBX without NATS");

    nats.restart();
    resynced_twice(&mut events, &mut seen, 30).await;
    until("one link per PBX again", 10, || berlin.connections() == 1 && hamburg.connections() == 1).await;
    let owned: usize = [&a, &b].iter().map(|g| owns(g).len()).sum();
    assert_eq!(owned, 2);
    assert!(
        b_most.load(Ordering::Acquire) <= 1 && h_most.load(Ordering::Acquire) <= 1,
        "two links to one PBX"
    );
    let call = op.make_call("berlin/100", "101").await.expect("commands work again");
    until_event(&mut events, &mut seen, "the call answered", 10, |e| {
        matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == "berlin/101" && c == &call)
    })
    .await;
    b_watch.abort();
    h_watch.abort();
    op.close().await;
    a.shutdown("test over").await;
    b.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_cut_off_nats_but_not_the_pbx_releases_its_link() {
    let nats = Nats::start();
    let proxy = Proxy::start(format!("127.0.0.1:{}", nats.port).parse().expect("addr")).await;
    let (berlin, hamburg) = (start_sim().await, start_sim().await);
    let pbxs = [("berlin", &berlin), ("hamburg", &hamburg)];
    let behind = format!("nats://{}", proxy.addr);
    let a = start_gateway(&gateway_toml(&behind, "gw-a", &pbxs, TTL_MS, KEEP_MS)).await;
    until("gw-a owns both", 10, || owns(&a).len() == 2).await;
    let b = start_gateway(&gateway_toml(&nats.url(), "gw-b", &pbxs, TTL_MS, KEEP_MS)).await;
    let op = session(b.addrs().tcp.expect("tcp"), OPERATOR).await;
    let mut events = op.events();
    let mut seen = Vec::new();
    let (b_most, b_watch) = watch_connections(&berlin);
    let (h_most, h_watch) = watch_connections(&hamburg);

    let cut = Instant::now();
    proxy.cut();
    until("gw-a lets go of both PBXs", 10, || owns(&a).is_empty()).await;
    let released = cut.elapsed();
    println!(
        "cut off NATS: gw-a let go of its PBX links after {} ms (lease TTL {TTL_MS} ms)",
        released.as_millis()
    );
    assert!(released < Duration::from_millis(TTL_MS), "{released:?}");
    resynced_twice(&mut events, &mut seen, 20).await;
    println!("cut off NATS: the client on gw-b resynced after {} ms", cut.elapsed().as_millis());
    assert_eq!(owns(&b), ["berlin", "hamburg"]);
    assert!(
        b_most.load(Ordering::Acquire) <= 1 && h_most.load(Ordering::Acquire) <= 1,
        "two links to one PBX"
    );
    // gw-a's own clients saw its link go down.
    assert_ne!(a.link().state, "up");
    proxy.mend();
    b_watch.abort();
    h_watch.abort();
    op.close().await;
    a.shutdown("test over").await;
    b.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_stalled_past_its_lease_is_ignored_when_it_wakes_and_lets_go() {
    let nats = Nats::start();
    let (berlin, hamburg) = (start_sim().await, start_sim().await);
    let pbxs = [("berlin", &berlin), ("hamburg", &hamburg)];
    let owner = GatewayProcess::start(&gateway_toml(&nats.url(), "gw-old", &pbxs, TTL_MS, KEEP_MS));
    let probe = session(owner.tcp, OPERATOR).await;
    until("the owner's link up", 30, || probe.status() == ctilink::LinkStatus::Up).await;
    probe.close().await;
    let other = start_gateway(&gateway_toml(&nats.url(), "gw-new", &pbxs, TTL_MS, KEEP_MS)).await;
    let op = session(other.addrs().tcp.expect("tcp"), OPERATOR).await;
    let mut events = op.events();
    let mut seen = Vec::new();

    // A stall as long as a stop-the-world pause can be: the process cannot act, so its
    // sockets stay open, but it cannot renew, publish or send an action either.
    owner.signal("STOP");
    resynced_twice(&mut events, &mut seen, 20).await;
    assert_eq!(owns(&other), ["berlin", "hamburg"]);
    let before = berlin.action_log().len();
    let mark = seen.len();
    // Calls while the old owner still sleeps, then it wakes with its AMI link open and
    // these calls' events waiting in its socket.
    let call = op.make_call("berlin/100", "101").await.expect("a call through the new owner");
    owner.signal("CONT");
    until("the old owner lets go of both PBX links", 10, || {
        berlin.connections() == 1 && hamburg.connections() == 1
    })
    .await;
    until_event(&mut events, &mut seen, "the call answered", 10, |e| {
        matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == "berlin/101" && c == &call)
    })
    .await;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(500), events.next()).await {
        seen.push(e);
    }
    // Nothing of the old owner's reached the client: no event twice (it saw the same
    // call on its own AMI link), no second link_down or resync.
    let after = &seen[mark..];
    let answered = after
        .iter()
        .filter(|e| matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == "berlin/101" && c == &call))
        .count();
    assert_eq!(answered, 1, "{after:#?}");
    assert!(
        !after.iter().any(|e| matches!(e, Event::LinkDown { .. } | Event::Resynced { .. })),
        "{after:#?}"
    );
    // The one Originate is the new owner's; the old one sent nothing on waking.
    let new: Vec<(String, String)> = berlin.action_log()[before..].to_vec();
    assert_eq!(new.iter().filter(|(a, _)| a == "originate").count(), 1, "{new:?}");
    op.close().await;
    other.shutdown("test over").await;
}

#[tokio::test]
async fn no_nats_fails_the_start_clearly_and_never_shows_the_nats_password() {
    let sim = start_sim().await;
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let toml = gateway_toml(
        &format!("nats://ctl:natspassword@127.0.0.1:{port}"),
        "gw-a",
        &[("berlin", &sim), ("hamburg", &sim)],
        TTL_MS,
        KEEP_MS,
    );
    let config = ctilink_gateway::Config::from_toml(&toml).expect("valid");
    let e = ctilink_gateway::Gateway::start(config).await.expect_err("no NATS");
    let text = format!("{e} {e:?}");
    assert!(text.contains("cannot connect to NATS"), "{text}");
    assert!(!text.contains("natspassword"), "{text}");
    assert_eq!(sim.connections(), 0, "no PBX link without the cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_cluster_losing_the_owners_server_goes_on_with_one_owner_per_pbx() {
    let mut servers = Nats::start_cluster();
    let (berlin, hamburg) = (start_sim().await, start_sim().await);
    let pbxs = [("berlin", &berlin), ("hamburg", &hamburg)];
    // gw-a is given only the first server, gw-b the other two. The lease bucket has
    // three replicas, so it keeps a quorum without the first.
    let only_first = servers[0].url();
    let the_others = format!("{},{}", servers[1].url(), servers[2].url());
    let a = start_gateway(&gateway_toml_replicated(&only_first, "gw-a", &pbxs, TTL_MS, KEEP_MS, 3)).await;
    until("gw-a owns both", 30, || owns(&a).len() == 2).await;
    let b = start_gateway(&gateway_toml_replicated(&the_others, "gw-b", &pbxs, TTL_MS, KEEP_MS, 3)).await;
    let op = session(b.addrs().tcp.expect("tcp"), OPERATOR).await;
    until("the operator's link up", 20, || op.status() == ctilink::LinkStatus::Up).await;
    let mut events = op.events();
    let mut seen = Vec::new();
    // Across servers: the command goes from gw-b's server to gw-a's.
    let call = op.make_call("berlin/100", "101").await.expect("a call through the other server");
    until_event(&mut events, &mut seen, "the call answered", 10, |e| {
        matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == "berlin/101" && c == &call)
    })
    .await;
    let (b_most, b_watch) = watch_connections(&berlin);
    let (h_most, h_watch) = watch_connections(&hamburg);

    let stopped = Instant::now();
    servers[0].stop();
    // gw-a's client learnt the other servers from the cluster and reconnects to them, so
    // gw-a is not cut off for long. If its renewals go on (the bucket keeps its quorum),
    // nothing changes; if they stall past half the TTL (the bucket's leader was on the
    // dead server and a new one is being elected), it lets go and either gateway takes
    // the PBXs, and the client sees link_down and resyncs. Either way: one owner per
    // PBX, never two links, the client in step and commands working.
    let mark = seen.len();
    tokio::time::sleep(Duration::from_millis(TTL_MS * 2)).await;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
        seen.push(e);
    }
    let interrupted = seen[mark..].iter().any(|e| matches!(e, Event::LinkDown { .. }));
    if interrupted && !seen[mark..].iter().any(|e| matches!(e, Event::Resynced { .. })) {
        until_event(&mut events, &mut seen, "a resync", 40, |e| matches!(e, Event::Resynced { .. })).await;
    }
    println!(
        "NATS server of the owner killed: {} after {} ms; owners gw-a {:?}, gw-b {:?}",
        if interrupted { "the client resynced" } else { "no interruption" },
        stopped.elapsed().as_millis(),
        owns(&a),
        owns(&b)
    );
    until("both PBXs owned", 20, || owns(&a).len() + owns(&b).len() == 2).await;
    until("the operator's link up", 20, || op.status() == ctilink::LinkStatus::Up).await;
    agrees(&op, "berlin", &berlin);
    let again = op.make_call("hamburg/100", "101").await.expect("commands through the new owner");
    until_event(&mut events, &mut seen, "the new call answered", 10, |e| {
        matches!(e, Event::Established { device: d, call: c, .. } if d.as_str() == "hamburg/101" && c == &again)
    })
    .await;
    assert_eq!((originates(&berlin).len(), originates(&hamburg).len()), (1, 1));
    assert!(
        b_most.load(Ordering::Acquire) <= 1 && h_most.load(Ordering::Acquire) <= 1,
        "two links to one PBX"
    );
    b_watch.abort();
    h_watch.abort();
    op.close().await;
    a.shutdown("test over").await;
    b.shutdown("test over").await;
}
