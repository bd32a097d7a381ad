//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The test vectors: `$CTILINK_VECTORS`, else the repository's own copy in `tests/vectors`.
/// Panics with a clear message when missing, so CI cannot pass by skipping them.
pub fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("CTILINK_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors"),
    };
    assert!(dir.join("ami").is_dir(), "test vectors not found at {} (set CTILINK_VECTORS)", dir.display());
    dir
}

/// Every file with extension `ext` in `$CTILINK_VECTORS/ami/<sub>`, sorted.
pub fn vector_files(sub: &str, ext: &str) -> Vec<PathBuf> {
    let dir = vectors_dir().join("ami").join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

pub mod decls;
pub mod native;

pub mod live {
    //! A session against a simulator, and waiting for the events a test expects.

    use std::time::Duration;

    use ctilink::{Event, EventStream, Session};
    use ctilink_sim::{SimConfig, SimHandle, Simulator};

    /// A small, fast office: phones 100-109, quick ringing; 108 and 109 ring until
    /// `Dial()` gives up after 1.5 s (nobody at the desk).
    pub fn fast_office() -> SimConfig {
        SimConfig {
            extensions: SimConfig::extension_range(100, 109),
            ring_delay: Duration::from_millis(50),
            answer_delay: Duration::from_millis(150),
            no_answer: vec!["108".into(), "109".into()],
            dial_timeout: Duration::from_millis(1500),
            ..SimConfig::default()
        }
    }

    pub async fn start_sim(cfg: SimConfig) -> SimHandle {
        Simulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("simulator starts")
    }

    /// Actions a `Session` sends while connecting: `Login`, the three state lists, then the
    /// two endpoint lists (`PJSIPShowEndpoints`, `SIPpeers`).
    pub const SESSION_CONNECT_ACTIONS: u64 = 6;

    /// Waits until a program connecting to `sim` has sent its first `actions` actions (its
    /// login and the lists it reads before it listens), and then a moment for it to
    /// subscribe, so that it sees what the test does next.
    pub async fn until_ready(sim: &SimHandle, actions: u64) {
        let sent = tokio::time::timeout(Duration::from_secs(10), async {
            while sim.actions_received() < actions {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(sent.is_ok(), "the program sent {} of {actions} actions", sim.actions_received());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// A session's events, kept so that a failing test can show what it saw.
    #[derive(Debug)]
    pub struct Watch {
        pub stream: EventStream,
        pub seen: Vec<Event>,
    }

    impl Watch {
        pub fn new(session: &Session) -> Watch {
            Watch { stream: session.events(), seen: Vec::new() }
        }

        /// Waits (at most 5 s) for an event matching `pred`, looking at events already
        /// seen since the last match first.
        pub async fn until(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
            let found = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match self.stream.next().await {
                        Some(ev) => {
                            self.seen.push(ev.clone());
                            if pred(&ev) {
                                return ev;
                            }
                        }
                        None => panic!("the event stream ended while waiting for {what}"),
                    }
                }
            })
            .await;
            found.unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {:#?}", self.seen))
        }

        /// The call events seen so far as `kind device`.
        pub fn kinds(&self) -> Vec<String> {
            self.seen
                .iter()
                .filter(|e| e.call().is_some())
                .map(|e| match e.device() {
                    Some(d) => format!("{} {d}", e.kind()),
                    None => e.kind().to_owned(),
                })
                .collect()
        }
    }

    /// `ev` is `kind` for `device` (any call).
    pub fn is(ev: &Event, kind: &str, device: &str) -> bool {
        ev.kind() == kind && ev.device().is_some_and(|d| d.as_str() == device)
    }
}

pub mod ami_live {
    //! A call model fed by a plain AMI link: the tracker alone, without the Session, for
    //! tests of what the simulator sends and how the model reads it.

    use std::time::Duration;

    use ctilink::ami::{Action, AmiClient, AmiConfig, LinkEvent, Subscription};
    use ctilink::model::{Event, Tracker};
    use ctilink_sim::SimHandle;
    use tokio::time::timeout;

    /// A tracker fed by a live link, and every event it produced.
    #[derive(Debug)]
    pub struct Live {
        pub client: AmiClient,
        pub sub: Subscription,
        pub tracker: Tracker,
        pub events: Vec<Event>,
    }

    impl Live {
        pub async fn connect(sim: &SimHandle) -> Live {
            let cfg = AmiConfig::from_url(&sim.url()).expect("url");
            let (client, sub) = AmiClient::connect_subscribed(cfg).await.expect("connect");
            Live { client, sub, tracker: Tracker::new(), events: Vec::new() }
        }

        /// Feeds the tracker until an event at or after index `from` matches `pred`
        /// (at most 5 s); returns its index.
        pub async fn until_from(&mut self, from: usize, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
            if let Some(i) = self.events[from.min(self.events.len())..].iter().position(&pred) {
                return from + i;
            }
            let found = timeout(Duration::from_secs(5), async {
                loop {
                    match self.sub.recv().await {
                        Some(LinkEvent::Event(m)) => {
                            let before = self.events.len();
                            self.tracker.apply_into(&m, &mut self.events);
                            if let Some(i) = self.events[before..].iter().position(&pred) {
                                return before + i;
                            }
                        }
                        Some(_) => {}
                        None => panic!("link closed"),
                    }
                }
            })
            .await;
            found
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; events so far: {:#?}", self.events))
        }

        /// As [`until_from`](Self::until_from), looking at every event so far.
        pub async fn until(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
            self.until_from(0, what, pred).await
        }

        /// Sends an action; `Ok(message)` on Success, `Err(error text)` on Error.
        pub async fn act(&self, action: Action) -> Result<String, String> {
            match self.client.send(action).await {
                Ok(r) => Ok(r.text().unwrap_or_default().to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }

        /// The call events as `kind device`, in order.
        pub fn kinds(&self) -> Vec<String> {
            self.events
                .iter()
                .filter(|e| e.call().is_some())
                .map(|e| match e.device() {
                    Some(d) => format!("{} {d}", e.kind()),
                    None => e.kind().to_owned(),
                })
                .collect()
        }
    }
}
