//! Click-to-dial: ring your own phone, and when you answer, call a number. Prints the
//! call's progress and, last, the outcome as one word: `answered`, `busy`, `no-answer` or
//! `failed`.
//!
//! ```sh
//! cargo run -p ctilink-tests --example click_to_dial -- ami://admin:secret@pbx:5038 100 0301234567
//! cargo run -p ctilink-tests --example click_to_dial      # no PBX: in-process simulator
//! ```

use std::time::Duration;

use ctilink::{DialOutcome, DialProgress, Event, Session};

/// Places the call and follows its events until the outcome is known or `limit` passed
/// (then the outcome is `failed`).
pub(crate) async fn run(url: &str, from: &str, to: &str, limit: Duration) -> ctilink::Result<&'static str> {
    let session = Session::connect(url).await?;
    // Subscribe before dialing, so that no event of the call is missed.
    let mut events = session.events();
    let call = session.make_call(from, to).await?;
    println!("call {call}: your phone {from} rings; answer it to call {to}");
    // DialProgress turns the call's events into the outcome a user tells.
    let mut progress = DialProgress::new(call.clone(), from, to);
    let deadline = tokio::time::Instant::now() + limit;
    let outcome = loop {
        let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.next()).await else {
            break progress.pending_failure().unwrap_or(DialOutcome::Failed);
        };
        if matches!(ev, Event::LinkDown { .. }) {
            break DialOutcome::Failed;
        }
        if ev.call() == Some(&call) {
            println!("  {} {}", ev.kind(), ev.device().map(|d| d.as_str()).unwrap_or(""));
        }
        if let Some(outcome) = progress.apply(&ev) {
            break outcome;
        }
    }
    .as_str();
    session.close().await;
    println!("{outcome}");
    Ok(outcome)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
            let sim = ctilink_sim::Simulator::start(cfg, ([127, 0, 0, 1], 0).into()).await?;
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
