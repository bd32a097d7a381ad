//! `ctilink gateway --config gateway.toml`: one PBX connection for many clients
//! (docs/gateway.md). Runs until SIGTERM or Ctrl-C, then says `bye` to every client and
//! logs off the PBX.

use std::path::PathBuf;
use std::process::ExitCode;

use ctilink_gateway::{Config, Gateway, StartError};

#[derive(clap::Args, Debug)]
pub(crate) struct GatewayArgs {
    /// The configuration file (TOML; see examples/gateway/gateway.toml).
    #[arg(long, short)]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

pub(crate) async fn run(args: GatewayArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctilink gateway: {e}");
            return ExitCode::from(2);
        }
    };
    for w in config.warnings() {
        eprintln!("ctilink gateway: warning: {w}");
    }
    if args.check {
        println!("{}: ok ({} tokens)", args.config.display(), config.tokens.len());
        return ExitCode::SUCCESS;
    }
    let gateway = match Gateway::start(config).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("ctilink gateway: {e}");
            return ExitCode::from(if matches!(e, StartError::Config(_)) { 2 } else { 1 });
        }
    };
    let a = gateway.addrs();
    let show = |what: &str, addr: Option<std::net::SocketAddr>, scheme: &str| {
        if let Some(addr) = addr {
            println!(
                "{what:<12} {scheme}{addr}{}",
                if scheme.starts_with("ws") { ctilink_gateway::WS_PATH } else { "" }
            );
        }
    };
    show("tcp", a.tcp, "ctilink://TOKEN@");
    show("tls", a.tls, "ctilinks://TOKEN@");
    show("websocket", a.ws, "ws://");
    show("websocket", a.wss, "wss://");
    show("diagnostics", a.diagnostics, "http://");
    println!("PBX          {}", gateway.link().url);
    gateway.run_until_signal().await;
    ExitCode::SUCCESS
}
