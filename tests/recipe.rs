//! "A venue is one folder": no generic module names a venue. Adding one touches its folder
//! (`src/exchange/<venue>/`), its simulator file (`src/sim/<venue>.rs`) and one line in each
//! registry (`Exchange` in `src/model/mod.rs`, `PROFILES` in `src/exchange/mod.rs`, `VENUES` in
//! `src/sim/mod.rs`); everything else reads profiles. This test reads the code of every other
//! file under `src/` (comments and `#[cfg(test)]` modules left out: examples there cost
//! nothing when a venue is added) and fails on any venue's name, naming file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use tickflow::model::Exchange;

/// The registries: the only generic files that list venues.
const REGISTRIES: [&str; 3] = ["src/model/mod.rs", "src/exchange/mod.rs", "src/sim/mod.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A venue's own file: its folder under `src/exchange/`, its simulator file.
fn is_venue_file(relative: &str, venues: &[String]) -> bool {
    venues.iter().any(|v| {
        relative.starts_with(&format!("src/exchange/{v}/")) || relative == format!("src/sim/{v}.rs")
    })
}

/// The code of a line: a `//` comment cut off where it starts outside a string literal.
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

#[test]
fn no_generic_module_names_a_venue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venues: Vec<String> = Exchange::ALL
        .iter()
        .map(|e| e.as_str().to_ascii_lowercase())
        .collect();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    let mut read = 0;
    for path in files {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if is_venue_file(&relative, &venues)
            || REGISTRIES.contains(&relative.as_str())
            || relative.ends_with("/tests.rs")
        {
            continue;
        }
        read += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            let code = code_of(line).to_ascii_lowercase();
            for v in &venues {
                if code.contains(v.as_str()) {
                    found.push(format!("{relative}:{}: names {v}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(read > 50, "only {read} generic files read");
    assert!(
        found.is_empty(),
        "generic code names a venue (move it into the venue's profile, folder or simulator \
         file):\n{}",
        found.join("\n")
    );
}

#[test]
fn comments_and_strings_are_told_apart() {
    assert_eq!(code_of("let a = 1; // upbit"), "let a = 1; ");
    assert_eq!(code_of("/// Upbit"), "");
    assert_eq!(
        code_of(r#"let u = "wss://x.upbit.com"; // c"#),
        r#"let u = "wss://x.upbit.com"; "#
    );
    assert_eq!(code_of(r#"let q = "a\"//b";"#), r#"let q = "a\"//b";"#);
}
