//! Round trip of a command through the whole SDK: from calling a `Session` method to its
//! future resolving with the PBX's acceptance. What an application waits for before it
//! knows the PBX took the command (the outcome then follows as events).
//!
//! Measured, one command at a time, against the simulator over TCP on 127.0.0.1:
//! - `make_call`: validation, the model lookups, one `Originate` and its `Response`;
//! - `set_do_not_disturb`: two actions in turn (`DBPut`, `Setvar`);
//! - `clear_call` on an unknown call: the model lookup alone, nothing sent (the floor).
//!
//! ```sh
//! cargo bench -p ctilink-tests --bench session_commands            # 2,000 of each
//! cargo bench -p ctilink-tests --bench session_commands -- --test  # quick: 50 of each
//! ```

use std::time::{Duration, Instant};

use ctilink::Session;
use ctilink_sim::{SimConfig, Simulator};

fn pct(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn report(name: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    println!(
        "  {name:<22} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        ns.len(),
        pct(&ns, 0.5),
        pct(&ns, 0.99),
        pct(&ns, 0.999),
        pct(&ns, 1.0)
    );
}

fn main() {
    let n = if std::env::args().any(|a| a == "--test") { 50 } else { 2_000 };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("session_commands: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async {
        // Phones ring for a minute: the calls stay up while they are being counted, and
        // are hung up in batches so that the PBX does not fill up.
        let cfg = SimConfig {
            extensions: SimConfig::extension_range(100, 199),
            ring_delay: Duration::from_secs(60),
            ..SimConfig::default()
        };
        let sim = Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator");
        let s = Session::connect(&format!("{}?astdb=1", sim.url())).await.expect("session");
        println!(
            "session_commands: a Session method called -> the PBX's acceptance ({n} of each, one at a time)"
        );
        println!(
            "  {:<22} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "command", "n", "p50 µs", "p99 µs", "p99.9 µs", "max µs"
        );

        let mut make_call = Vec::with_capacity(n);
        for i in 0..n {
            let from = format!("{}", 100 + i % 100);
            let t = Instant::now();
            s.make_call(&from, "200").await.expect("make_call");
            make_call.push(t.elapsed().as_nanos() as u64);
            if i % 100 == 99 {
                sim.hangup_all();
            }
        }
        sim.hangup_all();
        report("make_call", make_call);

        let mut dnd = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            s.set_do_not_disturb("150", i % 2 == 0).await.expect("dnd");
            dnd.push(t.elapsed().as_nanos() as u64);
        }
        report("set_do_not_disturb", dnd);

        let mut local = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = s.clear_call("no-such-call").await;
            local.push(t.elapsed().as_nanos() as u64);
            assert!(matches!(r, Err(ctilink::Error::UnknownCall(_))));
        }
        report("clear_call (refused)", local);
        s.close().await;
        sim.shutdown().await;
    });
}
