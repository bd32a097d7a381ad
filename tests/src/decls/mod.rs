//! The bindings' declarations of the events and the model, generated from the core's one
//! definition (`ctilink::model::catalogue`) into the committed files, between markers, so
//! that the classes and functions around them stay hand-written.
//!
//! `cargo run -p ctilink-tests --bin gen-decls` (`make decls`) writes them; the test
//! `tests/tests/decls.rs` fails when a committed file differs from what this makes.

mod python;
mod typescript;

use std::fmt;
use std::path::{Path, PathBuf};

/// The command that regenerates the files, for messages.
pub const REGENERATE: &str = "make decls";

/// A file with a generated part, relative to the repository root.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub path: &'static str,
    syntax: Syntax,
    generate: fn() -> String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    TypeScript,
    Python,
}

/// The Node binding's and the browser library's types share one text: code written against
/// one reads the other (both deliver the gateway's JSON with camelCase keys).
pub const TARGETS: [Target; 6] = [
    Target {
        path: "bindings-node/index.d.ts",
        syntax: Syntax::TypeScript,
        generate: typescript::declarations,
    },
    Target {
        path: "bindings-web/index.d.ts",
        syntax: Syntax::TypeScript,
        generate: typescript::declarations,
    },
    Target { path: "bindings-node/index.js", syntax: Syntax::TypeScript, generate: typescript::categories },
    Target { path: "bindings-web/index.js", syntax: Syntax::TypeScript, generate: typescript::categories },
    Target {
        path: "bindings-python/python/ctilink/_native.pyi",
        syntax: Syntax::Python,
        generate: python::event_classes,
    },
    Target {
        path: "bindings-python/python/ctilink/_enums.py",
        syntax: Syntax::Python,
        generate: python::enums,
    },
];

/// Why a file could not be regenerated.
#[derive(Debug)]
pub enum DeclsError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file lacks a marker line, or has them out of order: the generated part would
    /// have nowhere to go, and guessing could overwrite hand-written declarations.
    Markers {
        path: PathBuf,
        begin: &'static str,
        end: &'static str,
    },
}

impl fmt::Display for DeclsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeclsError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            DeclsError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            DeclsError::Markers { path, begin, end } => write!(
                f,
                "{} needs one line starting {begin:?} and, after it, one line {end:?}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DeclsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeclsError::Read { source, .. } | DeclsError::Write { source, .. } => Some(source),
            DeclsError::Markers { .. } => None,
        }
    }
}

impl Target {
    fn markers(self) -> (&'static str, &'static str) {
        match self.syntax {
            Syntax::TypeScript => ("// BEGIN GENERATED", "// END GENERATED"),
            Syntax::Python => ("# BEGIN GENERATED", "# END GENERATED"),
        }
    }

    /// The file's text with its generated part made afresh.
    pub fn regenerate(self, root: &Path) -> Result<(String, String), DeclsError> {
        let path = root.join(self.path);
        let committed = std::fs::read_to_string(&path)
            .map_err(|source| DeclsError::Read { path: path.clone(), source })?;
        let (begin, end) = self.markers();
        let fresh = splice(&committed, begin, end, &(self.generate)()).ok_or(DeclsError::Markers {
            path,
            begin,
            end,
        })?;
        Ok((committed, fresh))
    }

    /// Writes the file if its generated part is stale; true when it was.
    pub fn write(self, root: &Path) -> Result<bool, DeclsError> {
        let (committed, fresh) = self.regenerate(root)?;
        if committed == fresh {
            return Ok(false);
        }
        let path = root.join(self.path);
        std::fs::write(&path, fresh).map_err(|source| DeclsError::Write { path, source })?;
        Ok(true)
    }
}

/// `text` with the lines between the `begin` line (it starts so) and the `end` line
/// replaced by `generated`; `None` unless there is exactly one of each, in that order.
fn splice(text: &str, begin: &str, end: &str, generated: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let only = |pred: &dyn Fn(&str) -> bool| {
        let mut found = lines.iter().enumerate().filter(|(_, l)| pred(l)).map(|(i, _)| i);
        let first = found.next()?;
        found.next().is_none().then_some(first)
    };
    let b = only(&|l: &str| l.starts_with(begin))?;
    let e = only(&|l: &str| l.trim_end() == end)?;
    if e <= b {
        return None;
    }
    let mut out: String = lines[..=b].concat();
    out.push_str(generated);
    out.push_str(&lines[e..].concat());
    Some(out)
}

/// `calling_device` to `callingDevice`, as the JavaScript bindings name keys.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// `TransferKind` to `transfer_kind`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let text = "head\n// BEGIN GENERATED: x\nold\nold\n// END GENERATED\ntail\n";
        let out = splice(text, "// BEGIN GENERATED", "// END GENERATED", "new\n");
        assert_eq!(out.as_deref(), Some("head\n// BEGIN GENERATED: x\nnew\n// END GENERATED\ntail\n"));
    }

    #[test]
    fn splice_refuses_missing_doubled_or_swapped_markers() {
        let (b, e) = ("# BEGIN GENERATED", "# END GENERATED");
        assert_eq!(splice("a\n# END GENERATED\n", b, e, "x\n"), None);
        assert_eq!(splice("# BEGIN GENERATED\na\n", b, e, "x\n"), None);
        assert_eq!(splice("# END GENERATED\n# BEGIN GENERATED\n", b, e, "x\n"), None);
        assert_eq!(splice("# BEGIN GENERATED\n# BEGIN GENERATED\n# END GENERATED\n", b, e, "x\n"), None);
    }

    #[test]
    fn names_convert_as_the_bindings_deliver_them() {
        assert_eq!(camel("forward_no_answer"), "forwardNoAnswer");
        assert_eq!(camel("device"), "device");
        assert_eq!(snake("TransferKind"), "transfer_kind");
    }
}
