//! One version for everything: the workspace's (`[workspace.package]` in Cargo.toml). The
//! bindings are cargo workspaces of their own and npm has its own files, so their copies of
//! the number are checked here; the installed artifacts report it at run time
//! (scripts/test-dist.sh: `ctilink --version`, `ctilink.__version__`, the npm packages,
//! `ctilink_version()`).

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The `version = "..."` line of a TOML section.
fn toml_version(text: &str, section: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == section;
        } else if inside {
            if let Some(v) = line.strip_prefix("version = \"") {
                return v.strip_suffix('"').map(str::to_owned);
            }
        }
    }
    None
}

fn workspace_version() -> String {
    toml_version(&read("Cargo.toml"), "[workspace.package]").expect("[workspace.package] version")
}

#[test]
fn the_workspace_version_is_the_crates_version() {
    // Every workspace crate inherits it (version.workspace = true), so this binary's is it.
    assert_eq!(workspace_version(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_bindings_crates_carry_the_workspace_version() {
    let v = workspace_version();
    for manifest in ["bindings-python/Cargo.toml", "bindings-node/Cargo.toml"] {
        assert_eq!(toml_version(&read(manifest), "[package]").as_deref(), Some(v.as_str()), "{manifest}");
    }
    // The wheel's version is the crate's (pyproject.toml says dynamic = ["version"]), and
    // ctilink.__version__ is the crate's CARGO_PKG_VERSION.
    let pyproject = read("bindings-python/pyproject.toml");
    assert!(pyproject.contains("dynamic = [\"version\"]"), "pyproject.toml must take the crate's version");
    assert!(
        read("bindings-python/src/lib.rs").contains("m.add(\"__version__\", env!(\"CARGO_PKG_VERSION\"))")
    );
}

#[test]
fn the_npm_files_carry_the_workspace_version() {
    let v = workspace_version();
    let package: serde_json::Value =
        serde_json::from_str(&read("bindings-node/package.json")).expect("package.json is JSON");
    assert_eq!(package["version"], v.as_str(), "bindings-node/package.json");
    let lock: serde_json::Value =
        serde_json::from_str(&read("bindings-node/package-lock.json")).expect("package-lock.json is JSON");
    assert_eq!(lock["version"], v.as_str(), "package-lock.json");
    assert_eq!(lock["packages"][""]["version"], v.as_str(), "package-lock.json packages[\"\"]");
    // The browser library (bindings-web) is published with the same version.
    let web: serde_json::Value =
        serde_json::from_str(&read("bindings-web/package.json")).expect("bindings-web/package.json is JSON");
    assert_eq!(web["version"], v.as_str(), "bindings-web/package.json");
    let web_lock: serde_json::Value = serde_json::from_str(&read("bindings-web/package-lock.json"))
        .expect("bindings-web/package-lock.json is JSON");
    assert_eq!(web_lock["version"], v.as_str(), "bindings-web/package-lock.json");
    assert_eq!(
        web_lock["packages"][""]["version"],
        v.as_str(),
        "bindings-web/package-lock.json packages[\"\"]"
    );
    // The generated loader refuses a platform package of another version (napi-rs): every
    // version it names must be this one, or the published pair would not load together.
    let loader = read("bindings-node/native.js");
    let named: Vec<&str> =
        loader.split("bindingPackageVersion !== '").skip(1).filter_map(|s| s.split('\'').next()).collect();
    assert!(!named.is_empty(), "native.js names no platform package version");
    assert!(named.iter().all(|n| *n == v), "native.js names versions {named:?}, not {v}: rebuild it");
}

#[test]
fn the_changelog_has_an_entry_for_the_version() {
    let v = workspace_version();
    let log = read("CHANGELOG.md");
    assert!(log.contains("## [Unreleased]"), "CHANGELOG.md keeps an Unreleased section");
    assert!(log.lines().any(|l| l.starts_with(&format!("## [{v}] - "))), "CHANGELOG.md has no entry for {v}");
    assert!(log.contains(&format!("[{v}]: ")), "CHANGELOG.md has no link for {v}");
}

#[test]
fn the_header_and_the_packaging_name_the_version_nowhere_else() {
    // The C header's version macros are checked against the library in ffi's own tests; the
    // packaging templates must not hard-code a version that could drift.
    for f in ["packaging/debian/control.in", "packaging/c/README.md", "packaging/node/layout.mjs"] {
        let text = read(f);
        assert!(!text.contains(&workspace_version()), "{f} hard-codes the version");
    }
}
