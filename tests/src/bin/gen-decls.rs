//! `gen-decls` (`make decls`): writes the generated part of the bindings' declarations
//! from the core's catalogue of events (`ctilink::model::catalogue`). The test
//! `tests/tests/decls.rs` fails until the files are regenerated and committed.

use std::process::ExitCode;

use ctilink_tests::decls::TARGETS;
use ctilink_tests::native::repo_root;

fn main() -> ExitCode {
    let root = repo_root();
    let mut status = ExitCode::SUCCESS;
    for target in TARGETS {
        match target.write(&root) {
            Ok(true) => println!("wrote {}", target.path),
            Ok(false) => println!("{} is up to date", target.path),
            Err(e) => {
                eprintln!("gen-decls: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
