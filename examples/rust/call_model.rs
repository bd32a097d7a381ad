//! Watch calls, not channels: connect to a PBX over AMI, build the model of its devices
//! and calls from its lists, then print the normalized call events (ringing, answered,
//! transferred, cleared...) until one call has ended.
//!
//! ```sh
//! cargo run -p ctilink-tests --example call_model -- ami://admin:secret@pbx:5038
//! cargo run -p ctilink-tests --example call_model      # no PBX: in-process simulator
//! ```

use std::time::Duration;

use ctilink::ami::{Action, AmiClient, AmiConfig, LinkEvent};
use ctilink::model::{tapi, Event, ResyncLists, Tracker};

/// What the example saw, for its test.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) devices: usize,
    pub(crate) kinds: Vec<String>,
    /// The TAPI call state the called line would show for each event (0: no change).
    pub(crate) called_line: Vec<u32>,
}

pub(crate) async fn run(url: &str, limit: Duration) -> ctilink::Result<Seen> {
    let (client, mut link) = AmiClient::connect_subscribed(AmiConfig::from_url(url)?).await?;
    let mut tracker = Tracker::new();
    let mut seen = Seen::default();

    // The model starts from the PBX's lists, so calls already up are known at once.
    let lists = ResyncLists {
        channels: client.send_list(Action::core_show_channels()).await?.items,
        extensions: client.send_list(Action::extension_state_list()).await?.items,
        devices: client.send_list(Action::device_state_list()).await?.items,
        // The phones without a hint of their own: see docs/call-model.md.
        endpoints: Vec::new(),
    };
    tracker.resync(&lists);
    for d in tracker.devices() {
        println!("device {:>6}  {:?}", d.id, d.state);
    }
    seen.devices = tracker.devices().len();

    let deadline = tokio::time::Instant::now() + limit;
    let mut line: Option<ctilink::model::DeviceId> = None;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, link.recv()).await {
        let LinkEvent::Event(msg) = ev else { continue };
        for event in tracker.apply(&msg) {
            if event.call().is_none() {
                continue;
            }
            println!("{}", serde_json::to_string(&event).unwrap_or_default());
            if let Event::Delivered { device, click_to_dial: false, .. } = &event {
                line.get_or_insert_with(|| device.clone());
            }
            let state =
                line.as_ref().and_then(|l| tapi::line_call_state(&event, l, false)).map_or(0, |s| s.0);
            seen.called_line.push(state);
            seen.kinds.push(event.kind().to_owned());
            if matches!(event, Event::CallCleared { .. }) {
                client.close().await;
                return Ok(seen);
            }
        }
    }
    client.close().await;
    Ok(seen)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1) {
        Some(url) => {
            run(&url, Duration::from_secs(3600)).await?;
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
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = caller.place_call("101", "100");
                tokio::time::sleep(Duration::from_secs(2)).await;
                caller.hangup_all();
            });
            run(&sim.url(), Duration::from_secs(10)).await?;
            sim.shutdown().await;
        }
    }
    Ok(())
}
