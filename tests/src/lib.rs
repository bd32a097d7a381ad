//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared test vectors: `$CTILINK_VECTORS`, else `../shared/vectors` from the
/// repository root. Panics with a clear message when missing, so CI cannot pass
/// by skipping them.
pub fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("CTILINK_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
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
