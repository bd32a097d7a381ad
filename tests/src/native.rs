//! Native programs against the C ABI: build the library, compile C with the warnings
//! the project promises (`-Wall -Wextra -Werror`), run it under valgrind, talk to it over
//! its stdin and stdout.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate is in the repository").to_owned()
}

/// The build profile directory this test binary was built into (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary>
    exe.parent().and_then(Path::parent).expect("the test binary is in target/<profile>/deps").to_owned()
}

/// Builds the C ABI library (`libctilink.a`, `libctilink.so`) of this profile, once per
/// test binary, so that the C tests never run against a stale library. `cargo test`
/// builds no cdylib or staticlib of another package, hence the explicit build.
pub fn ffi_library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.current_dir(repo_root()).args(["build", "--quiet", "-p", "ctilink-ffi"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building ctilink-ffi failed");
        assert!(dir.join("libctilink.a").exists(), "no libctilink.a in {}", dir.display());
        dir
    })
}

/// Where compiled test programs go.
pub fn native_out_dir() -> PathBuf {
    let d = profile_dir().join("native-tests");
    std::fs::create_dir_all(&d).expect("create the output directory");
    d
}

/// The C compiler: `$CC` or `cc`.
pub fn c_compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// The flags every C file of the project compiles with.
pub const C_FLAGS: &[&str] =
    &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-D_POSIX_C_SOURCE=200809L"];

/// What a program linking the static library needs besides it (`rustc --print
/// native-static-libs` for this target).
pub const NATIVE_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt", "-lgcc_s"];

/// Compiles `sources` (paths relative to the repository) into `name`, statically linked
/// with the library, with `include/` and the first source's directory on the include
/// path. Panics with the compiler's output on any warning or error. Each name is built
/// once per test binary (tests sharing a program must not rewrite it under each other).
pub fn compile_c(name: &str, sources: &[&str]) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| n == name) {
        return p.clone();
    }
    let out = compile_c_uncached(name, sources);
    built.push((name.to_owned(), out.clone()));
    out
}

fn compile_c_uncached(name: &str, sources: &[&str]) -> PathBuf {
    let root = repo_root();
    let out = native_out_dir().join(name);
    let first_dir = root.join(sources[0]).parent().expect("a source file's directory").to_owned();
    let output = std::process::Command::new(c_compiler())
        .args(C_FLAGS)
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(&first_dir)
        .args(sources.iter().map(|s| root.join(s)))
        .arg("-o")
        .arg(&out)
        .arg(ffi_library_dir().join("libctilink.a"))
        .args(NATIVE_LIBS)
        .output()
        .expect("the C compiler runs");
    assert!(
        output.status.success(),
        "compiling {sources:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A native program running under valgrind, with its stdin and stdout piped.
#[derive(Debug)]
pub struct Program {
    name: String,
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    valgrind_log: PathBuf,
    /// Everything it printed so far.
    pub output: Vec<String>,
}

impl Program {
    /// Starts `exe` with `args` under valgrind (memcheck, leak check on, any error or
    /// definite/indirect leak failing the run).
    pub fn start(exe: &Path, args: &[&str]) -> Program {
        let name = exe.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let valgrind_log = native_out_dir().join(format!("{name}-{}.valgrind.log", fastrand_suffix()));
        let child = Command::new("valgrind")
            .arg("--quiet")
            .arg("--error-exitcode=99")
            .arg("--leak-check=full")
            .arg("--errors-for-leak-kinds=definite,indirect")
            .arg("--show-leak-kinds=definite,indirect")
            .arg("--track-origins=yes")
            .arg(format!("--log-file={}", valgrind_log.display()))
            .arg(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start valgrind (install it: apt-get install valgrind): {e}"));
        Program::wrap(name, child, valgrind_log)
    }

    fn wrap(name: String, mut child: Child, valgrind_log: PathBuf) -> Program {
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        Program {
            name,
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            valgrind_log,
            output: Vec::new(),
        }
    }

    /// Waits for the next line and checks it is `want`.
    pub async fn expect_line(&mut self, want: &str, timeout: Duration) {
        let line = tokio::time::timeout(timeout, self.lines.next_line()).await;
        let line = match line {
            Ok(Ok(Some(l))) => l,
            Ok(Ok(None)) => {
                panic!("{} ended before printing {want:?}; it printed {:?}", self.name, self.output)
            }
            Ok(Err(e)) => panic!("reading {}: {e}", self.name),
            Err(_) => panic!(
                "{} did not print {want:?} within {timeout:?}; it printed {:?}",
                self.name, self.output
            ),
        };
        self.output.push(line.clone());
        assert_eq!(line, want, "{} printed {:?}", self.name, self.output);
    }

    /// Sends a go-ahead line.
    pub async fn send_line(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.expect("write to the program");
        self.stdin.flush().await.expect("flush");
    }

    /// Waits for the end; checks exit status 0 and a clean valgrind report.
    pub async fn finish(self, timeout: Duration) -> Vec<String> {
        let name = self.name.clone();
        let (code, output) = self.finish_with_status(timeout).await;
        assert_eq!(
            code, 0,
            "{name} exited with {code} (99: valgrind found errors or leaks); printed {output:?}"
        );
        output
    }

    /// Waits for the end; checks a clean valgrind report; returns the exit code and what
    /// the program printed.
    pub async fn finish_with_status(mut self, timeout: Duration) -> (i32, Vec<String>) {
        let rest = tokio::time::timeout(timeout, async {
            while let Ok(Some(l)) = self.lines.next_line().await {
                self.output.push(l);
            }
            self.child.wait().await
        })
        .await;
        let status = match rest {
            Ok(s) => s.expect("wait for the program"),
            Err(_) => panic!("{} did not end within {timeout:?}; it printed {:?}", self.name, self.output),
        };
        let log = std::fs::read_to_string(&self.valgrind_log).unwrap_or_default();
        assert!(
            log.trim().is_empty(),
            "valgrind reported for {} (printed {:?}):\n{log}",
            self.name,
            self.output
        );
        let code = status.code().unwrap_or_else(|| panic!("{} was killed: {status}", self.name));
        assert_ne!(code, 99, "valgrind found errors or leaks in {}", self.name);
        let _ = std::fs::remove_file(&self.valgrind_log);
        (code, self.output)
    }
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    u64::from(std::process::id()) * 1000 + N.fetch_add(1, Ordering::Relaxed)
}
