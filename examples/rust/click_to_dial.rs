//! Click-to-dial: ring your own phone, and when you answer, call a number. Prints the
//! call's progress and, last, the outcome as one word: `answered`, `busy`, `no-answer` or
//! `failed`.
//!
//! ```sh
//! cargo run -p ctilink-tests --example click_to_dial -- ami://admin:secret@pbx:5038 100 0301234567
//! cargo run -p ctilink-tests --example click_to_dial      # no PBX: in-process simulator
//! ```

use std::time::Duration;

use ctilink::model::FailureReason;
use ctilink::{DeviceId, Event, Session};

/// Places the call and follows its events until the outcome is known or `limit` passed
/// (then the outcome is `failed`).
pub(crate) async fn run(url: &str, from: &str, to: &str, limit: Duration) -> ctilink::Result<&'static str> {
    let session = Session::connect(url).await?;
    // Subscribe before dialing, so that no event of the call is missed.
    let mut events = session.events();
    let call = session.make_call(from, to).await?;
    println!("call {call}: your phone {from} rings; answer it to call {to}");
    let from = DeviceId::new(from);
    let (mut user_answered, mut dest_rang, mut failure) = (false, false, None);
    let deadline = tokio::time::Instant::now() + limit;
    let outcome = loop {
        let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.next()).await else {
            break failure.unwrap_or("failed");
        };
        if matches!(ev, Event::LinkDown { .. }) {
            break "failed";
        }
        if ev.call() != Some(&call) {
            continue;
        }
        println!("  {} {}", ev.kind(), ev.device().map(|d| d.as_str()).unwrap_or(""));
        match &ev {
            Event::Originated { device, .. } if *device == from => user_answered = true,
            Event::Established { device, .. } if *device != from => break "answered",
            Event::Delivered { device, click_to_dial: false, .. } if *device != from => dest_rang = true,
            Event::Failed { reason, .. } => {
                failure = Some(match reason {
                    FailureReason::Busy => "busy",
                    FailureReason::NoAnswer => "no-answer",
                    _ => "failed",
                })
            }
            Event::CallCleared { answered: true, .. } => break "answered",
            Event::CallCleared { .. } => {
                break match failure {
                    Some(f) => f,
                    // Hung up while the destination rang, or the user never answered.
                    None if dest_rang || !user_answered => "no-answer",
                    None => "failed",
                };
            }
            _ => {}
        }
    };
    session.close().await;
    println!("{outcome}");
    Ok(outcome)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> ctilink::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [url, from, to] => {
            run(url, from, to, Duration::from_secs(120)).await?;
        }
        [] => {
            let cfg = ctilink_sim::SimConfig {
                extensions: ctilink_sim::SimConfig::extension_range(100, 104),
                ring_delay: Duration::from_millis(500),
                answer_delay: Duration::from_millis(1000),
                ..Default::default()
            };
            let sim = ctilink_sim::Simulator::start(cfg, ([127, 0, 0, 1], 0).into())
                .await
                .map_err(|e| ctilink::Error::Connect { addr: "127.0.0.1:0".into(), reason: e.to_string() })?;
            run(&sim.url(), "100", "101", Duration::from_secs(10)).await?;
            sim.shutdown().await;
        }
        _ => {
            eprintln!("usage: click_to_dial [URL FROM TO]");
            std::process::exit(2);
        }
    }
    Ok(())
}
