//! Who may hold a connection before authenticating, and how fast an address may guess
//! tokens.
//!
//! A connection that has not said a good `hello` yet (still in its TLS or WebSocket
//! handshake, or before `hello`) costs a socket and a task but proves nothing, so such
//! connections have a budget of their own, apart from `max_clients`: so many in all and
//! so many per source address. When a budget is full, its *oldest* unauthenticated
//! connection is closed to admit the new one if it has had [`GRACE`] to say `hello`;
//! otherwise the new one is refused with `bye` ("try again"). So one address cannot
//! disturb any other (at its own budget it only pushes out its own), a client never waits
//! behind its address's dead sockets, and a connection admitted is safe for [`GRACE`]: an
//! attacker re-opening every closed socket cannot push out a client mid-hello in a chain
//! as fast as loopback allows. A herd of clients reconnecting at once through one address
//! (a terminal server, a NAT) gets in a budget at a time, the rest retrying: raise the
//! per-address budget where many clients share an address.
//!
//! Failed hellos slow their address down: after `n` failures, the next hello from the
//! address waits `250 ms * 2^(n-1)` (at most [`MAX_THROTTLE`]) before its token is even
//! looked at, so guessing from one address is bounded by its connection budget over that
//! delay, whether or not the guesser waits for the answer. An address is forgotten
//! [`FORGET_AFTER`] after its last failure; at most [`MAX_ADDRESSES`] are remembered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::registry::{lock, Client};

/// How long an admitted connection is safe from being pushed out by other addresses.
pub const GRACE: Duration = Duration::from_secs(1);
/// The first delay after a failed hello, doubled by each further failure.
pub const THROTTLE_BASE: Duration = Duration::from_millis(250);
/// The longest a hello waits for its address's failures.
pub const MAX_THROTTLE: Duration = Duration::from_secs(5);
/// How long an address's failures are remembered after its last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Addresses whose failures are remembered at most.
pub const MAX_ADDRESSES: usize = 4096;

/// A source address as the budgets count it: IPv4 as it is, IPv6 by its /64 (one host
/// or one site holds a whole /64), an IPv4-mapped IPv6 address as its IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrKey(IpAddr);

impl AddrKey {
    pub fn of(addr: SocketAddr) -> AddrKey {
        match addr.ip() {
            IpAddr::V4(v4) => AddrKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    AddrKey(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }
}

#[derive(Debug, Default)]
struct Waiting {
    /// By connection id: ids grow, so the first is the oldest.
    all: BTreeMap<u64, (AddrKey, Arc<Client>)>,
    by_addr: HashMap<AddrKey, BTreeSet<u64>>,
    authenticated: usize,
}

impl Waiting {
    fn take(&mut self, id: u64) -> Option<Arc<Client>> {
        let (key, c) = self.all.remove(&id)?;
        if let Some(set) = self.by_addr.get_mut(&key) {
            set.remove(&id);
            if set.is_empty() {
                self.by_addr.remove(&key);
            }
        }
        Some(c)
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The budgets and the throttle, shared by every listener.
#[derive(Debug)]
pub struct Admission {
    total: usize,
    per_address: usize,
    max_clients: usize,
    waiting: Mutex<Waiting>,
    failures: Mutex<HashMap<AddrKey, Failures>>,
}

/// A new connection not taken: every connection without hello is younger than
/// [`GRACE`]. (Its own address's oldest may have made way already: listed here.)
#[derive(Debug)]
pub struct Refused {
    pub evicted: Vec<Arc<Client>>,
}

/// Why an authenticated client was not taken.
#[derive(Debug, PartialEq, Eq)]
pub struct AtCapacity;

impl Admission {
    pub fn new(total: usize, per_address: usize, max_clients: usize) -> Self {
        Admission {
            total,
            per_address,
            max_clients,
            waiting: Mutex::new(Waiting::default()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a new connection; returns the connections it pushed out (their tasks are
    /// told to end), or [`Refused`] when the total budget is full of
    /// connections younger than [`GRACE`].
    pub fn admit(&self, client: &Arc<Client>) -> Result<Vec<Arc<Client>>, Refused> {
        let key = AddrKey::of(client.addr);
        let mut w = lock(&self.waiting);
        let mut out = Vec::new();
        let same = w.by_addr.get(&key).map_or(0, BTreeSet::len);
        if same >= self.per_address {
            let oldest = w.by_addr.get(&key).and_then(|s| s.first().copied());
            match oldest.and_then(|id| w.all.get(&id).map(|(_, c)| (id, c.age()))) {
                Some((id, age)) if age >= GRACE => out.extend(w.take(id)),
                _ => return Err(Refused { evicted: out }),
            }
        }
        while w.all.len() >= self.total {
            let Some((&oldest, (_, c))) = w.all.iter().next() else { break };
            if c.age() < GRACE {
                drop(w);
                for c in &out {
                    c.evict("closed to make room: too many connections without hello");
                }
                return Err(Refused { evicted: out });
            }
            out.extend(w.take(oldest));
        }
        w.all.insert(client.id, (key, client.clone()));
        w.by_addr.entry(key).or_default().insert(client.id);
        drop(w);
        for c in &out {
            c.evict("closed to make room: too many connections without hello");
        }
        Ok(out)
    }

    /// The connection authenticated: it leaves the unauthenticated budget and takes a
    /// client slot, if one is free.
    pub fn authenticated(&self, client: &Client) -> Result<(), AtCapacity> {
        let mut w = lock(&self.waiting);
        w.take(client.id);
        if w.authenticated >= self.max_clients {
            return Err(AtCapacity);
        }
        w.authenticated += 1;
        client.set_authenticated();
        Ok(())
    }

    /// The connection is gone.
    pub fn gone(&self, client: &Client) {
        let mut w = lock(&self.waiting);
        w.take(client.id);
        if client.is_authenticated() {
            w.authenticated = w.authenticated.saturating_sub(1);
        }
    }

    /// Connections without hello, now.
    pub fn unauthenticated(&self) -> usize {
        lock(&self.waiting).all.len()
    }

    /// How long a hello from `addr` waits before its token is looked at.
    pub fn throttle(&self, addr: SocketAddr) -> Duration {
        let key = AddrKey::of(addr);
        let f = lock(&self.failures);
        match f.get(&key) {
            Some(x) if x.count > 0 && x.last.elapsed() < FORGET_AFTER => {
                let exp = (x.count - 1).min(16);
                THROTTLE_BASE.saturating_mul(1 << exp).min(MAX_THROTTLE)
            }
            _ => Duration::ZERO,
        }
    }

    /// A hello from `addr` had an unknown token.
    pub fn failed(&self, addr: SocketAddr) {
        let key = AddrKey::of(addr);
        let now = Instant::now();
        let mut f = lock(&self.failures);
        if !f.contains_key(&key) && f.len() >= MAX_ADDRESSES {
            f.retain(|_, x| x.last.elapsed() < FORGET_AFTER);
            if f.len() >= MAX_ADDRESSES {
                if let Some(oldest) = f.iter().min_by_key(|(_, x)| x.last).map(|(k, _)| *k) {
                    f.remove(&oldest);
                }
            }
        }
        let e = f.entry(key).or_insert(Failures { count: 0, last: now });
        if e.last.elapsed() >= FORGET_AFTER {
            e.count = 0;
        }
        e.count = e.count.saturating_add(1);
        e.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Transport;

    fn client(id: u64, addr: &str) -> Arc<Client> {
        let limits = crate::ClientLimits::default().stream();
        Arc::new(Client::new(id, addr.parse().expect("addr"), Transport::Tcp, limits))
    }

    fn ids(v: &[Arc<Client>]) -> Vec<u64> {
        v.iter().map(|c| c.id).collect()
    }

    #[test]
    fn the_oldest_makes_room_per_address_then_in_all_once_past_its_grace() {
        let a = Admission::new(4, 2, 10);
        let c: Vec<_> =
            (1..=6).map(|i| client(i, if i <= 3 { "10.0.0.1:1" } else { "10.0.0.2:1" })).collect();
        assert!(a.admit(&c[0]).expect("admitted").is_empty());
        assert!(a.admit(&c[1]).expect("admitted").is_empty());
        let refused = a.admit(&c[2]).expect_err("the address's two are within their grace");
        assert!(refused.evicted.is_empty() && !c[0].is_evicted());
        assert!(a.admit(&c[3]).expect("admitted").is_empty());
        assert!(a.admit(&c[4]).expect("admitted").is_empty(), "4 in all now");
        a.admit(&client(7, "10.0.0.3:1")).expect_err("all are within their grace");
        std::thread::sleep(GRACE);
        assert_eq!(ids(&a.admit(&c[5]).expect("admitted")), [4], "10.0.0.2's oldest");
        assert!(c[3].is_evicted());
        assert_eq!(ids(&a.admit(&client(8, "10.0.0.3:1")).expect("admitted")), [1], "the oldest of all");
        assert_eq!(ids(&a.admit(&client(9, "10.0.0.1:1")).expect("admitted")), [2], "10.0.0.1's oldest");
        assert_eq!(a.unauthenticated(), 4);
    }

    #[test]
    fn authenticated_clients_leave_the_budget_and_take_a_slot() {
        let a = Admission::new(4, 4, 1);
        let (x, y) = (client(1, "10.0.0.1:1"), client(2, "10.0.0.1:2"));
        a.admit(&x).expect("admitted");
        a.admit(&y).expect("admitted");
        assert_eq!(a.authenticated(&x), Ok(()));
        assert_eq!(a.authenticated(&y), Err(AtCapacity));
        assert_eq!(a.unauthenticated(), 0);
        a.gone(&x);
        let z = client(3, "10.0.0.1:3");
        a.admit(&z).expect("admitted");
        assert_eq!(a.authenticated(&z), Ok(()), "the slot came free");
    }

    #[test]
    fn failures_slow_their_address_down_and_no_other() {
        let a = Admission::new(4, 4, 4);
        let bad: SocketAddr = "192.0.2.7:4000".parse().expect("addr");
        let good: SocketAddr = "192.0.2.8:4000".parse().expect("addr");
        assert_eq!(a.throttle(bad), Duration::ZERO);
        let mut seen = Vec::new();
        for _ in 0..8 {
            a.failed(bad);
            seen.push(a.throttle(bad).as_millis());
        }
        assert_eq!(seen, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(a.throttle(good), Duration::ZERO);
        // Another port, the same host; another host of the same IPv6 /64.
        assert_eq!(a.throttle("192.0.2.7:1".parse().expect("addr")).as_millis(), 5000);
        a.failed("[2001:db8::1]:1".parse().expect("addr"));
        assert_eq!(a.throttle("[2001:db8::2]:1".parse().expect("addr")).as_millis(), 250);
        assert_eq!(a.throttle("[2001:db8:0:1::2]:1".parse().expect("addr")), Duration::ZERO);
    }

    #[test]
    fn remembered_addresses_are_bounded() {
        let a = Admission::new(4, 4, 4);
        for i in 0..(MAX_ADDRESSES as u32 + 100) {
            a.failed(SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)), 1));
        }
        assert_eq!(lock(&a.failures).len(), MAX_ADDRESSES);
    }
}
