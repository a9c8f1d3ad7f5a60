//! nbgen: generates nb-overlay from one declarative spec, and test-builds it in containers.
//!
//! Two flows, one folder each: `regen` (spec -> model -> rendered files -> overlay) and `nbtest`
//! (matrix -> stage -> engine -> entry -> report). `kconfig` reads and merges kernel
//! configurations for both; `base` holds what they share. The command line is the binary's
//! (src/main.rs and src/cli/): all printing and exit codes live there.

pub mod base;
pub mod kconfig;
pub mod nbtest;
pub mod regen;
