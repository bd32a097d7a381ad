//! `ctilink`: the command-line face of the SDK.

mod demo;
mod dial;
mod event_line;
mod events;
mod gateway;
mod monitor;
mod parse;
mod record_args;
mod replay;
mod sim_cmd;
mod status;
mod stop;
mod summary;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// CTI for PBXs: click-to-dial, call monitoring and control over the Asterisk
/// Manager Interface. URLs look like ami://user:secret@host:5038 (amis:// for TLS), or
/// ctilink://TOKEN@gateway:7070 through a `ctilink gateway`.
#[derive(Parser, Debug)]
#[command(name = "ctilink", version, about, long_about = None)]
struct Cli {
    /// Log filter for diagnostics on stderr (e.g. info, debug, ctilink=trace).
    #[arg(long, global = true, env = "CTILINK_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run a demo with no PBX: an embedded simulator with calls, monitored live.
    Demo(demo::DemoArgs),
    /// Click-to-dial: ring your phone, then call a number; prints the outcome as one word.
    Dial(dial::DialArgs),
    /// Print the PBX's devices and calls now, then exit.
    Status(status::StatusArgs),
    /// Connect to a PBX and print its raw AMI events as they arrive.
    Monitor(monitor::MonitorArgs),
    /// Connect to a PBX and print the call model's events as they happen (the lines of
    /// `replay`).
    Events(events::EventsArgs),
    /// Decode AMI capture files and count what they hold (non-zero exit on any error).
    Parse(parse::ParseArgs),
    /// Replay an AMI capture through the call model and print its calls and devices.
    Replay(replay::ReplayArgs),
    /// Run the PBX simulator (speaks AMI like Asterisk 20).
    Sim(sim_cmd::SimArgs),
    /// Serve one PBX connection to many clients (ctilink://, WebSocket), with access
    /// control and a diagnostics page.
    Gateway(gateway::GatewayArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Commands::Parse(args) => parse::run(&args),
        Commands::Replay(args) => replay::run(&args),
        Commands::Monitor(args) => runtime().block_on(monitor::run(args)),
        Commands::Events(args) => runtime().block_on(events::run(args)),
        Commands::Sim(args) => runtime().block_on(sim_cmd::run(args)),
        Commands::Demo(args) => runtime().block_on(demo::run(args)),
        Commands::Dial(args) => runtime().block_on(dial::run(args)),
        Commands::Status(args) => runtime().block_on(status::run(args)),
        Commands::Gateway(args) => runtime().block_on(gateway::run(args)),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    }
}
