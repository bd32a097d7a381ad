//! The operator panel's files, compiled into the binary so that a gateway has nothing to
//! install besides itself, and the headers they are served with: a strict
//! Content-Security-Policy (only the gateway's own scripts, styles and WebSocket; no inline
//! code, no other site), so that a name or number shown in the page cannot become code.

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    content_type: &'static str,
    body: &'static [u8],
}

const INDEX: Asset =
    Asset { content_type: "text/html; charset=utf-8", body: include_bytes!("panel/index.html") };
const CSS: Asset = Asset { content_type: "text/css; charset=utf-8", body: include_bytes!("panel/panel.css") };
const JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_bytes!("panel/panel.js") };
/// The browser library as npm ships it: one copy in the repository, served as is.
const LIBRARY: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    body: include_bytes!("../../bindings-web/index.js"),
};

/// `connect-src 'self'` covers the same-origin `ws:`/`wss:` in CSP Level 3 browsers
/// (Chromium's is checked by bindings-web/test/panel.test.mjs).
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The file at `path`, if it is one of the panel's.
pub(crate) fn asset(path: &str) -> Option<&'static Asset> {
    match path {
        "/panel" | "/panel/" | "/panel/index.html" => Some(&INDEX),
        "/panel/panel.css" => Some(&CSS),
        "/panel/panel.js" => Some(&JS),
        "/panel/ctilink-web.js" => Some(&LIBRARY),
        _ => None,
    }
}

/// The whole response for `asset` (with its body unless HEAD), closing the connection.
pub(crate) fn response(asset: &Asset, body: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nContent-Security-Policy: {CSP}\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
         Cross-Origin-Opener-Policy: same-origin\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        asset.content_type,
        asset.body.len()
    )
    .into_bytes();
    if body {
        r.extend_from_slice(asset.body);
    }
    r
}
