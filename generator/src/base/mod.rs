//! What both flows share: errors and their exit codes, atomic file writes, the PMS name rules,
//! shell quoting, and the workspace (where the spec, the sources and the overlay are).

pub mod atomic;
pub mod error;
pub mod names;
pub mod shell;
pub mod toml_input;
pub mod workspace;
