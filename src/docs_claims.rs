//! Keeps `docs/testing.md` honest: every test its claims table names must exist.
//!
//! The table (`| Claim | Test |`) is where the docs say which test backs which claim. A test that
//! is renamed or removed would leave a claim pointing at nothing, and nobody reads a table to
//! check that. This test reads the table at run time, takes every backticked Rust function name
//! in the Test column (rows that say "untested" name none), and looks for `fn <name>(` (or
//! `fn <name><`) in the `.rs` files under `src/` and `e2e/`. It also requires at least
//! [`MIN_ROWS`] rows, so an emptied or lost table fails instead of passing vacuously.
//! Test-only: no I/O of the operator goes through here.

use std::fs;
use std::path::{Path, PathBuf};

/// Fewer rows than this means the table was lost or emptied, not trimmed.
const MIN_ROWS: usize = 50;

/// The header that starts the claims table.
const HEADER: &str = "| Claim | Test |";

/// The Test column of every row of the claims table in `markdown`.
fn test_cells(markdown: &str) -> Vec<String> {
    let rows = markdown
        .lines()
        .skip_while(|line| line.trim() != HEADER)
        .skip(1);
    let mut cells = Vec::new();
    // The separator row (`| --- | --- |`) comes first; the table ends at the first other line.
    for line in rows {
        let line = line.trim();
        if !line.starts_with('|') {
            break;
        }
        if line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            continue;
        }
        // The Test column is the last one; a claim may hold a `|` only escaped, inside its text.
        let inner = line.trim_end_matches('|');
        if let Some((_, test)) = inner.rsplit_once('|') {
            cells.push(test.trim().to_string());
        }
    }
    cells
}

/// Backticked spans of `cell` that look like Rust function names (snake_case, no spaces or
/// slashes), "untested" excepted.
fn fn_names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            let starts_well = span
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
            starts_well
                && span
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && *span != "untested"
        })
        .map(str::to_string)
        .collect()
}

/// Every `.rs` file under `dir`, recursively (build output excepted).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn docs_testing_names_existing_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = root.join("docs/testing.md");
    let markdown =
        fs::read_to_string(&doc).unwrap_or_else(|e| panic!("cannot read {}: {e}", doc.display()));

    let cells = test_cells(&markdown);
    assert!(
        cells.len() >= MIN_ROWS,
        "{} has {} rows in its `{HEADER}` table; expected at least {MIN_ROWS}",
        doc.display(),
        cells.len()
    );

    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("e2e"), &mut files);
    let sources: Vec<String> = files
        .iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .collect();

    let mut names: Vec<String> = cells.iter().flat_map(|cell| fn_names(cell)).collect();
    names.sort();
    names.dedup();
    assert!(!names.is_empty(), "the claims table names no test");

    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            let call = format!("fn {name}(");
            let generic = format!("fn {name}<");
            !sources
                .iter()
                .any(|text| text.contains(&call) || text.contains(&generic))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/testing.md names tests that do not exist under src/ or e2e/: {missing:?}"
    );
}
