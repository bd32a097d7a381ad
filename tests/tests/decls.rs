//! The bindings' committed declarations of the events and the model are what the core's
//! catalogue generates, as the C header is what cbindgen makes of the code.

use ctilink_tests::decls::{REGENERATE, TARGETS};
use ctilink_tests::native::repo_root;

#[test]
fn the_committed_declarations_are_what_the_catalogue_generates() {
    let root = repo_root();
    let mut stale = Vec::new();
    for target in TARGETS {
        let (committed, fresh) = target.regenerate(&root).unwrap_or_else(|e| panic!("{e}"));
        if committed != fresh {
            let first = fresh.lines().zip(committed.lines()).position(|(a, b)| a != b);
            stale.push(format!("{} (first differing line {:?})", target.path, first.map(|i| i + 1)));
        }
    }
    assert!(
        stale.is_empty(),
        "generated declarations differ from the catalogue (core/src/model/catalogue.rs): {}; run `{REGENERATE}` and commit them",
        stale.join(", ")
    );
}
