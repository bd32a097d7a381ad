//! `session.dial()`: a click-to-dial followed to the outcome a user tells (`answered`,
//! `busy`, `no-answer`, `failed`), decided by the core's `DialProgress` so that Node
//! programs agree with the CLI and the Rust examples.

use std::time::Duration;

use ctilink::{CallId, DialOutcome, DialProgress, Event, EventStream};
use napi_derive::napi;
use serde_json::{json, Value};
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

use crate::json::event_value;

struct State {
    /// `None` once the outcome was given.
    stream: Option<EventStream>,
    progress: DialProgress,
    deadline: Instant,
}

#[napi]
pub struct NativeDial {
    call: String,
    state: Mutex<State>,
    stop: watch::Sender<bool>,
}

impl NativeDial {
    pub(crate) fn new(call: CallId, from: &str, to: &str, stream: EventStream, limit: Duration) -> Self {
        let state = State {
            stream: Some(stream),
            progress: DialProgress::new(call.clone(), from, to),
            deadline: Instant::now() + limit,
        };
        NativeDial { call: call.to_string(), state: Mutex::new(state), stop: watch::channel(false).0 }
    }
}

#[napi]
impl NativeDial {
    /// The call's id.
    #[napi(getter)]
    pub fn call(&self) -> String {
        self.call.clone()
    }

    /// The next step as JSON: `{"event": <the call's next event> | null, "outcome": <word>
    /// | null}`; `null` after the step that gave the outcome.
    ///
    /// Past the time limit, when the session closes, or when the link drops (the call can
    /// no longer be followed), the outcome is the failure seen so far, else `failed`: what
    /// the Rust example and `ctilink dial` report.
    #[napi]
    pub async fn next(&self) -> Option<String> {
        let mut stop = self.stop.subscribe();
        let mut guard = self.state.lock().await;
        let st = &mut *guard;
        let stream = st.stream.as_mut()?;
        loop {
            let ev = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => None,
                ev = tokio::time::timeout_at(st.deadline, stream.next()) => ev.ok().flatten(),
            };
            let Some(ev) = ev else { return Some(finish(st, None, given_up(&st.progress))) };
            if matches!(ev, Event::LinkDown { .. }) {
                return Some(finish(st, None, given_up(&st.progress)));
            }
            let outcome = st.progress.apply(&ev);
            let mine = ev.call() == Some(st.progress.call());
            match (mine, outcome) {
                (_, Some(o)) => return Some(finish(st, mine.then(|| event_value(&ev)), o)),
                (true, None) => return Some(step(Some(event_value(&ev)), None)),
                (false, None) => {}
            }
        }
    }

    /// Stops following the call: the next step gives the outcome so far.
    #[napi(catch_unwind)]
    pub fn cancel(&self) {
        self.stop.send_replace(true);
    }
}

fn given_up(p: &DialProgress) -> DialOutcome {
    p.pending_failure().unwrap_or(DialOutcome::Failed)
}

fn finish(st: &mut State, event: Option<Value>, outcome: DialOutcome) -> String {
    st.stream = None;
    step(event, Some(outcome))
}

fn step(event: Option<Value>, outcome: Option<DialOutcome>) -> String {
    json!({ "event": event, "outcome": outcome.map(DialOutcome::as_str) }).to_string()
}
