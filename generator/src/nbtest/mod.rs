//! The test flow of `nbgen test`: `matrix` (the matrix and its lock file) -> `stage` (the stage
//! tarball, fetched with `fetch` and unpacked with `unpack`, or made by a script) -> `engine`
//! (podman, docker or bwrap) -> `testrun` (each entry built in a container) -> `report`
//! (summary.json, junit.xml). `shared` reads the real inputs of the shared directory;
//! `ci_github` writes the GitHub Actions workflow of a matrix.

pub mod ci_github;
pub mod engine;
pub mod fetch;
pub mod matrix;
pub mod report;
pub mod shared;
pub mod stage;
pub mod stream;
pub mod testrun;
pub mod unpack;
