//! `--record FILE` and `--record-limit SIZE`, shared by `monitor` and `events`: the options,
//! and the report on stderr when the command ends.

use std::path::PathBuf;

use ctilink::ami::{RecordOptions, Recorder};

/// The recording options of a live command.
#[derive(clap::Args, Debug)]
pub(crate) struct RecordArgs {
    /// Write every byte received from the PBX to FILE, a capture `ctilink replay FILE`
    /// reads; the actions sent go to FILE with the extension .sent, the login secret masked.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Stop recording (the command goes on) before a file would exceed SIZE: bytes, or
    /// with a suffix K, M, G (powers of 1024).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1G", requires = "record")]
    record_limit: u64,
}

impl RecordArgs {
    /// What to record, or `None` without `--record`.
    pub(crate) fn options(&self) -> Option<RecordOptions> {
        self.record.as_ref().map(|p| RecordOptions::new(p).max_bytes(self.record_limit).sent(true))
    }
}

/// One line on stderr at the end: where the recording went, and whether it stopped early.
pub(crate) fn report(command: &str, r: &Recorder) {
    let path = r.path();
    match r.stopped() {
        Some(why) => eprintln!(
            "ctilink {command}: the recording {} stopped early ({why}); it holds the first {} bytes",
            path.display(),
            r.bytes()
        ),
        None => match r.sent_path() {
            Some(sent) => eprintln!(
                "ctilink {command}: recorded {} bytes to {} ({} bytes of actions sent to {})",
                r.bytes(),
                path.display(),
                r.sent_bytes(),
                sent.display()
            ),
            None => eprintln!("ctilink {command}: recorded {} bytes to {}", r.bytes(), path.display()),
        },
    }
}

/// `1048576`, `64K`, `512M`, `1G` (also `1GiB`, `1gb`): a size in bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix(['b', 'B']).unwrap_or(t);
    let t = t.strip_suffix(['i', 'I']).unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 =
        digits.trim().parse().map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 64K, 512M, 1G)"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctilink::ami::DEFAULT_RECORD_LIMIT;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2gb"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999G").is_err());
        assert_eq!(parse_size("1G"), Ok(DEFAULT_RECORD_LIMIT), "the default of --record-limit is the core's");
    }
}
