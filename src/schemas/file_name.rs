//! How a schema file is named: `<family>.v<N>.<ext>`. Shared with `src/build.rs` (included there
//! by path), which picks the newest version of each family to compile in.

/// `name.vN.ext` → (`name`, N).
pub fn versioned_name(file: &str, ext: &str) -> Option<(String, u32)> {
    let stem = file.strip_suffix(ext)?.strip_suffix('.')?;
    let (name, version) = stem.rsplit_once(".v")?;
    let number = version.parse().ok().filter(|n| *n > 0)?;
    (!name.is_empty()).then(|| (name.to_owned(), number))
}
