//! The adversarial suite: every attack of the probe in issue 17, run against the real
//! gateway, the real simulator and a hostile AMI server written for these tests, each
//! asserting the limit that holds (heap under a stated bound, a valid client still
//! connects, the right error or event). `make test` prints `adversarial: N passed, M failed`.
//!
//! The tests take turns ([`serial`]): heap figures are those of this process, which holds
//! the gateway, the simulator and the attackers, so one test at a time keeps a test's
//! figure its own.

mod attack;
#[path = "../common/mod.rs"]
mod common;
mod heap;

mod diagnostics;
mod hellos;
mod ids;
mod link;
mod memory;
mod pipeline;
mod resync;
mod slots;

use tokio::sync::{Mutex, MutexGuard};

#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// Held for the whole of a test: the next waits. (A tokio mutex: each test has its own
/// runtime, and the guard is held across awaits.)
pub(crate) async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}
