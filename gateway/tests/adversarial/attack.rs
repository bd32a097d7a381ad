//! What the attacks share: sockets from a chosen loopback address (every 127.x.y.z is this
//! machine, so "another address" needs no network), and the gateway's metrics.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use crate::common::http_get;

/// `127.0.0.n`.
pub(crate) fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A connection to `to` from `from` (any port).
pub(crate) async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(from, 0))?;
    s.connect(to).await
}

/// One sample of `/metrics` (`name` with its labels, as printed); 0 when absent.
pub(crate) async fn metric(diag: SocketAddr, name: &str) -> f64 {
    let (status, body) = http_get(diag, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let full = format!("ctilink_gateway_{name} ");
    body.lines().find_map(|l| l.strip_prefix(&full)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}
