//! AMI MD5 challenge login: `Key = hex(md5(challenge + secret))`, so the secret
//! itself never crosses the wire.

use md5::{Digest, Md5};

pub(crate) fn md5_key(challenge: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vector() {
        // md5("840415273" + "mysecret"), computed independently with Python's hashlib.
        assert_eq!(super::md5_key("840415273", "mysecret"), "72ee2809cbf69e9bdb27bdd924cda8e3");
    }
}
