//! The committed header is what the pinned cbindgen makes of the code, and it declares
//! exactly the functions the library exports.

use std::collections::BTreeSet;
use std::process::Command;

use ctilink_tests::native::{ffi_library_dir, repo_root};

/// The cbindgen the header is made with (ffi/cbindgen.toml says so too).
const CBINDGEN_VERSION: &str = "cbindgen 0.29.2";

#[test]
fn the_committed_header_is_what_cbindgen_generates() {
    let root = repo_root();
    let version = Command::new("cbindgen").arg("--version").output().unwrap_or_else(|e| {
        panic!("cbindgen is needed (cargo install cbindgen --version 0.29.2 --locked): {e}")
    });
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    assert_eq!(
        version, CBINDGEN_VERSION,
        "install the pinned cbindgen: cargo install cbindgen --version 0.29.2 --locked"
    );
    let out = std::env::temp_dir().join(format!("ctilink-header-{}.h", std::process::id()));
    let status = Command::new("cbindgen")
        .current_dir(&root)
        .args(["--quiet", "--config", "ffi/cbindgen.toml", "--crate", "ctilink-ffi", "--output"])
        .arg(&out)
        .arg("ffi")
        .status()
        .expect("cbindgen runs");
    assert!(status.success(), "cbindgen failed");
    let generated = std::fs::read_to_string(&out).expect("generated header");
    let _ = std::fs::remove_file(&out);
    let committed = std::fs::read_to_string(root.join("include/ctilink.h")).expect("include/ctilink.h");
    if generated != committed {
        let first = generated.lines().zip(committed.lines()).position(|(a, b)| a != b);
        panic!(
            "include/ctilink.h differs from the code (first differing line {:?}); run `make header` and commit it",
            first.map(|i| i + 1)
        );
    }
}

/// `ctilink_*` names declared as functions in the header.
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(repo_root().join("include/ctilink.h")).expect("header");
    let mut names = BTreeSet::new();
    for line in header.lines().filter(|l| !l.trim_start().starts_with('*') && !l.contains("typedef")) {
        if let Some(open) = line.find('(') {
            let before = line[..open].trim_end();
            let name = before.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
            if name.starts_with("ctilink_") {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// `ctilink_*` symbols the shared library exports.
fn exported_symbols() -> BTreeSet<String> {
    let lib = ffi_library_dir().join("libctilink.so");
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(&lib).output().expect("nm runs");
    assert!(out.status.success(), "nm failed on {}", lib.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| s.starts_with("ctilink_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_exported_symbol_is_declared_in_the_header_and_back() {
    let declared = header_functions();
    let exported = exported_symbols();
    assert!(declared.len() > 50, "the header parse found too little: {declared:?}");
    let undeclared: Vec<_> = exported.difference(&declared).collect();
    let missing: Vec<_> = declared.difference(&exported).collect();
    assert!(undeclared.is_empty(), "exported but not in the header: {undeclared:?}");
    assert!(missing.is_empty(), "in the header but not exported: {missing:?}");
    // Nothing else leaks out of the library but the C ABI (Rust symbols are not exported).
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(ffi_library_dir().join("libctilink.so"))
        .output()
        .expect("nm");
    let foreign: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .filter(|s| !s.starts_with("ctilink_") && !s.starts_with("rust_eh_personality"))
        .collect();
    assert!(foreign.is_empty(), "the library exports more than the C ABI: {foreign:?}");
}
