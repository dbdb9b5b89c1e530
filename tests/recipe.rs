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

/// The code of a file, line by line: comments (line and block) cut out wherever they start
/// outside a string literal, string literals kept (they are what users read), and items
/// under `#[cfg(test)]` left out (a `mod tests { .. }`, a test-only fn, a `mod tests;`).
fn code_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Inside a string: `Some(hashes)` of a raw string `r#".."#`, or `None` of a plain one.
    let mut string: Option<Option<usize>> = None;
    let mut block = 0usize;
    // Inside a skipped test-only item: its brace depth, and whether its braces opened.
    let mut skip_depth: Option<(i64, bool)> = None;
    for line in text.lines() {
        if string.is_none()
            && block == 0
            && skip_depth.is_none()
            && line.starts_with("#[cfg(test)]")
        {
            // Skip the next item: to the end of its braces, or its `;`.
            skip_depth = Some((0, false));
            out.push(String::new());
            continue;
        }
        let mut code = String::new();
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if block > 0 {
                if b[i..].starts_with(b"*/") {
                    block -= 1;
                    i += 2;
                } else if b[i..].starts_with(b"/*") {
                    block += 1;
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            match string {
                Some(None) => {
                    code.push(c as char);
                    if c == b'\\' {
                        if let Some(&n) = b.get(i + 1) {
                            code.push(n as char);
                        }
                        i += 2;
                        continue;
                    }
                    if c == b'"' {
                        string = None;
                    }
                }
                Some(Some(hashes)) => {
                    code.push(c as char);
                    let close =
                        b[i + 1..].iter().take(hashes).all(|&h| h == b'#') && b.len() > i + hashes;
                    if c == b'"' && close {
                        for _ in 0..hashes {
                            code.push('#');
                        }
                        i += hashes;
                        string = None;
                    }
                }
                None => {
                    if b[i..].starts_with(b"//") {
                        break;
                    }
                    if b[i..].starts_with(b"/*") {
                        block += 1;
                        i += 2;
                        continue;
                    }
                    if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) {
                        let hashes = b[i + 1..].iter().take_while(|&&h| h == b'#').count();
                        if b.get(i + 1 + hashes) == Some(&b'"') {
                            code.push_str(&line[i..i + 2 + hashes]);
                            i += 2 + hashes;
                            string = Some(Some(hashes));
                            continue;
                        }
                    }
                    if c == b'\'' {
                        // A char literal ('"', '\\'') is not a string's start.
                        if let Some(end) = b[i + 1..].iter().take(4).position(|&x| x == b'\'') {
                            code.push_str(&line[i..i + 2 + end]);
                            i += 2 + end;
                            continue;
                        }
                    }
                    if c == b'"' {
                        string = Some(None);
                    }
                    code.push(c as char);
                }
            }
            i += 1;
        }
        if let Some((depth, opened)) = skip_depth.as_mut() {
            for ch in code.chars() {
                match ch {
                    '{' => {
                        *depth += 1;
                        *opened = true;
                    }
                    '}' => *depth -= 1,
                    _ => {}
                }
            }
            if (*opened && *depth <= 0) || (!*opened && code.trim_end().ends_with(';')) {
                skip_depth = None;
            }
            out.push(String::new());
            continue;
        }
        out.push(code);
    }
    out
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
        for (n, code) in code_lines(&text).iter().enumerate() {
            let code = code.to_ascii_lowercase();
            for v in &venues {
                if code.contains(v.as_str()) {
                    found.push(format!("{relative}:{}: names {v}: {}", n + 1, code.trim()));
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
fn comments_strings_and_test_items_are_told_apart() {
    let code = |t: &str| code_lines(t).join("\n");
    assert_eq!(code("let a = 1; // upbit"), "let a = 1; ");
    assert_eq!(code("/// Upbit"), "");
    assert_eq!(
        code(r#"let u = "wss://x.upbit.com"; // c"#),
        r#"let u = "wss://x.upbit.com"; "#
    );
    assert_eq!(code(r#"let q = "a\"//b";"#), r#"let q = "a\"//b";"#);
    // A string over lines keeps `//` inside it, and what follows.
    assert_eq!(
        code("let h = \"a \\\nws://x --connector upbit\";"),
        "let h = \"a \\\nws://x --connector upbit\";"
    );
    assert_eq!(
        code("let r = r#\"x // upbit\"#; // c"),
        "let r = r#\"x // upbit\"#; "
    );
    assert_eq!(code("a /* upbit\n upbit */ b"), "a \n b");
    assert_eq!(code("let c = '\"'; // upbit"), "let c = '\"'; ");
    // Test-only items are left out, and the code after them is read.
    let text = "#[cfg(test)]\nfn t() {\n    upbit();\n}\nfn prod() { binance() }\n#[cfg(test)]\nmod tests;\nlet x = bithumb;\n#[cfg(test)]\nmod tests {\n    upbit\n}\n";
    let got = code(text);
    assert!(!got.contains("upbit"), "{got}");
    assert!(got.contains("binance") && got.contains("bithumb"), "{got}");
}
