//! The TAPI service provider as Windows runs it: `ctilink.dll` built for
//! x86_64-pc-windows-gnu (stripped, debug information apart), `ctilink.tsp` linked against
//! its import library, and `tapisrv_host.exe` (examples/tsp/tests), which loads the provider
//! as TAPISRV does and drives it through TSPI, all run under Wine against the simulator.
//! `scripts/test-windows.sh` runs this test and prints the host's `windows: N passed, M
//! failed`; `scripts/build-windows.sh` builds what it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ctilink_tests::live::{fast_office, start_sim};
use ctilink_tests::native::{native_out_dir, repo_root};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};

/// The lines the provider is configured with (CTILINK_TSP_LINES): the host's scenarios
/// use these phones (108 rings but never answers).
const LINES: &str = "100,101,102,103,104,105,108";

/// The TSPI functions `ctilink.tsp` must export (the list, and what TAPI needs
/// to load, install and run a provider).
const TSPI_EXPORTS: &[&str] = &[
    "TSPI_providerEnumDevices",
    "TSPI_providerInit",
    "TSPI_providerShutdown",
    "TSPI_providerInstall",
    "TSPI_providerRemove",
    "TSPI_providerUIIdentify",
    "TUISPI_providerInstall",
    "TUISPI_providerRemove",
    "TUISPI_providerConfig",
    "TUISPI_lineConfigDialog",
    "TSPI_providerConfig",
    "TSPI_lineNegotiateTSPIVersion",
    "TSPI_lineGetDevCaps",
    "TSPI_lineGetAddressCaps",
    "TSPI_lineGetNumAddressIDs",
    "TSPI_lineOpen",
    "TSPI_lineClose",
    "TSPI_lineCloseCall",
    "TSPI_lineMakeCall",
    "TSPI_lineDial",
    "TSPI_lineAnswer",
    "TSPI_lineDrop",
    "TSPI_lineGetCallInfo",
    "TSPI_lineGetCallStatus",
    "TSPI_lineGetCallAddressID",
    "TSPI_lineGetLineDevStatus",
    "TSPI_lineGetAddressStatus",
    "TSPI_lineSetStatusMessages",
    "TSPI_lineSetDefaultMediaDetection",
    "TSPI_lineGetID",
    "TSPI_lineHold",
    "TSPI_lineUnhold",
    "TSPI_lineBlindTransfer",
    "TSPI_lineSetupTransfer",
    "TSPI_lineCompleteTransfer",
    "TSPI_lineRedirect",
    "TSPI_linePickup",
    "TSPI_lineForward",
];

fn require_mingw() {
    let ok =
        Command::new("x86_64-w64-mingw32-gcc").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "MinGW-w64 is needed to build the TSP (x86_64-w64-mingw32-gcc not found): \
         apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev binutils-mingw-w64-x86-64"
    );
}

/// The `DLL Name:` entries and exported names `objdump -p` lists.
fn pe_imports_and_exports(dll: &Path) -> (Vec<String>, Vec<String>) {
    let out = Command::new("x86_64-w64-mingw32-objdump").arg("-p").arg(dll).output().expect("objdump runs");
    assert!(out.status.success(), "objdump -p failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let imports = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DLL Name: "))
        .map(|s| s.trim().to_owned())
        .collect();
    // Export table lines: "\t[   3] +base[   4]  0003 TSPI_lineDrop" (format varies by
    // binutils version; the name is the last field).
    let mut exports = Vec::new();
    let mut in_names = false;
    for line in text.lines() {
        if line.starts_with("[Ordinal/Name Pointer] Table") {
            in_names = true;
            continue;
        }
        if in_names {
            if line.trim().is_empty() {
                in_names = false;
                continue;
            }
            if let Some(name) = line.split_whitespace().last() {
                exports.push(name.to_owned());
            }
        }
    }
    (imports, exports)
}

/// Every `TSP_` constant of the portable header is static-asserted against tapi.h.
fn every_constant_is_checked(root: &Path) {
    let header = std::fs::read_to_string(root.join("examples/tsp/tsp_tapi.h")).expect("tsp_tapi.h");
    let windows = std::fs::read_to_string(root.join("examples/tsp/ctilink_tsp.c")).expect("ctilink_tsp.c");
    let mut n = 0;
    for line in header.lines() {
        let Some(rest) = line.strip_prefix("#define TSP_") else { continue };
        let name = rest.split_whitespace().next().expect("a name");
        if name.starts_with("TSPI_VERSION") {
            continue;
        }
        assert!(
            windows.contains(&format!("SAME({name})")),
            "TSP_{name} is not checked against tapi.h (SAME({name}))"
        );
        n += 1;
    }
    assert!(n > 50, "only {n} constants found in tsp_tapi.h");
}

/// Builds everything once per test binary (scripts/build-windows.sh) into a fresh folder;
/// the tests share it.
fn build() -> PathBuf {
    static OUT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OUT.get_or_init(build_now).clone()
}

fn build_now() -> PathBuf {
    require_mingw();
    let root = repo_root();
    every_constant_is_checked(&root);
    let out = native_out_dir().join("windows");
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(root.join("scripts/build-windows.sh"))
        .arg(&out)
        .output()
        .expect("build-windows.sh runs");
    assert!(
        run.status.success(),
        "build-windows.sh failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// The `ctilink_` functions the header declares.
fn header_functions(root: &Path) -> Vec<String> {
    let header = std::fs::read_to_string(root.join("include/ctilink.h")).expect("ctilink.h");
    let mut names: Vec<String> = header
        .lines()
        .filter(|l| {
            !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with("typedef") && l.contains('(')
        })
        .filter_map(|l| {
            let before = &l[..l.find('(')?];
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("ctilink_").then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The names Windows' loader may need that a stock Windows 10 lacks: MinGW's runtime DLLs.
fn assert_no_mingw_runtime(what: &str, imports: &[String]) {
    for i in imports {
        let lower = i.to_ascii_lowercase();
        assert!(
            !lower.starts_with("libgcc")
                && !lower.starts_with("libwinpthread")
                && !lower.starts_with("libstdc++"),
            "{what} needs {i}, which Windows does not have"
        );
    }
}

fn check_binaries(out: &Path) {
    let root = repo_root();
    // ctilink.dll exports exactly the header's functions, and imports only system DLLs.
    let (imports, mut exports) = pe_imports_and_exports(&out.join("ctilink.dll"));
    exports.sort();
    assert_eq!(exports, header_functions(&root), "ctilink.dll's exports differ from include/ctilink.h");
    assert_no_mingw_runtime("ctilink.dll", &imports);
    // Stripped: its debug information is in ctilink.dll.debug.
    let sections = |f: &Path| {
        let o = Command::new("x86_64-w64-mingw32-objdump").arg("-h").arg(f).output().expect("objdump runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(!sections(&out.join("ctilink.dll")).contains(".debug_info"), "ctilink.dll is not stripped");
    assert!(sections(&out.join("ctilink.dll")).contains(".gnu_debuglink"), "ctilink.dll names no debug file");
    assert!(
        sections(&out.join("ctilink.dll.debug")).contains(".debug_info"),
        "ctilink.dll.debug has no debug info"
    );

    let (imports, exports) = pe_imports_and_exports(&out.join("ctilink.tsp"));
    for want in TSPI_EXPORTS {
        assert!(
            exports.iter().any(|e| e == want),
            "ctilink.tsp does not export {want}; it exports {exports:?}"
        );
    }
    assert!(
        imports.iter().any(|i| i.eq_ignore_ascii_case("ctilink.dll")),
        "ctilink.tsp does not import ctilink.dll: {imports:?}"
    );
    assert_no_mingw_runtime("ctilink.tsp", &imports);
    let (imports, _) = pe_imports_and_exports(&out.join("tapisrv_host.exe"));
    assert_no_mingw_runtime("tapisrv_host.exe", &imports);
    for f in ["ctilink.dll", "ctilink.tsp"] {
        let size = std::fs::metadata(out.join(f)).expect("built").len();
        println!("{f}: {size} bytes");
    }
}

/// Runs a Windows program under Wine in `prefix`, waiting for every process it started
/// (an NSIS uninstaller runs a copy of itself); its exit status and output.
fn wine_run(prefix: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = wine_command(prefix, dir).args(args).stdin(Stdio::null()).output().expect("wine runs");
    let wait =
        Command::new(wineserver()).arg("-w").env("WINEPREFIX", prefix).status().expect("wineserver runs");
    assert!(wait.success(), "wineserver -w failed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A registry value as `reg query` shows it, or None when the key or value is missing.
fn reg_value(prefix: &Path, key: &str, name: &str) -> Option<String> {
    let (ok, text) = wine_run(prefix, Path::new("/"), &["reg", "query", key, "/v", name]);
    if !ok {
        return None;
    }
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some(name)).then(|| f.skip(1).collect::<Vec<_>>().join(" "))
    })
}

fn ok(what: &str, pass: bool, why: impl std::fmt::Debug) -> bool {
    if pass {
        println!("ok installer: {what}");
    } else {
        println!("not ok installer: {what}: {why:?}");
    }
    pass
}

/// The NSIS installer, silently, as software distribution runs it: the files in the system
/// folder, the configuration in the registry, the uninstall entry; then the silent
/// uninstaller removes all of it.
#[test]
fn windows_installer_installs_and_uninstalls_silently() {
    let out = build();
    let version = env!("CARGO_PKG_VERSION");
    let setup = format!("ctilink-tsp-{version}-setup.exe");
    assert!(out.join(&setup).is_file(), "no {setup}");
    let prefix = native_out_dir().join("wineprefix-installer");
    let _ = std::fs::remove_dir_all(&prefix);
    let url = "ami://tapi:s3cret@pbx-1.example:5038?control=pjsip&astdb=1";
    let (done, text) = wine_run(&prefix, &out, &[&setup, "/S", &format!("/URL={url}"), "/LINES=201,202"]);
    let mut all = ok("the silent install succeeds", done, &text);

    let system32 = prefix.join("drive_c/windows/system32");
    let program = prefix.join("drive_c/Program Files/ctilink/TSP");
    for f in ["ctilink.dll", "ctilink.tsp"] {
        let same = std::fs::read(system32.join(f)).ok() == std::fs::read(out.join(f)).ok();
        all &= ok(&format!("{f} is in the system folder"), same, system32.join(f));
    }
    for f in ["tsp_register.exe", "uninstall.exe"] {
        all &= ok(&format!("{f} is in Program Files"), program.join(f).is_file(), program.join(f));
    }
    let config = "HKLM\\SOFTWARE\\ctilink\\TSP";
    let uninstall = "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\ctilink-tsp";
    let got = reg_value(&prefix, config, "Url");
    all &= ok("the PBX URL is in the registry", got.as_deref() == Some(url), got);
    let got = reg_value(&prefix, config, "Lines");
    all &= ok("the lines are in the registry", got.as_deref() == Some("201,202"), got);
    let got = reg_value(&prefix, uninstall, "DisplayVersion");
    all &= ok("the uninstall entry names the version", got.as_deref() == Some(version), got);
    // Wine 8.0 only stubs lineAddProvider (LINEERR_OPERATIONFAILED): the installer goes on,
    // says so, and records that TAPI does not have the provider.
    let got = reg_value(&prefix, config, "Registered");
    println!("     lineAddProvider under Wine: Registered = {got:?}");
    all &= ok(
        "the installer records whether TAPI took the provider",
        matches!(got.as_deref(), Some("0x0") | Some("0x1")),
        got,
    );

    let (done, text) = wine_run(&prefix, &program, &["uninstall.exe", "/S"]);
    all &= ok("the silent uninstall succeeds", done, &text);
    for f in [system32.join("ctilink.dll"), system32.join("ctilink.tsp"), program.clone()] {
        all &= ok(&format!("{} is gone", f.display()), !f.exists(), &f);
    }
    let got = reg_value(&prefix, config, "Url");
    all &= ok("the configuration is gone from the registry", got.is_none(), got);
    let got = reg_value(&prefix, uninstall, "DisplayVersion");
    all &= ok("the uninstall entry is gone", got.is_none(), got);
    assert!(all, "the installer failed a check (see the not ok lines above)");
    // 0.7 GB that the next run makes afresh anyway (kept when a check failed, to look at).
    let _ = std::fs::remove_dir_all(&prefix);
}

/// An X server of its own (the display number it chose) for Wine's windows.
fn start_xvfb() -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut x = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts (apt-get install xvfb; scripts/setup.sh does)");
    let mut line = String::new();
    std::io::BufReader::new(x.stdout.take().expect("piped")).read_line(&mut line).expect("Xvfb's display");
    let n = line.trim();
    assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()), "Xvfb gave no display: {line:?}");
    (x, format!(":{n}"))
}

/// The provider's configuration dialog as the Telephony control panel opens it
/// (TUISPI_providerConfig), used as a person would (examples/tsp/tests/config_dialog_test.c):
/// a wrong secret fails without showing it, the right URL connects, OK saves URL and lines.
/// The screenshot it takes is the one in docs/tsp.md.
#[tokio::test(flavor = "multi_thread")]
async fn windows_configuration_dialog_tests_the_connection_and_saves_it() {
    let out = build();
    let sim = start_sim(fast_office()).await;
    let (mut xvfb, display) = start_xvfb();
    let prefix = native_out_dir().join("wineprefix-dialog");
    let _ = std::fs::remove_dir_all(&prefix);
    let url = sim.url();
    let bad_secret = "hunter2-wrong";
    let bad_url = url.replace("admin:secret@", &format!("admin:{bad_secret}@"));
    assert_ne!(url, bad_url);
    // A PBX that accepts the connection and never says a word: a test against it runs for
    // the login timeout, and the dialog is closed meanwhile.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let silent_url = format!("ami://admin:secret@{}", silent.local_addr().expect("addr"));
    let mut cmd = wine_command(&prefix, &out);
    cmd.args([
        "config_dialog_test.exe",
        ".\\ctilink.tsp",
        &url,
        &bad_url,
        bad_secret,
        "100,101",
        &silent_url,
    ]);
    cmd.env("DISPLAY", &display);
    let (mut child, mut stdin, mut lines) = spawn_wine(cmd);
    let mut printed = Vec::new();
    let shot = native_out_dir().join("tsp-config-dialog.png");
    while let Some(line) = tokio::time::timeout(Duration::from_secs(180), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the dialog test printed nothing for 180 s; so far: {printed:#?}"))
        .expect("read its output")
    {
        println!("{line}");
        if line == "SCREENSHOT" {
            let status = Command::new("import")
                .args(["-display", &display, "-window", "root", "-trim", "+repage"])
                .arg(&shot)
                .status()
                .expect("import (ImageMagick) runs");
            assert!(status.success(), "the screenshot failed");
            stdin.write_all(b"go\n").await.expect("write");
            stdin.flush().await.expect("flush");
        }
        printed.push(line);
    }
    let status =
        tokio::time::timeout(Duration::from_secs(60), child.wait()).await.expect("it ends").expect("wait");
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    let failed: Vec<&String> = printed.iter().filter(|l| l.starts_with("not ok")).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(status.success(), "the dialog test exited with {status}: {printed:#?}");
    assert!(
        printed.iter().any(|l| l == "UNLOADED"),
        "the process did not live past FreeLibrary: {printed:#?}"
    );
    drop(silent);
    assert!(printed.iter().filter(|l| l.starts_with("ok dialog")).count() >= 9, "{printed:#?}");
    assert!(
        std::fs::metadata(&shot).map(|m| m.len() > 1000).unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );
    println!("screenshot: {}", shot.display());
    // 0.7 GB that the next run makes afresh anyway (kept when a check failed, to look at).
    let _ = std::fs::remove_dir_all(&prefix);
}

fn wineserver() -> PathBuf {
    for p in ["/usr/lib/wine/wineserver", "/usr/bin/wineserver"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("wineserver")
}

/// Wine for a Windows program in `dir`, in the prefix `prefix` (made on first use), quiet,
/// without the Mono and Gecko installers, and without the debugger: a crash would start
/// `winedbg --auto`, which waits for nobody and hangs the test; with it disabled the
/// crashing program just ends, and the test fails at once.
fn wine_command(prefix: &Path, dir: &Path) -> Command {
    let mut c = Command::new(wine());
    c.current_dir(dir)
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=;winedbg.exe=d");
    c
}

/// A Windows program under Wine that a test talks to line by line: its stdin and stdout.
fn spawn_wine(cmd: Command) -> (tokio::process::Child, ChildStdin, Lines<BufReader<ChildStdout>>) {
    let mut child = tokio::process::Command::from(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("wine starts");
    let stdin = child.stdin.take().expect("piped stdin");
    let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    (child, stdin, lines)
}

fn wine() -> PathBuf {
    for p in ["/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("Wine is needed to run the Windows build (apt-get install wine64), which scripts/setup.sh does");
}

#[tokio::test(flavor = "multi_thread")]
async fn windows_tapisrv_drives_the_provider_under_wine() {
    let out = build();
    check_binaries(&out);

    let sim = start_sim(fast_office()).await;
    let url = format!("{}&reconnect_ms=3000", sim.session_url());
    // A prefix of its own, kept between runs (the first run makes it: some seconds).
    let prefix = native_out_dir().join("wineprefix");
    let mut cmd = wine_command(&prefix, &out);
    cmd.args(["tapisrv_host.exe", ".\\ctilink.tsp"])
        .env("CTILINK_TSP_URL", &url)
        .env("CTILINK_TSP_LINES", LINES);
    let (mut child, mut stdin, mut lines) = spawn_wine(cmd);
    let mut printed = Vec::new();
    let mut summary = None;
    loop {
        let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the host printed nothing for 300 s; so far: {printed:#?}"))
            .expect("read the host's output");
        let Some(line) = line else { break };
        println!("{line}");
        if let Some(call) = line.strip_prefix("CALL ") {
            let (from, to) = call.split_once(' ').expect("CALL a b");
            sim.place_call(from, to).unwrap_or_else(|e| panic!("{from} calls {to}: {e}"));
        } else if line == "DROP" {
            sim.drop_connections();
        } else if line.starts_with("windows: ") {
            summary = Some(line.clone());
        }
        if line.starts_with("CALL ") || line == "DROP" {
            stdin.write_all(b"go\n").await.expect("write to the host");
            stdin.flush().await.expect("flush");
        }
        printed.push(line);
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the host ends")
        .expect("wait");
    let failed: Vec<&String> = printed.iter().filter(|l| l.starts_with("not ok")).collect();
    let summary = summary.unwrap_or_else(|| panic!("the host printed no summary: {printed:#?}"));
    assert!(failed.is_empty(), "{summary}; failed: {failed:#?}");
    assert!(status.success(), "the host exited with {status}: {summary}");
    let passed = printed.iter().filter(|l| l.starts_with("ok ")).count();
    assert!(passed > 50, "only {passed} checks passed: {summary}");
    sim.shutdown().await;
}
