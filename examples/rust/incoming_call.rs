//! Incoming-call pop-up: when a call rings at a phone, show who calls (number and name),
//! as a CRM opens the caller's record. One line per ringing call.
//!
//! ```sh
//! cargo run -p ctilink-tests --example incoming_call -- ami://admin:secret@pbx:5038
//! cargo run -p ctilink-tests --example incoming_call      # no PBX: in-process simulator
//! ```

use std::time::Duration;

use ctilink::{Event, Session};

/// One pop-up: a call rang at `device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Popup {
    pub(crate) call: String,
    pub(crate) device: String,
    pub(crate) number: String,
    pub(crate) name: String,
}

/// Shows a pop-up per call ringing at a phone until `count` were shown or `limit` passed.
pub(crate) async fn run(url: &str, count: usize, limit: Duration) -> ctilink::Result<Vec<Popup>> {
    let session = Session::connect(url).await?;
    let mut events = session.events();
    println!("waiting for calls...");
    let mut popups = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while popups.len() < count {
        let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.next()).await else { break };
        // The user's own phone ringing for a click-to-dial is not an incoming call.
        let Event::Delivered { call, device, caller, click_to_dial: false, .. } = ev else { continue };
        let shown_number = if caller.number.is_empty() { "unknown number" } else { &caller.number };
        let shown_name = if caller.name.is_empty() { "" } else { &caller.name };
        println!("pop-up at {device}: call from {shown_number} {shown_name}");
        popups.push(Popup {
            call: call.to_string(),
            device: device.to_string(),
            number: caller.number,
            name: caller.name,
        });
    }
    session.close().await;
    Ok(popups)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1) {
        Some(url) => {
            run(&url, usize::MAX, Duration::from_secs(24 * 3600)).await?;
        }
        None => {
            let cfg = ctilink_sim::SimConfig {
                extensions: ctilink_sim::SimConfig::extension_range(100, 104),
                answer_delay: Duration::from_millis(500),
                ..Default::default()
            };
            let sim = ctilink_sim::Simulator::start(cfg, ([127, 0, 0, 1], 0).into()).await?;
            let caller = sim.clone();
            tokio::spawn(async move {
                for (from, to) in [("101", "100"), ("103", "102")] {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let _ = caller.place_call(from, to);
                }
            });
            run(&sim.url(), 2, Duration::from_secs(10)).await?;
            sim.hangup_all();
            sim.shutdown().await;
        }
    }
    Ok(())
}
