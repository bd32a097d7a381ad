//! `ctilink sim`: the PBX simulator as a server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use ctilink_sim::{AsteriskVersion, SimConfig, SimTls, Simulator, TrafficConfig};

/// `--asterisk`: 18, 20 or 22.
fn parse_asterisk(s: &str) -> Result<AsteriskVersion, String> {
    s.parse()
}

#[derive(clap::Args, Debug)]
pub(crate) struct SimArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:5038")]
    listen: SocketAddr,
    /// Extensions as a range (100-149) or a list (100,101,200).
    #[arg(long, default_value = "100-149")]
    extensions: String,
    /// AMI user name clients log in with.
    #[arg(long, default_value = "admin")]
    user: String,
    /// AMI secret clients log in with.
    #[arg(long, default_value = "secret")]
    secret: String,
    /// The Asterisk to imitate (18, 20 or 22): its AMI banner, its channel
    /// technology unless --technology says otherwise (chan_sip on 18 and 20,
    /// PJSIP on 22) and the version's differences in events. Without it: an
    /// Asterisk 20 with PJSIP phones.
    #[arg(long, value_parser = parse_asterisk)]
    asterisk: Option<AsteriskVersion>,
    /// Channel technology of the phones (PJSIP or SIP; no SIP on Asterisk 22).
    #[arg(long)]
    technology: Option<String>,
    /// Milliseconds an originated call rings the first phone before it answers.
    #[arg(long, default_value_t = 1000)]
    ring_delay_ms: u64,
    /// Milliseconds a called phone rings before it answers.
    #[arg(long, default_value_t = 2000)]
    answer_delay_ms: u64,
    /// Generate random calls among the phones at this many calls per second
    /// (e.g. 0.5; 0 = off): busy, unknown numbers, no answer, hold, transfers.
    #[arg(long, default_value_t = 0.0)]
    traffic: f64,
    /// Seed of the traffic generator's random decisions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Phones that ring but never answer (a list or range, as --extensions).
    #[arg(long)]
    no_answer: Option<String>,
    /// AMI actions to refuse with `Permission denied` (a comma list, e.g.
    /// BlindTransfer,Redirect), as Asterisk refuses an AMI user without the write
    /// permission they need: how a client shows the PBX's refusal.
    #[arg(long, value_delimiter = ',')]
    deny: Vec<String>,
    /// Serve AMI over TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

/// `100-149` or `100,101,200` (ranges and single numbers may be mixed).
pub(crate) fn parse_extensions(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.trim().parse().map_err(|_| format!("bad range start in {part:?}"))?;
                let b: u32 = b.trim().parse().map_err(|_| format!("bad range end in {part:?}"))?;
                if b < a || b - a >= 100_000 {
                    return Err(format!("bad range {part:?}"));
                }
                out.extend(SimConfig::extension_range(a, b));
            }
            None if part.chars().all(|c| c.is_ascii_alphanumeric()) => out.push(part.to_owned()),
            None => return Err(format!("bad extension {part:?}")),
        }
    }
    if out.is_empty() {
        return Err("no extensions".into());
    }
    Ok(out)
}

pub(crate) async fn run(args: SimArgs) -> ExitCode {
    let extensions = match parse_extensions(&args.extensions) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ctilink sim: --extensions: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.traffic.is_finite() || args.traffic < 0.0 {
        eprintln!("ctilink sim: --traffic: must be a number of calls per second >= 0");
        return ExitCode::from(2);
    }
    let no_answer = match args.no_answer.as_deref().map(parse_extensions) {
        None => Vec::new(),
        Some(Ok(list)) => list,
        Some(Err(e)) => {
            eprintln!("ctilink sim: --no-answer: {e}");
            return ExitCode::from(2);
        }
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => match (std::fs::read_to_string(c), std::fs::read_to_string(k)) {
            (Ok(cert_pem), Ok(key_pem)) => Some(SimTls { cert_pem, key_pem }),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("ctilink sim: cannot read TLS files: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let base = args.asterisk.map_or_else(SimConfig::default, SimConfig::for_asterisk);
    let technology = args.technology.clone().unwrap_or_else(|| base.technology.clone());
    if !base.asterisk.has_technology(&technology) {
        eprintln!("ctilink sim: --technology: Asterisk {} has no {technology} channels", base.asterisk);
        return ExitCode::from(2);
    }
    let cfg = SimConfig {
        extensions,
        username: args.user.clone(),
        secret: args.secret.clone(),
        technology,
        ring_delay: Duration::from_millis(args.ring_delay_ms),
        answer_delay: Duration::from_millis(args.answer_delay_ms),
        no_answer,
        tls,
        ..base
    };
    let n = cfg.extensions.len();
    let (cfg_tech, cfg_version) = (cfg.technology.clone(), cfg.asterisk);
    let sim = match Simulator::start(cfg, args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctilink sim: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    for action in args.deny.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        sim.set_action_allowed(action, false);
        println!("ctilink sim: refusing {action} (Permission denied)");
    }
    let scheme = if args.tls_cert.is_some() { "amis" } else { "ami" };
    println!(
        "ctilink sim: {n} {} extensions on Asterisk {}, AMI on {} ({scheme}://{}:***@{})",
        cfg_tech,
        cfg_version,
        sim.addr(),
        args.user,
        sim.addr()
    );
    let traffic = (args.traffic > 0.0).then(|| {
        println!(
            "ctilink sim: traffic {} calls/s, seed {} (talk 3-30 s; some busy, unknown, unanswered, held, transferred)",
            args.traffic, args.seed
        );
        sim.start_traffic(TrafficConfig { calls_per_sec: args.traffic, seed: args.seed, ..TrafficConfig::default() })
    });
    println!("ctilink sim: press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    if let Some(t) = traffic {
        t.stop();
        println!("ctilink sim: traffic stopped after {} calls", t.calls_started());
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_specs() {
        assert_eq!(parse_extensions("100-102").ok(), Some(vec!["100".into(), "101".into(), "102".into()]));
        assert_eq!(
            parse_extensions("100, 200-201").ok(),
            Some(vec!["100".into(), "200".into(), "201".into()])
        );
        assert!(parse_extensions("102-100").is_err());
        assert!(parse_extensions("1 00").is_err());
        assert!(parse_extensions("").is_err());
    }

    #[test]
    fn asterisk_versions() {
        assert_eq!(parse_asterisk("22"), Ok(AsteriskVersion::V22));
        assert_eq!(parse_asterisk("18").map(AsteriskVersion::ami_version), Ok("7.0.3"));
        assert!(parse_asterisk("19").is_err());
    }
}
