//! The one error type of nbgen, and what each kind means for the exit code.

use std::path::{Path, PathBuf};

/// Exit codes, as the CLI documents them.
pub const EXIT_OK: u8 = 0;
pub const EXIT_CHECK_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_FAILURE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something in a file the user wrote is wrong; `location` names file, line and column.
    #[error("{location}: {message}")]
    Input { location: String, message: String },

    /// The workspace around the current directory could not be read.
    #[error("workspace: {0}")]
    Workspace(String),

    /// A template failed to render; this is a bug in a template or a spec value it cannot take.
    #[error("template {template}: {message}")]
    Render { template: String, message: String },

    /// The machine lacks something nbgen needs (a container engine...); the message says what.
    #[error("{0}")]
    Environment(String),

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input {
            location: location.into(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// For files the user named on the command line: failing to read one is bad input.
    pub fn into_input(self) -> Self {
        match self {
            Error::Io { path, source } => {
                Error::input(path.display().to_string(), source.to_string())
            }
            other => other,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            // A template that cannot render is a spec value it needs but lacks, or a template the
            // user edited: both are input, not a fault of nbgen.
            Error::Input { .. } | Error::Workspace(_) | Error::Render { .. } => EXIT_BAD_INPUT,
            Error::Io { .. } | Error::Environment(_) => EXIT_FAILURE,
        }
    }
}

/// Adds the path to an `io::Error`, so every I/O failure names its file.
pub trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
