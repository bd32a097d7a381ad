//! What a correct tracker reports on real captures, written down beside them: for every
//! `tests/vectors/ami/<dir>/NAME.facts` the capture `NAME.ami` is replayed and its call
//! events must be exactly the lines of the facts file.
//!
//! A facts line is `kind device call` (device `-` for call-wide events), calls named `c1`,
//! `c2`... in the order they first appear, so the grouping into calls is checked without
//! depending on the PBX's uniqueids. Transfers add `transferring= transferred= targets=
//! secondary=`, merged calls `merged_into=`, click-to-dial legs `click_to_dial`,
//! deliveries `caller=` (number) and `calling_device=`, failures `reason=`. `#` starts a comment. The facts
//! are written from what the PBX did (each folder's README), not from the tracker's
//! output: a mismatch prints both.

use std::collections::HashMap;
use std::path::Path;

use ctilink::ami::read_capture;
use ctilink::model::{Event, Tracker};
use ctilink_tests::vectors_dir;

/// Names calls `c1`, `c2`... by first appearance.
#[derive(Default)]
struct CallNames(HashMap<String, String>);

impl CallNames {
    fn name(&mut self, id: &str) -> String {
        let n = self.0.len() + 1;
        self.0.entry(id.to_owned()).or_insert_with(|| format!("c{n}")).clone()
    }
}

fn fact(e: &Event, names: &mut CallNames) -> Option<String> {
    let call = names.name(e.call()?.as_str());
    let device = e.device().map_or("-".to_owned(), |d| d.as_str().to_owned());
    let mut line = format!("{} {device} {call}", e.kind());
    match e {
        Event::Delivered { caller, calling_device, click_to_dial, .. } => {
            line += &format!(" caller={}", caller.number);
            if let Some(d) = calling_device {
                line += &format!(" calling_device={d}");
            }
            if *click_to_dial {
                line += " click_to_dial";
            }
        }
        Event::Transferred { kind, transferring, transferred, targets, secondary_call, .. } => {
            let targets: Vec<&str> = targets.iter().map(|t| t.device.as_str()).collect();
            line = format!(
                "{} {kind:?} {call} transferring={} transferred={} targets={}",
                e.kind(),
                transferring.device,
                transferred.device,
                targets.join(",")
            )
            .to_lowercase();
            if let Some(s) = secondary_call {
                line += &format!(" secondary={}", names.name(s.as_str()));
            }
        }
        Event::Failed { reason, .. } => line += &format!(" reason={}", format!("{reason:?}").to_lowercase()),
        Event::CallCleared { merged_into: Some(m), .. } => {
            line += &format!(" merged_into={}", names.name(m.as_str()));
        }
        _ => {}
    }
    Some(line)
}

fn facts_of(capture: &Path) -> Vec<String> {
    let data = std::fs::read(capture).unwrap_or_else(|e| panic!("{}: {e}", capture.display()));
    let mut t = Tracker::new();
    let mut events = Vec::new();
    for m in &read_capture(&data).messages {
        t.apply_into(m, &mut events);
    }
    let mut names = CallNames::default();
    let mut lines: Vec<String> = events
        .iter()
        .filter(|e| !matches!(e, Event::UserEvent { .. }))
        .filter_map(|e| fact(e, &mut names))
        .collect();
    lines.push(format!("open_calls {}", t.open_calls()));
    lines
}

fn expected(facts: &Path) -> Vec<String> {
    std::fs::read_to_string(facts)
        .unwrap_or_else(|e| panic!("{}: {e}", facts.display()))
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn every_capture_with_facts_replays_to_them() {
    let root = vectors_dir().join("ami");
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    // The folders under ami/ and one level below (asterisk22/scenarios/...).
    let subdirs = |d: &Path| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    };
    let dirs: Vec<_> =
        subdirs(&root).into_iter().flat_map(|d| std::iter::once(d.clone()).chain(subdirs(&d))).collect();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|f| f.ok().map(|f| f.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "facts"))
            .collect();
        files.sort();
        for facts in files {
            let capture = facts.with_extension("ami");
            let (want, got) = (expected(&facts), facts_of(&capture));
            if want != got {
                failures.push(format!(
                    "{}\n--- expected\n{}\n--- tracker\n{}\n",
                    capture.display(),
                    want.join("\n"),
                    got.join("\n")
                ));
            }
            checked.push(capture);
        }
    }
    assert!(checked.len() >= 4, "facts files found: {checked:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
