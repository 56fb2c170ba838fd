//! Writing the clean corpus: one JSONL stream, or a folder that mirrors the input tree.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::atomic::{AtomicFile, Staged};
use super::input::{kind_of, Compression, InputFile, InputKind};
use crate::error::{Error, Result};

/// Where the clean corpus goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    Stdout,
    /// One JSONL corpus file.
    Jsonl(PathBuf, Compression),
    /// A folder mirroring the inputs: text files stay text, JSONL stays JSONL.
    Folder(PathBuf),
}

impl OutputTarget {
    /// Reads the `-o` argument: `-`, a path ending in a JSONL suffix, or else a folder.
    pub fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == "-" {
            return OutputTarget::Stdout;
        }
        match kind_of(arg) {
            Some(InputKind::Jsonl(c)) => OutputTarget::Jsonl(arg.to_path_buf(), c),
            _ => OutputTarget::Folder(arg.to_path_buf()),
        }
    }

    /// Whether documents of `input` are written as plain text files.
    pub fn writes_text(&self, input: &InputFile) -> bool {
        matches!(self, OutputTarget::Folder(_)) && input.kind == InputKind::Text
    }

    /// The paths this target will create, for the overwrite checks.
    pub fn planned_paths(&self, inputs: &[InputFile]) -> Vec<PathBuf> {
        match self {
            OutputTarget::Stdout => Vec::new(),
            OutputTarget::Jsonl(p, _) => vec![p.clone()],
            OutputTarget::Folder(dir) => inputs.iter().map(|i| dir.join(&i.rel_path)).collect(),
        }
    }
}

/// Receives documents in corpus order and writes them where the target says.
pub struct CorpusWriter<'a> {
    target: OutputTarget,
    inputs: &'a [InputFile],
    /// Unlocked, so that a writer thread can own it; the large buffer makes locking rare.
    stdout: Option<std::io::BufWriter<std::io::Stdout>>,
    single: Option<AtomicFile>,
    /// Folder mode: the file being written and which input it mirrors.
    current: Option<(usize, AtomicFile)>,
    staged: Vec<Staged>,
}

impl<'a> CorpusWriter<'a> {
    pub fn new(target: OutputTarget, inputs: &'a [InputFile]) -> Result<Self> {
        let mut writer = CorpusWriter {
            target: target.clone(),
            inputs,
            stdout: None,
            single: None,
            current: None,
            staged: Vec::new(),
        };
        match &target {
            OutputTarget::Stdout => {
                writer.stdout = Some(std::io::BufWriter::with_capacity(
                    1 << 20,
                    std::io::stdout(),
                ))
            }
            OutputTarget::Jsonl(path, c) => writer.single = Some(AtomicFile::create(path, *c)?),
            OutputTarget::Folder(dir) => check_unique_names(dir, inputs)?,
        }
        Ok(writer)
    }

    /// Writes one document's bytes: a JSONL line (with its newline) or a text file's content.
    pub fn write(&mut self, file_index: usize, bytes: &[u8]) -> Result<()> {
        if let Some(out) = &mut self.stdout {
            return out.write_all(bytes).map_err(|e| Error::io("<stdout>", e));
        }
        if let Some(out) = &mut self.single {
            return out.write_all(bytes);
        }
        let OutputTarget::Folder(dir) = &self.target else {
            unreachable!("a target is one of stdout, file, folder")
        };
        let dir = dir.clone();
        if self.current.as_ref().map(|(i, _)| *i) != Some(file_index) {
            self.close_current()?;
            let input = &self.inputs[file_index];
            let compression = match input.kind {
                InputKind::Jsonl(c) => c,
                _ => Compression::None,
            };
            let file = AtomicFile::create(&dir.join(&input.rel_path), compression)?;
            self.current = Some((file_index, file));
        }
        let (_, file) = self.current.as_mut().expect("opened above");
        file.write_all(bytes)
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some((_, file)) = self.current.take() {
            self.staged.push(file.finish()?);
        }
        Ok(())
    }

    /// Marks the end of input file `file_index`: in folder mode a JSONL input whose documents were
    /// all dropped still gets its (empty) output file.
    pub fn end_file(&mut self, file_index: usize) -> Result<()> {
        if let OutputTarget::Folder(_) = self.target {
            let input = &self.inputs[file_index];
            let open = self.current.as_ref().map(|(i, _)| *i) == Some(file_index);
            if !open && !self.target.writes_text(input) {
                self.write(file_index, b"")?;
            }
            self.close_current()?;
        }
        Ok(())
    }

    /// Completes every file; they keep temporary names until the caller commits them.
    pub fn finish(mut self) -> Result<Vec<Staged>> {
        if let Some(mut out) = self.stdout.take() {
            out.flush().map_err(|e| Error::io("<stdout>", e))?;
        }
        if let Some(file) = self.single.take() {
            self.staged.push(file.finish()?);
        }
        self.close_current()?;
        Ok(self.staged)
    }
}

fn check_unique_names(dir: &Path, inputs: &[InputFile]) -> Result<()> {
    let mut names: Vec<(PathBuf, &InputFile)> =
        inputs.iter().map(|i| (dir.join(&i.rel_path), i)).collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in names.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(Error::usage(format!(
                "{} and {} would both be written to {}; give a JSONL output file instead",
                pair[0].1.display_name(),
                pair[1].1.display_name(),
                pair[0].0.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_arguments() {
        assert_eq!(OutputTarget::from_arg(Path::new("-")), OutputTarget::Stdout);
        assert_eq!(
            OutputTarget::from_arg(Path::new("x/clean.jsonl.zst")),
            OutputTarget::Jsonl(PathBuf::from("x/clean.jsonl.zst"), Compression::Zstd)
        );
        assert_eq!(
            OutputTarget::from_arg(Path::new("clean")),
            OutputTarget::Folder(PathBuf::from("clean"))
        );
    }
}
