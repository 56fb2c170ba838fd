//! Typed errors. Every error that reaches the user names the file (and line) at fault.

use std::path::PathBuf;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or configuration is wrong (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// A record of an input is malformed (exit status 1).
    #[error("{file}:{line}: {message}")]
    BadInput {
        file: String,
        line: u64,
        message: String,
    },
    /// Reading or writing a file failed (exit status 1).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The output went to a closed pipe (ends quietly with status 0).
    #[error("broken pipe")]
    BrokenPipe,
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub fn bad_input(file: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        Error::BadInput {
            file: file.into(),
            line,
            message: message.into(),
        }
    }

    /// Wraps an I/O error with the path it concerns; a broken pipe becomes [`Error::BrokenPipe`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            return Error::BrokenPipe;
        }
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit status this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::BrokenPipe => 0,
            Error::BadInput { .. } | Error::Io { .. } => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
