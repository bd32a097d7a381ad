//! What the cluster tests run: a real `nats-server` with JetStream on a free port, the
//! simulator, gateways in this process or as `ctilink gateway` processes, and a TCP
//! proxy that can cut one gateway off NATS.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctilink_gateway::{Config, Gateway};
use ctilink_sim::{SimConfig, SimHandle, Simulator};
use tokio::net::{TcpListener, TcpStream};

pub(crate) const OPERATOR: &str = "token-cluster-operator-5a1f3c";
pub(crate) const BERLIN_DESK: &str = "token-cluster-berlin-desk-9e2b7d";
pub(crate) const HAMBURG_DESK: &str = "token-cluster-hamburg-desk-c40a18";

/// A small office: phones 100-109, quick ringing and answering.
pub(crate) fn office() -> SimConfig {
    SimConfig {
        extensions: SimConfig::extension_range(100, 109),
        ring_delay: Duration::from_millis(50),
        answer_delay: Duration::from_millis(150),
        dial_timeout: Duration::from_millis(3000),
        ..SimConfig::default()
    }
}

pub(crate) async fn start_sim() -> SimHandle {
    Simulator::start(office(), "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
}

/// A `nats-server` with JetStream, its store in a directory of its own, on a port it
/// picked (kept across a restart).
pub(crate) struct Nats {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: PathBuf,
}

/// A port free a moment ago (bound, then closed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn tmp_dir(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ctilink-{what}-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Nats {
    pub(crate) fn start() -> Nats {
        let dir = tmp_dir("nats");
        let (child, port) = Self::spawn(&dir, None);
        Nats { child: Some(child), port, dir }
    }

    /// Three servers as one NATS cluster with JetStream (each with its own store),
    /// routed to each other on ports picked here.
    pub(crate) fn start_cluster() -> [Nats; 3] {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let all = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let start = |i: usize| {
            let dir = tmp_dir("nats");
            let extra = [
                "--server_name".to_owned(),
                format!("n{i}"),
                "--cluster_name".to_owned(),
                "ctilink-test".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{}", routes[i]),
                "--routes".to_owned(),
                all.clone(),
            ];
            let (child, port) = Self::spawn_with(&dir, None, &extra);
            Nats { child: Some(child), port, dir }
        };
        [start(0), start(1), start(2)]
    }

    fn spawn(dir: &Path, port: Option<u16>) -> (Child, u16) {
        Self::spawn_with(dir, port, &[])
    }

    fn spawn_with(dir: &Path, port: Option<u16>, extra: &[String]) -> (Child, u16) {
        let port_arg = port.map_or("-1".to_owned(), |p| p.to_string());
        let mut child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port_arg, "-js", "-sd"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server runs (scripts/setup.sh installs it)");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut port = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                    port = rest.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                }
                if line.contains("Server is ready") {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("nats-server is ready")
            .expect("nats-server says its port");
        (child, port)
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let (child, _) = Self::spawn(&self.dir, Some(self.port));
        self.child = Some(child);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Tokens of every test: the operator sees and acts for berlin 100-103 and hamburg
/// 100-101 (no `*`, so that gateways subscribe to those devices' subjects only); the
/// berlin desk sees berlin 100 and 101, the hamburg desk hamburg 105.
const TOKENS: &str = r#"
[[token]]
token = "token-cluster-operator-5a1f3c"
identity = "operator"
monitor = ["berlin/100", "berlin/101", "berlin/102", "berlin/103", "hamburg/100", "hamburg/101"]
control = ["berlin/100", "berlin/102", "hamburg/100"]

[[token]]
token = "token-cluster-berlin-desk-9e2b7d"
identity = "berlin-desk"
monitor = ["berlin/100", "berlin/101"]
control = ["berlin/100"]

[[token]]
token = "token-cluster-hamburg-desk-c40a18"
identity = "hamburg-desk"
monitor = ["hamburg/105"]
control = ["hamburg/105"]
"#;

/// The TOML of one gateway of the cluster at `nats` for the PBXs `(id, simulator)`.
pub(crate) fn gateway_toml(
    nats: &str,
    node: &str,
    pbxs: &[(&str, &SimHandle)],
    ttl_ms: u64,
    rebalance_ms: u64,
) -> String {
    gateway_toml_replicated(nats, node, pbxs, ttl_ms, rebalance_ms, 1)
}

/// The same with the lease bucket on `replicas` NATS servers.
pub(crate) fn gateway_toml_replicated(
    nats: &str,
    node: &str,
    pbxs: &[(&str, &SimHandle)],
    ttl_ms: u64,
    rebalance_ms: u64,
    replicas: usize,
) -> String {
    let mut t = format!(
        "[listen]\ntcp = \"127.0.0.1:0\"\ndiagnostics = \"127.0.0.1:0\"\n\n[cluster]\nnats = \"{nats}\"\nnode = \"{node}\"\n\
         lease_ttl_ms = {ttl_ms}\nrebalance_after_ms = {rebalance_ms}\ncommand_timeout_ms = 5000\n\
         lease_replicas = {replicas}\n\n"
    );
    for (id, sim) in pbxs {
        t.push_str(&format!("[[pbx]]\nid = \"{id}\"\nurl = \"{}&reconnect_ms=100\"\n\n", sim.session_url()));
    }
    t.push_str(TOKENS);
    t
}

/// Warnings of the gateways in this process go to the test's output (shown when a test
/// fails): a lease lost or given back says why.
pub(crate) fn log_warnings() {
    let _ = tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_test_writer().try_init();
}

pub(crate) async fn start_gateway(toml: &str) -> Gateway {
    log_warnings();
    let config = Config::from_toml(toml).expect("a valid configuration");
    Gateway::start(config).await.expect("the gateway starts")
}

/// A `ctilink gateway` process, to be killed.
pub(crate) struct GatewayProcess {
    child: Child,
    pub(crate) tcp: SocketAddr,
    _dir: PathBuf,
}

impl GatewayProcess {
    pub(crate) fn start(toml: &str) -> GatewayProcess {
        let dir = tmp_dir("gw");
        let file = dir.join("gateway.toml");
        std::fs::write(&file, toml).expect("write the configuration");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctilink"))
            .arg("gateway")
            .arg("--config")
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ctilink gateway runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("tcp") {
                    if let Some(addr) = rest.trim().strip_prefix("ctilink://TOKEN@") {
                        let _ = tx.send(addr.parse::<SocketAddr>().expect("an address"));
                    }
                }
            }
        });
        let tcp = rx.recv_timeout(Duration::from_secs(60)).expect("the gateway process says its address");
        GatewayProcess { child, tcp, _dir: dir }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{signal}");
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of NATS for one gateway: `cut` closes its connections and
/// refuses new ones until `mend`.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(to: SocketAddr) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let c = cut.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = l.accept().await else { return };
                if c.load(Ordering::Acquire) {
                    continue; // dropped: closed at once
                }
                let c = c.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(to).await else { return };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let watch = async {
                        while !c.load(Ordering::Acquire) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {}
                        _ = watch => {}
                    }
                });
            }
        });
        Proxy { addr, cut, task }
    }

    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
    }

    pub(crate) fn mend(&self) {
        self.cut.store(false, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `f` until it holds, at most `secs`.
pub(crate) async fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Who owns `pbx`, as `gw`'s diagnostics say.
pub(crate) fn owner_of(gw: &Gateway, pbx: &str) -> String {
    gw.link()
        .cluster
        .and_then(|c| c.pbxs.into_iter().find(|p| p.id == pbx))
        .map(|p| p.owner)
        .unwrap_or_default()
}

pub(crate) fn owns(gw: &Gateway) -> Vec<String> {
    gw.link().cluster.map(|c| c.owns).unwrap_or_default()
}

/// The diagnostics page at `diag` as headless Chromium renders it, after its script ran.
pub(crate) async fn rendered_page(diag: SocketAddr) -> String {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium (scripts/setup.sh installs it)");
    let profile = tmp_dir("chromium");
    let run = tokio::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("http://{diag}/"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium in 90 s")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
