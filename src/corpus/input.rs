//! Finding the input files: expanding folders, sorting into corpus order, naming formats.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// How a JSONL file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The file name ending that selects this compression.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => ".jsonl",
            Compression::Gzip => ".jsonl.gz",
            Compression::Zstd => ".jsonl.zst",
        }
    }
}

/// What one input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InputKind {
    /// One document per file.
    Text,
    /// One record per line.
    Jsonl(Compression),
    /// JSONL on standard input.
    Stdin,
}

/// One input file, in corpus order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Where to read it (`-` for stdin).
    pub path: PathBuf,
    /// Its path relative to the folder it was found in (or its file name): names the output file in
    /// folder output and the document id of text files.
    pub rel_path: PathBuf,
    pub kind: InputKind,
}

/// The bytes of the input files as they are on disk (compressed ones compressed; 0 for one that
/// cannot be read).
pub fn total_bytes(inputs: &[InputFile]) -> u64 {
    inputs
        .iter()
        .map(|i| std::fs::metadata(&i.path).map_or(0, |m| m.len()))
        .sum()
}

impl InputFile {
    /// The name used in messages and in `<file>:<line>` ids.
    pub fn display_name(&self) -> String {
        match self.kind {
            InputKind::Stdin => "<stdin>".to_string(),
            _ => self.path.display().to_string(),
        }
    }
}

/// The kind of a file from its name, or `None` when gleaner does not read it.
pub fn kind_of(path: &Path) -> Option<InputKind> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".jsonl") {
        Some(InputKind::Jsonl(Compression::None))
    } else if name.ends_with(".jsonl.gz") {
        Some(InputKind::Jsonl(Compression::Gzip))
    } else if name.ends_with(".jsonl.zst") {
        Some(InputKind::Jsonl(Compression::Zstd))
    } else if name.ends_with(".txt") {
        Some(InputKind::Text)
    } else {
        None
    }
}

/// Expands the command-line inputs into the sorted list of files that defines DocIds.
///
/// Folders are walked recursively (hidden entries skipped); files of other kinds inside a folder are
/// ignored, but a file named directly must be of a known kind.
pub fn discover(args: &[PathBuf]) -> Result<Vec<InputFile>> {
    if args.is_empty() {
        return Err(Error::usage("no input given"));
    }
    let mut files = Vec::new();
    let mut stdin_seen = false;
    for arg in args {
        if arg.as_os_str() == "-" {
            if stdin_seen {
                return Err(Error::usage("`-` (stdin) given more than once"));
            }
            stdin_seen = true;
            files.push(InputFile {
                path: arg.clone(),
                rel_path: PathBuf::from("stdin.jsonl"),
                kind: InputKind::Stdin,
            });
            continue;
        }
        let meta = std::fs::metadata(arg).map_err(|e| Error::io(arg, e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(arg, arg, &mut found)?;
            files.extend(found);
        } else {
            let kind = kind_of(arg).ok_or_else(|| {
                Error::usage(format!(
                    "{}: unknown input format (expected .txt, .jsonl, .jsonl.gz or .jsonl.zst)",
                    arg.display()
                ))
            })?;
            let rel_path = PathBuf::from(arg.file_name().unwrap_or(arg.as_os_str()));
            files.push(InputFile {
                path: arg.clone(),
                rel_path,
                kind,
            });
        }
    }
    // Corpus order: stdin first, then files by path, so DocIds do not depend on argument order.
    files.sort_by(|a, b| {
        let a_key = (a.kind != InputKind::Stdin, &a.path);
        let b_key = (b.kind != InputKind::Stdin, &b.path);
        a_key.cmp(&b_key)
    });
    for pair in files.windows(2) {
        if pair[0].kind != InputKind::Stdin && pair[0].path == pair[1].path {
            return Err(Error::usage(format!(
                "{}: input given more than once",
                pair[0].path.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(Error::usage(
            "no input files found (looked for .txt, .jsonl, .jsonl.gz, .jsonl.zst)",
        ));
    }
    Ok(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<InputFile>) -> Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if let Some(kind) = kind_of(&path) {
            let rel_path = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.push(InputFile {
                path,
                rel_path,
                kind,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_names() {
        assert_eq!(
            kind_of(Path::new("a/b.jsonl.gz")),
            Some(InputKind::Jsonl(Compression::Gzip))
        );
        assert_eq!(
            kind_of(Path::new("b.jsonl.zst")),
            Some(InputKind::Jsonl(Compression::Zstd))
        );
        assert_eq!(
            kind_of(Path::new("b.jsonl")),
            Some(InputKind::Jsonl(Compression::None))
        );
        assert_eq!(kind_of(Path::new("b.txt")), Some(InputKind::Text));
        assert_eq!(kind_of(Path::new("b.json")), None);
    }

    #[test]
    fn folders_are_walked_sorted_and_hidden_files_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["b.txt", "a.jsonl", "sub/c.txt", ".hidden.txt", "notes.md"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let files = discover(&[dir.path().to_path_buf()]).unwrap();
        let rel: Vec<_> = files.iter().map(|f| f.rel_path.clone()).collect();
        assert_eq!(
            rel,
            vec![
                PathBuf::from("a.jsonl"),
                PathBuf::from("b.txt"),
                PathBuf::from("sub/c.txt")
            ]
        );
    }

    #[test]
    fn unknown_named_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "x").unwrap();
        assert!(matches!(discover(&[path]), Err(Error::Usage(_))));
    }
}
