//! The TAPI service provider shim (`examples/tsp/`): its portable part driven natively
//! against the simulator under valgrind, with a C program playing TAPI; and its Windows
//! build with MinGW-w64 into `ctilink.tsp`, checked for its exports and its import of
//! `ctilink.dll`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ctilink_sim::SimHandle;
use ctilink_tests::live::{fast_office, start_sim};
use ctilink_tests::native::{compile_c, ffi_library_dir, native_out_dir, repo_root, Program};

const LONG: Duration = Duration::from_secs(120);

/// Waits until the simulator has `n` answered channels.
async fn until_up(sim: &SimHandle, n: usize) {
    for _ in 0..250 {
        if sim.truth().channels.iter().filter(|c| c.state == "Up").count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{n} channels were not up: {:?}", sim.truth().channels);
}

/// Waits until phone `ext` has no channel left (its last call is over).
async fn until_idle(sim: &SimHandle, ext: &str) {
    for _ in 0..250 {
        if !sim.truth().channels.iter().any(|c| c.ext == ext) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("phone {ext} still has channels: {:?}", sim.truth().channels);
}

async fn call(sim: &SimHandle, p: &mut Program, from: &str, to: &str) {
    p.expect_line(&format!("CALL {from} {to}"), LONG).await;
    until_idle(sim, from).await;
    sim.place_call(from, to).unwrap_or_else(|e| panic!("{from} calls {to}: {e}"));
    p.send_line("go").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tsp_core_maps_ctilink_events_to_tapi_messages() {
    let exe = compile_c("tsp_mapping_test", &["examples/tsp/mapping_test.c", "examples/tsp/tsp_core.c"]);
    let sim = start_sim(fast_office()).await;
    // A call that exists before the provider starts, and survives the link drop.
    sim.place_call("102", "103").expect("102 calls 103");
    until_up(&sim, 2).await;
    let url = format!("{}&reconnect_ms=3000", sim.session_url());
    let mut p = Program::start(&exe, &[&url]);

    // lineDial on 100's call to 101: ctilink plays the digits towards the far end.
    p.expect_line("DTMF", LONG).await;
    let dtmf = sim.dtmf_received();
    assert!(
        dtmf.iter().any(|(chan, digits)| chan.contains("/101-") && digits == "12#"),
        "lineDial's digits did not reach the far end (101): {dtmf:?}"
    );
    p.send_line("go").await;

    call(&sim, &mut p, "101", "100").await; // incoming, then blind transfer to 104
    call(&sim, &mut p, "101", "108").await; // lineAnswer
    call(&sim, &mut p, "101", "109").await; // lineRedirect to 105
    call(&sim, &mut p, "101", "109").await; // linePickup from 100

    p.expect_line("DROP", LONG).await;
    sim.drop_connections();
    p.send_line("go").await;
    p.expect_line("done", LONG).await;
    p.finish(LONG).await;
}

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

#[test]
fn tsp_builds_as_a_windows_dll_with_mingw() {
    require_mingw();
    let root = repo_root();
    every_constant_is_checked(&root);
    let so = ffi_library_dir().join("libctilink.so");
    let out: PathBuf = native_out_dir().join(format!("tsp-mingw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new("sh")
        .arg(root.join("examples/tsp/build-mingw.sh"))
        .arg(&out)
        .arg(&so)
        .output()
        .expect("sh runs build-mingw.sh");
    assert!(
        run.status.success(),
        "build-mingw.sh failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    // The import library's definition lists every function the Linux library exports.
    let def = std::fs::read_to_string(out.join("ctilink.def")).expect("ctilink.def");
    assert!(def.starts_with("LIBRARY ctilink.dll"), "{def}");
    let nm = Command::new("nm").args(["-D", "--defined-only"]).arg(&so).output().expect("nm runs");
    let symbols: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).filter(|s| s.starts_with("ctilink_")).map(str::to_owned))
        .collect();
    assert!(symbols.len() > 50, "libctilink.so exports {} ctilink_ functions", symbols.len());
    for s in &symbols {
        assert!(def.lines().any(|l| l.trim() == s), "{s} is missing from ctilink.def");
    }
    assert!(out.join("libctilink.dll.a").is_file(), "no import library");

    let dll = out.join("ctilink.tsp");
    let (imports, exports) = pe_imports_and_exports(&dll);
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
    // Nothing of the MinGW runtime that a Windows machine lacks.
    for i in &imports {
        let lower = i.to_ascii_lowercase();
        assert!(
            !lower.starts_with("libgcc") && !lower.starts_with("libwinpthread"),
            "ctilink.tsp needs {i}, which Windows does not have"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
