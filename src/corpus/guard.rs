//! Refusing runs that would write over an input, read their own output, or write two outputs to
//! one path.

use std::path::{Path, PathBuf};

use super::input::{InputFile, InputKind};
use crate::error::{Error, Result};

/// The absolute, symlink-free form of a path that may not exist yet (its parent must, or be
/// creatable: missing parents are kept as given).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => resolved(parent).join(name),
        _ => absolute,
    }
}

/// Checks every planned output path against the inputs and against each other.
///
/// `input_args` are the paths given on the command line (folders included), `outputs` every file
/// the run will create, `output_folder` the folder output (if any).
pub fn check_outputs(
    input_args: &[PathBuf],
    inputs: &[InputFile],
    outputs: &[PathBuf],
    output_folder: Option<&Path>,
) -> Result<()> {
    let input_files: Vec<PathBuf> = inputs
        .iter()
        .filter(|i| i.kind != InputKind::Stdin)
        .map(|i| resolved(&i.path))
        .collect();
    let input_dirs: Vec<PathBuf> = input_args
        .iter()
        .filter(|p| p.is_dir())
        .map(|p| resolved(p))
        .collect();
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    for out in outputs {
        let r = resolved(out);
        if input_files.contains(&r) {
            return Err(Error::usage(format!(
                "{}: refusing to write over an input",
                out.display()
            )));
        }
        if let Some(dir) = input_dirs.iter().find(|d| r.starts_with(d)) {
            return Err(Error::usage(format!(
                "{}: refusing to write inside {}, a folder being read",
                out.display(),
                dir.display()
            )));
        }
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == r) {
            return Err(Error::usage(format!(
                "{} and {} are the same file",
                first.display(),
                out.display()
            )));
        }
        seen.push((r, out));
    }
    if let Some(folder) = output_folder {
        let r = resolved(folder);
        if let Some(dir) = input_dirs
            .iter()
            .find(|d| r.starts_with(d) || d.starts_with(&r))
        {
            return Err(Error::usage(format!(
                "{}: refusing to write the output folder over or inside {}, a folder being read",
                folder.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::input::Compression;

    fn input(path: PathBuf) -> InputFile {
        InputFile {
            rel_path: PathBuf::from(path.file_name().unwrap()),
            path,
            kind: InputKind::Jsonl(Compression::None),
        }
    }

    #[test]
    fn refuses_to_overwrite_an_input_even_through_another_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        std::fs::write(&a, "").unwrap();
        let other_spelling = dir.path().join(".").join("a.jsonl");
        let err = check_outputs(
            std::slice::from_ref(&a),
            &[input(a.clone())],
            &[other_spelling],
            None,
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("refusing to write over an input"));
        let ok = check_outputs(
            std::slice::from_ref(&a),
            &[input(a.clone())],
            &[dir.path().join("b.jsonl")],
            None,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn refuses_output_inside_an_input_folder_and_duplicate_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("in");
        std::fs::create_dir(&folder).unwrap();
        let err = check_outputs(
            std::slice::from_ref(&folder),
            &[],
            &[folder.join("x.jsonl")],
            None,
        );
        assert!(err.unwrap_err().to_string().contains("a folder being read"));
        let err = check_outputs(
            std::slice::from_ref(&folder),
            &[],
            &[],
            Some(&folder.join("out")),
        );
        assert!(err.is_err());
        let same = dir.path().join("r.json");
        let err = check_outputs(&[], &[], &[same.clone(), same], None);
        assert!(err.unwrap_err().to_string().contains("are the same file"));
    }
}
