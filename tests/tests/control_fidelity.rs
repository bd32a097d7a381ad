//! The simulator against real Asterisk traffic, at the level an application sees: a
//! transfer made with the Session's commands on the simulator gives the same sequence of
//! call events as the same transfer on a real PBX (the cacofonisk captures), with the
//! devices named by their role (A calls B, B transfers A to C).

use std::collections::HashMap;

use ctilink::ami::read_capture;
use ctilink::model::Tracker;
use ctilink::{Event, Session};
use ctilink_tests::live::{fast_office, is, start_sim, Watch};
use ctilink_tests::vectors_dir;

/// `kind role` per call event, devices renamed A, B, C... in order of appearance. Hold
/// and retrieve are left out: the captures' phones hold with SIP re-INVITEs that those
/// Asterisk versions did not report, while an AMI `Atxfer` does report them.
fn roles(events: &[Event]) -> Vec<String> {
    let mut names: HashMap<String, char> = HashMap::new();
    events
        .iter()
        .filter(|e| e.call().is_some() && !matches!(e.kind(), "held" | "retrieved"))
        .map(|e| match e.device() {
            Some(d) => {
                let n = names.len();
                let r = *names.entry(d.to_string()).or_insert((b'A' + n as u8) as char);
                format!("{} {r}", e.kind())
            }
            None => e.kind().to_owned(),
        })
        .collect()
}

fn capture_roles(name: &str) -> Vec<String> {
    let data = std::fs::read(vectors_dir().join("ami/real").join(name)).expect("capture");
    let mut t = Tracker::new();
    let mut out = Vec::new();
    for m in read_capture(&data).messages {
        t.apply_into(&m, &mut out);
    }
    roles(&out)
}

async fn session(sim: &ctilink_sim::SimHandle) -> Session {
    Session::connect(&format!("{}?control=pjsip", sim.url())).await.expect("session")
}

#[tokio::test]
async fn blind_transfer_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("100", "101").expect("call");
    let call = w.until("B answers", |e| is(e, "established", "101")).await.call().cloned().expect("id");
    s.single_step_transfer(&call, "101", "102").await.expect("transfer");
    w.until("C answers", |e| is(e, "established", "102")).await;
    assert!(sim.hangup_ext("102"));
    w.until("cleared", |e| e.kind() == "call_cleared").await;
    assert_eq!(roles(&w.seen), capture_roles("cacofonisk_xfer_blind_xfer_blind_abbcac.ami"));
}

#[tokio::test]
async fn attended_transfer_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("100", "101").expect("call");
    let call = w.until("B answers", |e| is(e, "established", "101")).await.call().cloned().expect("id");
    let consult = s.consultation_call(&call, "101", "102").await.expect("consultation");
    w.until("C answers", |e| e.call() == Some(&consult) && is(e, "established", "102")).await;
    s.transfer_call(&call, &consult).await.expect("transfer");
    w.until("merged", |e| matches!(e, Event::CallCleared { merged_into: Some(_), .. })).await;
    assert!(sim.hangup_ext("102"));
    w.until("cleared", |e| matches!(e, Event::CallCleared { merged_into: None, .. })).await;
    assert_eq!(roles(&w.seen), capture_roles("cacofonisk_xfer_attended_xfer_abbcac.ami"));
}

#[tokio::test]
async fn pickup_matches_a_real_asterisk_but_for_the_pickers_own_ring() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("100", "108").expect("call");
    let call = w.until("B rings", |e| is(e, "delivered", "108")).await.call().cloned().expect("id");
    s.pickup("102", &call).await.expect("pickup");
    w.until("C answers", |e| is(e, "established", "102")).await;
    assert!(sim.hangup_ext("102"));
    w.until("cleared", |e| matches!(e, Event::CallCleared { merged_into: None, .. })).await;
    // The captured phone dialed *8 itself; `pickup` rings the picker's phone first (an
    // Originate), which is the one event more.
    let mut sim_roles = roles(&w.seen);
    let own_ring = sim_roles.iter().position(|r| r == "delivered C").expect("the picker's phone rang");
    sim_roles.remove(own_ring);
    assert_eq!(sim_roles, capture_roles("cacofonisk_xfer_misc_star_pickup.ami"));
    assert_eq!(sim_roles, capture_roles("cacofonisk_xfer_misc_sip_pickup.ami"));
}

#[tokio::test]
async fn do_not_disturb_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = Session::connect(&format!("{}?astdb=1", sim.url())).await.expect("session");
    let mut w = Watch::new(&s);
    s.set_do_not_disturb("101", true).await.expect("dnd");
    w.until("dnd", |e| e.kind() == "do_not_disturb").await;
    sim.place_call("100", "101").expect("call");
    w.until("cleared", |e| e.kind() == "call_cleared").await;
    assert_eq!(roles(&w.seen), capture_roles("cacofonisk_simple_ab_dnd.ami"));
}

#[tokio::test]
async fn a_rejected_call_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("100", "108").expect("call");
    w.until("B rings", |e| is(e, "delivered", "108")).await;
    assert!(sim.hangup_ext("108"), "B rejects");
    w.until("cleared", |e| e.kind() == "call_cleared").await;
    assert_eq!(roles(&w.seen), capture_roles("cacofonisk_simple_ab_reject.ami"));
}

#[tokio::test]
async fn click_to_dial_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    let call = s.make_call("100", "101").await.expect("make_call");
    w.until("B answers", |e| e.call() == Some(&call) && is(e, "established", "101")).await;
    assert!(sim.hangup_ext("101"));
    w.until("cleared", |e| e.kind() == "call_cleared").await;
    assert_eq!(roles(&w.seen), capture_roles("cacofonisk_originate_ctd_account_account.ami"));
}

#[tokio::test]
async fn a_caller_giving_up_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("100", "108").expect("call");
    w.until("B rings", |e| is(e, "delivered", "108")).await;
    assert!(sim.hangup_ext("100"), "A gives up");
    w.until("cleared", |e| e.kind() == "call_cleared").await;
    assert_eq!(roles(&w.seen), capture_roles("cacofonisk_simple_ab_a_cancel.ami"));
}

/// The capture's "no answer" target is in fact busy (its `DialEnd` says `BUSY` at once).
#[tokio::test]
async fn a_blind_transfer_to_a_busy_phone_matches_a_real_asterisk() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim).await;
    let mut w = Watch::new(&s);
    sim.place_call("104", "105").expect("a call that keeps 105 busy");
    w.until("105 answers", |e| is(e, "established", "105")).await;
    sim.place_call("100", "101").expect("call");
    let call = w.until("B answers", |e| is(e, "established", "101")).await.call().cloned().expect("id");
    s.single_step_transfer(&call, "101", "105").await.expect("transfer");
    w.until("cleared", |e| e.call() == Some(&call) && e.kind() == "call_cleared").await;
    let this_call: Vec<Event> = w.seen.iter().filter(|e| e.call() == Some(&call)).cloned().collect();
    assert_eq!(roles(&this_call), capture_roles("cacofonisk_xfer_blind_xfer_blind_b_no_answer.ami"));
}
