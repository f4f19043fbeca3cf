//! Replays every committed fuzz corpus file through its target's body, so the inputs that once
//! found new coverage (or a crash) keep being checked by a plain `cargo test`.

use std::fs;
use std::path::Path;

use userdp_protocol::fuzz_entry;

/// A fuzz target's body: what it runs on one input.
type Body = fn(&[u8]);

/// The fuzz targets: directory name under `protocol/fuzz/corpus/` and the function it runs.
const TARGETS: &[(&str, Body)] = &[
    ("nl_messages", fuzz_entry::nl_messages),
    ("packet_views", fuzz_entry::packet_views),
    ("key_decode", fuzz_entry::key_decode),
    ("action_decode", fuzz_entry::action_decode),
    ("text_parse", fuzz_entry::text_parse),
    ("family_decode", fuzz_entry::family_decode),
];

#[test]
fn every_corpus_directory_has_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for entry in fs::read_dir(&root).expect("protocol/fuzz/corpus exists") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "corpus directory {name} has no target in tests/fuzz_corpus.rs"
        );
    }
}

#[test]
fn replay_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, run) in TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: empty corpus");
        for f in &files {
            let data = fs::read(f).unwrap();
            // A panic names the file through this message in the test output.
            eprintln!("{target}: {}", f.display());
            run(&data);
        }
        println!("{target}: replayed {} inputs", files.len());
    }
}
