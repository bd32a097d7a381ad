//! PBX dialects through the public API against the simulator: the two AstDB conventions
//! (ctilink's `astdb=1`, FreePBX's `astdb=freepbx`) in both directions, and phones learned
//! from the endpoint lists on a PBX whose hints `ExtensionStateList` does not show.

use std::time::Duration;

use ctilink::ami::{Action, AmiClient, AmiConfig};
use ctilink::{AstDbConvention, DeviceState, Event, ForwardKind, Session, SessionOptions};
use ctilink_sim::{SimConfig, SimHandle};
use ctilink_tests::live::{fast_office, is, start_sim, Watch};

async fn session(sim: &SimHandle, astdb: &str) -> Session {
    Session::connect(&format!("{}?control=pjsip&astdb={astdb}", sim.url())).await.expect("session connects")
}

/// Another AMI client: what FreePBX's feature codes and UCP do to the AstDB and lamps.
async fn raw(sim: &SimHandle) -> AmiClient {
    AmiClient::connect(AmiConfig::from_url(&sim.url()).expect("url")).await.expect("raw client")
}

async fn db_get(c: &AmiClient, family: &str, key: &str) -> Option<String> {
    let list = c.send_list(Action::new_list("DBGet").field("Family", family).field("Key", key)).await.ok()?;
    list.items.iter().find(|m| m.is_event("DBGetResponse")).and_then(|m| m.get("Val")).map(str::to_owned)
}

async fn custom_state(c: &AmiClient, name: &str) -> Option<String> {
    let list = c.send_list(Action::device_state_list()).await.expect("DeviceStateList");
    let dev = format!("Custom:{name}");
    list.items
        .iter()
        .find(|m| m.get("Device") == Some(dev.as_str()))
        .and_then(|m| m.get("State"))
        .map(str::to_owned)
}

#[test]
fn the_url_names_the_convention() {
    let conv = |q: &str| SessionOptions::from_url(&format!("ami://a:b@h?{q}")).expect(q).control.astdb;
    assert_eq!(conv("astdb=1"), Some(AstDbConvention::Ctilink));
    assert_eq!(conv("astdb=ctilink"), Some(AstDbConvention::Ctilink));
    assert_eq!(conv("astdb=freepbx"), Some(AstDbConvention::FreePbx));
    assert_eq!(conv("astdb=0"), None);
    assert_eq!(conv("control=pjsip"), None);
    assert!(SessionOptions::from_url("ami://a:b@h?astdb=issabel").is_err());
}

/// Each convention keeps no-answer forwarding under its own key, and the other's stays empty.
#[tokio::test]
async fn each_convention_writes_its_own_keys() {
    for (astdb, family, other) in [("1", "CFNA", "CFU"), ("freepbx", "CFU", "CFNA")] {
        let sim = start_sim(fast_office()).await;
        let s = session(&sim, astdb).await;
        let c = raw(&sim).await;
        s.set_forwarding("108", ForwardKind::NoAnswer, Some("106")).await.expect("forward on");
        assert_eq!(db_get(&c, family, "108").await.as_deref(), Some("106"), "astdb={astdb}");
        assert_eq!(db_get(&c, other, "108").await, None, "astdb={astdb}");
        // The PBX follows it: 108 never answers, so 106 rings after Dial's timeout.
        let mut w = Watch::new(&s);
        sim.place_call("100", "108").expect("call");
        w.until("106 rings after 108 did not answer", |e| is(e, "delivered", "106")).await;
        s.set_do_not_disturb("104", true).await.expect("dnd on");
        assert_eq!(db_get(&c, "DND", "104").await.as_deref(), Some("YES"));
        assert_eq!(custom_state(&c, "DND104").await.as_deref(), Some("BUSY"));
    }
}

/// FreePBX lights `Custom:CF<ext>` for unconditional forwarding; ctilink's convention does not.
#[tokio::test]
async fn freepbx_unconditional_forwarding_lights_its_lamp() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim, "freepbx").await;
    let c = raw(&sim).await;
    s.set_forwarding("105", ForwardKind::Immediate, Some("106")).await.expect("forward on");
    assert_eq!(db_get(&c, "CF", "105").await.as_deref(), Some("106"));
    assert_eq!(custom_state(&c, "CF105").await.as_deref(), Some("BUSY"));
    assert_eq!(s.device("105").expect("105").forward_to.as_deref(), Some("106"));
    s.set_forwarding("105", ForwardKind::Immediate, None).await.expect("forward off");
    assert_eq!(db_get(&c, "CF", "105").await, None);
    assert_eq!(custom_state(&c, "CF105").await.as_deref(), Some("NOT_INUSE"));
    assert!(sim.truth().forwards.is_empty());
}

/// A FreePBX feature code (`*72107` on 103) writes `CF/103` and lights the lamp, and sends
/// no event: the session reads the key again when the lamp changes.
#[tokio::test]
async fn freepbx_feature_code_forwarding_is_seen_by_its_lamp() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim, "freepbx").await;
    let mut w = Watch::new(&s);
    let c = raw(&sim).await;
    c.send(Action::new("DBPut").field("Family", "CF").field("Key", "103").field("Val", "107"))
        .await
        .expect("put");
    c.send(Action::new("Setvar").field("Variable", "DEVICE_STATE(Custom:CF103)").field("Value", "BUSY"))
        .await
        .expect("lamp");
    w.until("forwarding of 103", |e| matches!(e, Event::Forwarding { device, to: Some(t), .. } if device.as_str() == "103" && t == "107"))
        .await;
    assert_eq!(s.device("103").expect("103").forward_to.as_deref(), Some("107"));
}

/// What changed while the link was down (FreePBX's `CFU`, and `DND` without its lamp, as
/// with `USEDEVSTATE` off) comes back at the resync.
#[tokio::test]
async fn freepbx_keys_are_read_back_at_resync() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim, "freepbx").await;
    let mut w = Watch::new(&s);
    let c = raw(&sim).await;
    for (family, key, val) in [("CFU", "102", "109"), ("CFB", "102", "107"), ("DND", "101", "YES")] {
        c.send(Action::new("DBPut").field("Family", family).field("Key", key).field("Val", val))
            .await
            .expect("put");
    }
    sim.drop_connections();
    w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
    let d = s.device("102").expect("102");
    assert_eq!(d.forward_no_answer.as_deref(), Some("109"));
    assert_eq!(d.forward_busy.as_deref(), Some("107"));
    assert!(s.device("101").expect("101").do_not_disturb);
}

/// FreePBX's UCP turns DND off with `UNAVAILABLE` on the lamp, not `NOT_INUSE`.
#[tokio::test]
async fn an_unavailable_dnd_lamp_is_off() {
    let sim = start_sim(fast_office()).await;
    let s = session(&sim, "freepbx").await;
    let mut w = Watch::new(&s);
    s.set_do_not_disturb("104", true).await.expect("dnd on");
    w.until("dnd on", |e| matches!(e, Event::DoNotDisturb { enabled: true, .. })).await;
    let c = raw(&sim).await;
    c.send(
        Action::new("Setvar").field("Variable", "DEVICE_STATE(Custom:DND104)").field("Value", "UNAVAILABLE"),
    )
    .await
    .expect("lamp");
    w.until("dnd off", |e| matches!(e, Event::DoNotDisturb { enabled: false, .. })).await;
}

fn no_hints(technology: &str) -> SimConfig {
    SimConfig { hints: false, technology: technology.into(), ..fast_office() }
}

/// Without hints, `ExtensionStateList` is empty; the endpoint list still gives every phone,
/// its interface and its state (an unplugged phone is unavailable).
#[tokio::test]
async fn a_pbx_without_hints_still_shows_every_phone() {
    for tech in ["PJSIP", "SIP"] {
        let sim = start_sim(no_hints(tech)).await;
        assert!(sim.set_registered("103", false));
        let c = raw(&sim).await;
        let listed = c.send_list(Action::extension_state_list()).await.expect("list").items;
        assert!(listed.iter().all(|m| !m.is_event("ExtensionStatus")), "{tech}: no hints listed");
        let s = Session::connect(&sim.url()).await.expect("session");
        let snap = s.snapshot();
        for n in 100..=109 {
            let id = n.to_string();
            let d =
                snap.devices.iter().find(|d| d.id.as_str() == id).unwrap_or_else(|| panic!("{tech}: {id}"));
            assert_eq!(d.interface.as_deref(), Some(format!("{tech}/{id}").as_str()));
            let want = if n == 103 { DeviceState::Unavailable } else { DeviceState::Idle };
            assert_eq!(d.state, want, "{tech}: {id}");
        }
        // And the live events keep the state: a call makes the phones busy.
        let mut w = Watch::new(&s);
        sim.place_call("100", "101").expect("call");
        w.until("101 answers", |e| is(e, "established", "101")).await;
        tokio::time::timeout(Duration::from_secs(5), async {
            while s.device("101").map(|d| d.state) != Some(DeviceState::InUse) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{tech}: 101 in use"));
        // A resync while in a call: the state lists and the endpoints agree.
        sim.drop_connections();
        w.until("resynced", |e| matches!(e, Event::Resynced { .. })).await;
        assert_eq!(s.device("101").expect("101").state, DeviceState::InUse, "{tech}");
        assert_eq!(s.device("103").expect("103").state, DeviceState::Unavailable, "{tech}");
    }
}

/// The simulator answers the endpoint lists in Asterisk's form; the driver that is absent
/// refuses as Asterisk does.
#[tokio::test]
async fn the_endpoint_lists_have_asterisks_form() {
    let sim = start_sim(fast_office()).await;
    let c = raw(&sim).await;
    let eps = c.send_list(Action::new_list("PJSIPShowEndpoints")).await.expect("endpoints");
    let first = eps.items.iter().find(|m| m.is_event("EndpointList")).expect("EndpointList");
    assert_eq!(first.get("ObjectType"), Some("endpoint"));
    assert_eq!(first.get("ObjectName"), Some("100"));
    assert_eq!(first.get("DeviceState"), Some("Not in use"));
    assert!(first.get("Contacts").is_some_and(|c| c.starts_with("100/sip:")));
    assert!(c.send_list(Action::new_list("SIPpeers")).await.is_err(), "no chan_sip on a PJSIP PBX");
    let sip = start_sim(SimConfig { technology: "SIP".into(), ..fast_office() }).await;
    let c = raw(&sip).await;
    let peers = c.send_list(Action::new_list("SIPpeers")).await.expect("peers");
    let p = peers.items.iter().find(|m| m.is_event("PeerEntry")).expect("PeerEntry");
    assert_eq!(
        (p.get("Channeltype"), p.get("ObjectName"), p.get("Status")),
        (Some("SIP"), Some("100"), Some("Unmonitored"))
    );
    assert!(c.send_list(Action::new_list("PJSIPShowEndpoints")).await.is_err(), "No endpoints found");
}
