//! Watch a PBX over AMI: the extension states now, then every call event until
//! one call has ended.
//!
//! ```sh
//! cargo run -p ctilink-tests --example ami_monitor -- ami://admin:secret@pbx:5038
//! cargo run -p ctilink-tests --example ami_monitor      # no PBX: in-process simulator
//! ```

use std::time::Duration;

use ctilink::ami::event::{AmiEvent, ChannelState};
use ctilink::ami::{Action, AmiClient, AmiConfig, LinkEvent};

/// What the example saw, for its test.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) hints: usize,
    pub(crate) ringing: Vec<String>,
    pub(crate) answered: Vec<String>,
    pub(crate) hangup_causes: Vec<u16>,
}

/// Lists the hints, then prints call events until a caller's channel hangs up
/// (or `limit` passes).
pub(crate) async fn run(url: &str, limit: Duration) -> ctilink::Result<Seen> {
    let (client, mut events) = AmiClient::connect_subscribed(AmiConfig::from_url(url)?).await?;
    let mut seen = Seen::default();

    let hints = client.send_list(Action::extension_state_list()).await?;
    for item in &hints.items {
        println!(
            "extension {:>6}  {}",
            item.get("Exten").unwrap_or("?"),
            item.get("StatusText").unwrap_or("?")
        );
    }
    seen.hints = hints.items.len();

    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.recv()).await {
        let LinkEvent::Event(msg) = ev else {
            println!("link: {ev:?}");
            continue;
        };
        match AmiEvent::parse(&msg) {
            AmiEvent::Newstate(ch) if ch.state() == Some(ChannelState::Ringing) => {
                let who = ch.caller_id_num().unwrap_or("?").to_owned();
                println!("ringing   {who} (call from {})", ch.connected_line_num().unwrap_or("?"));
                seen.ringing.push(who);
            }
            AmiEvent::BridgeEnter(b) => {
                let who = b.channel().caller_id_num().unwrap_or("?").to_owned();
                println!("connected {who}");
                seen.answered.push(who);
            }
            AmiEvent::Hangup(h) => {
                let cause = h.cause().unwrap_or(0);
                println!("hung up   {} (cause {cause})", h.channel().channel().unwrap_or("?"));
                seen.hangup_causes.push(cause);
                // The call is over once the channel that started it is gone.
                if h.channel().uniqueid().is_some() && h.channel().uniqueid() == h.channel().linkedid() {
                    break;
                }
            }
            _ => {}
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
