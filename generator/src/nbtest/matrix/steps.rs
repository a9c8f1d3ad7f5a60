//! An entry's steps (`[[entry.steps]]`): commands run in the container after the emerges and
//! `emerge --config`, in order and in the same container, each judged by its exit status and
//! what it prints; and which overlay the entry sees (`overlay = "synced"`: the one a user syncs,
//! without the stand-ins' digests).

use std::collections::BTreeSet;

use serde::Serialize;

use super::raw::{RawEntry, RawStep};
use super::validate::{Ctx, NAME};
use crate::base::error::Result;

/// One command of an entry, run with the stage's bash in /, its output in out/logs/.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `[a-z0-9._-]+`, unique in the entry: the step's row is `step <name>`.
    pub name: String,
    /// A bash command line.
    pub run: String,
    pub exit: StepExit,
    /// Texts its output must contain.
    pub says: Vec<String>,
    /// Texts its output must not contain.
    pub lacks: Vec<String>,
}

/// The exit status a step must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StepExit {
    Code(i32),
    /// Any status but 0: the command must fail.
    NonZero,
}

impl StepExit {
    pub fn accepts(self, code: i32) -> bool {
        match self {
            StepExit::Code(c) => c == code,
            StepExit::NonZero => code != 0,
        }
    }
}

impl std::fmt::Display for StepExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepExit::Code(c) => write!(f, "{c}"),
            StepExit::NonZero => f.write_str("non-zero"),
        }
    }
}

impl Step {
    /// The key of the step in the results and its row in out/packages.tsv.
    pub fn key(&self) -> String {
        format!("step {}", self.name)
    }
}

/// The overlay an entry's container gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum OverlayKind {
    /// The spec's overlay with the stand-ins' digests in place of the spec's.
    #[default]
    StandIns,
    /// The spec's overlay as it is generated and published: what a user syncs.
    Synced,
}

impl Ctx<'_> {
    pub(super) fn steps(&self, e: &RawEntry) -> Result<Vec<Step>> {
        let mut names = BTreeSet::new();
        let mut steps = Vec::new();
        for s in &e.steps {
            let raw = s.get_ref();
            let name = self.matching(&raw.name, &NAME, "step name (want [a-z0-9._-]+)")?;
            if !names.insert(name.clone()) {
                return Err(self.err(&raw.name, format!("duplicate step name {name:?}")));
            }
            steps.push(Step {
                name,
                run: self.step_run(raw)?,
                exit: self.step_exit(raw)?,
                says: self.texts(&raw.says, "step says")?,
                lacks: self.texts(&raw.lacks, "step lacks")?,
            });
        }
        Ok(steps)
    }

    fn step_run(&self, raw: &RawStep) -> Result<String> {
        let run = raw.run.get_ref();
        if run.trim().is_empty() || run.contains('\0') {
            return Err(self.err(
                &raw.run,
                "step run: want a bash command line, not empty, without NUL",
            ));
        }
        Ok(run.clone())
    }

    fn step_exit(&self, raw: &RawStep) -> Result<StepExit> {
        let Some(exit) = &raw.exit else {
            return Ok(StepExit::Code(0));
        };
        match exit.get_ref() {
            toml::Value::Integer(c) if (0..=255).contains(c) => Ok(StepExit::Code(*c as i32)),
            toml::Value::String(w) if w == "nonzero" => Ok(StepExit::NonZero),
            _ => Err(self.err(
                exit,
                "step exit: want a status from 0 to 255, or \"nonzero\" (the command must fail)",
            )),
        }
    }

    /// `overlay`: "stand-ins" (the default) or "synced", which has no use for real distfiles.
    pub(super) fn overlay_kind(&self, e: &RawEntry) -> Result<OverlayKind> {
        let Some(o) = &e.overlay else {
            return Ok(OverlayKind::StandIns);
        };
        let kind = match o.get_ref().as_str() {
            "stand-ins" => OverlayKind::StandIns,
            "synced" => OverlayKind::Synced,
            _ => {
                return Err(self.err(
                    o,
                    "overlay: want \"stand-ins\" (the stand-ins' digests pinned) or \"synced\" (as users get it)",
                ));
            }
        };
        if kind == OverlayKind::Synced && !e.distfiles.is_empty() {
            return Err(self.err(
                o,
                "overlay = \"synced\" has no digests of its own: it cannot go with distfiles",
            ));
        }
        Ok(kind)
    }
}
