//! Fuzz targets for the three readers of hostile input: the openclaw.json patcher, the GGUF header reader and the
//! profile loader. Nightly `cargo fuzz` is not available here, so each is a proptest over a committed corpus
//! (`tests/fuzz/corpus/<target>/`, plus the config fixtures and the bundled profiles): proptest picks a seed file
//! and a list of byte / token edits, the target must keep its invariants on the result. `cargo test` runs 256
//! cases of each; `PROPTEST_CASES=N` runs more (scripts/reliability.sh runs 5 000).
//!
//! A failure prints the seed file and the edits; adding the minimized input to the corpus keeps it covered.

use std::path::Path;

use proptest::prelude::*;

use crate::gguf;
use crate::gguf_model;
use crate::hub::client::{RemoteFile, Resolution};
use crate::openclaw::patch::tests::spec;
use crate::openclaw::patch::{self, Section};
use crate::plan::Role;
use crate::profile;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every file in `folders` (relative to the crate root) whose name ends with one of `exts`, sorted.
fn corpus(folders: &[&str], exts: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for folder in folders {
        let dir = Path::new(ROOT).join(folder);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| exts.iter().any(|x| p.to_string_lossy().ends_with(x)))
            .collect();
        names.sort();
        for p in names {
            out.push((p.strip_prefix(ROOT).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    assert!(!out.is_empty(), "an empty corpus in {folders:?}");
    out
}

/// One edit of a seed. Positions and lengths are taken modulo the input's size when applied.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Set(usize, u8),
    /// Little-endian `width` bytes of a boundary value: what drives counts and lengths in binary formats.
    Word(usize, u8, u64),
    Truncate(usize),
    DuplicateRange(usize, usize),
}

/// Tokens that change JSON5's structure or sit at its edges (BOM, separators, combining marks, escapes).
const TOKENS: &[&str] = &[
    ",",
    "}",
    "{",
    "]",
    "[",
    ":",
    "'",
    "\"",
    "//",
    "/*",
    "*/",
    "\n",
    "\r\n",
    "\u{feff}",
    "\u{301}",
    "\u{200d}",
    "\u{2028}",
    "NaN",
    "Infinity",
    "-0x1F",
    ".5",
    "+1",
    "null",
    "true",
    "\\u0041",
    "\\",
    "$",
    "_",
    "é",
    "1e999",
    "\"models\": {}",
    "agents: { defaults: { model: 'x/y' } },",
    "clawlocal",
    "providers",
    "$include",
    "[[[[",
    "}}}}",
];
const BOUNDARIES: &[u64] = &[0, 1, 255, 1 << 16, 1 << 28, 1 << 31, u32::MAX as u64, 1 << 40, 1 << 63, u64::MAX];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..16usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), proptest::sample::select(TOKENS)).prop_map(|(at, t)| Edit::Insert(at, t.as_bytes().to_vec())),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..4)).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), proptest::sample::select(&[1u8, 2, 4, 8][..]), proptest::sample::select(BOUNDARIES))
            .prop_map(|(at, w, v)| Edit::Word(at, w, v)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1..64usize).prop_map(|(at, n)| Edit::DuplicateRange(at, n)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match e {
            Edit::Delete(i, n) => {
                let s = at(*i, b.len());
                b.drain(s..(s + n).min(b.len()));
            }
            Edit::Insert(i, t) => {
                let s = at(*i, b.len());
                b.splice(s..s, t.iter().copied());
            }
            Edit::Set(i, v) if !b.is_empty() => {
                let s = i % b.len();
                b[s] = *v;
            }
            Edit::Word(i, w, v) if b.len() >= usize::from(*w) => {
                let s = i % (b.len() - usize::from(*w) + 1);
                b[s..s + usize::from(*w)].copy_from_slice(&v.to_le_bytes()[..usize::from(*w)]);
            }
            Edit::Truncate(i) => b.truncate(at(*i, b.len())),
            Edit::DuplicateRange(i, n) if !b.is_empty() => {
                let s = i % b.len();
                let part: Vec<u8> = b[s..(s + n).min(b.len())].to_vec();
                b.splice(s..s, part);
            }
            _ => {}
        }
    }
    b
}

/// The patcher on any text: a refusal names the file; an edit keeps every comment and every value outside
/// clawlocal's own paths, parses, and is undone by `unpatch` to the same meaning.
fn patcher_keeps_its_invariants(text: &str) -> std::result::Result<(), TestCaseError> {
    let Ok(out) = patch::patch(text, "fuzz.json5", &spec(Role::Primary), Section::Whole) else {
        let err = patch::patch(text, "fuzz.json5", &spec(Role::Primary), Section::Whole).unwrap_err();
        prop_assert!(err.message.starts_with("fuzz.json5") || err.message.starts_with("internal error"));
        prop_assert!(!err.message.starts_with("internal error"), "a self-check tripped: {}", err.message);
        return Ok(());
    };
    let before = patch::parse_json5(text, "before").unwrap_or(serde_json::Value::Null);
    let after = patch::parse_json5(&out.text, "after");
    prop_assert!(after.is_ok(), "the edit parses");
    let after = after.unwrap();
    if before.is_object() {
        prop_assert_eq!(patch::lost(&before, &after, "clawlocal"), Vec::<String>::new());
    }
    prop_assert_eq!(patch::comments(&out.text), patch::comments(text), "comments kept in order");
    let back = patch::unpatch(&out.text, "fuzz.json5", &out.changes, Section::Whole);
    prop_assert!(back.is_ok(), "unpatch of its own edit: {}", back.err().map(|e| e.message).unwrap_or_default());
    let back = back.unwrap();
    let meaning = |t: &str| {
        if t.trim().trim_start_matches('\u{feff}').is_empty() {
            serde_json::json!({})
        } else {
            patch::parse_json5(t, "x").unwrap_or(serde_json::Value::Null)
        }
    };
    prop_assert_eq!(meaning(&back.text), meaning(text), "unpatch gives back the meaning");
    Ok(())
}

fn resolution() -> Resolution {
    Resolution {
        commit: "0".repeat(40),
        files: vec![RemoteFile { name: "m.gguf".into(), size: 1 << 30, sha256: "0".repeat(64) }],
    }
}

/// The GGUF reader on any bytes: an error or a header, never a panic; a header's model facts are judged without
/// a panic either, and `check_complete` agrees with the file's length.
fn gguf_reader_keeps_its_invariants(bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
    if let Ok(header) = gguf::parse(bytes) {
        let _ = header.check_complete(bytes.len() as u64);
        let judged = gguf_model::implausible(&header);
        let model = gguf_model::from_header(&header, "hf:o/n/m.gguf", "o/n", &resolution());
        if judged.is_some() {
            prop_assert!(model.is_err(), "an implausible header is not a model: {judged:?}");
        }
    }
    Ok(())
}

/// The profile loader on any text: an error naming the file, or a profile whose budget can be taken.
fn profile_loader_keeps_its_invariants(text: &str) -> std::result::Result<(), TestCaseError> {
    match profile::parse(text, "fuzz.json5") {
        Ok(p) => {
            let _ = p.budget();
            let _ = p.summary();
        }
        Err(e) => prop_assert!(e.message.contains("fuzz.json5"), "the error names the file: {}", e.message),
    }
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_patcher(
        pick in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 0..4),
    ) {
        let seeds = corpus(&["tests/fixtures/openclaw", "tests/fixtures/openclaw-corpus", "tests/fuzz/corpus/patch"], &[".json", ".json5"]);
        let (_, seed) = &seeds[pick.index(seeds.len())];
        let bytes = apply(seed, &edits);
        // The patcher reads UTF-8 (the file layer refuses other bytes before it): fuzz it on what decodes.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            patcher_keeps_its_invariants(text)?;
        }
    }

    #[test]
    fn fuzz_gguf_reader(
        pick in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 0..4),
    ) {
        let seeds = corpus(&["tests/fuzz/corpus/gguf"], &[".gguf"]);
        let (_, seed) = &seeds[pick.index(seeds.len())];
        gguf_reader_keeps_its_invariants(&apply(seed, &edits))?;
    }

    #[test]
    fn fuzz_profile_loader(
        pick in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 0..4),
    ) {
        let seeds = corpus(&["profiles", "tests/fuzz/corpus/profile"], &[".json5"]);
        let (_, seed) = &seeds[pick.index(seeds.len())];
        let bytes = apply(seed, &edits);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            profile_loader_keeps_its_invariants(text)?;
        }
    }
}

/// Every corpus file as it is (no edit) keeps the invariants too, and the corpora are where the targets look.
#[test]
fn the_corpora_pass_unmutated() {
    for (name, bytes) in corpus(&["tests/fuzz/corpus/gguf"], &[".gguf"]) {
        gguf_reader_keeps_its_invariants(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(gguf::parse(&bytes[..]).is_ok(), "{name} is a well-formed seed");
    }
    for (name, bytes) in corpus(&["tests/fuzz/corpus/patch"], &[".json", ".json5"]) {
        patcher_keeps_its_invariants(std::str::from_utf8(&bytes).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, bytes) in corpus(&["profiles", "tests/fuzz/corpus/profile"], &[".json5"]) {
        profile_loader_keeps_its_invariants(std::str::from_utf8(&bytes).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
