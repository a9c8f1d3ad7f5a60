//! An entry's expectations (`expect`: what its emerges must end in, beyond "every package merged")
//! and its setup (`setup`: files, directories and environment given to the container before the
//! emerges), as written in the matrix and as validated.

use std::collections::BTreeMap;

use serde::Serialize;
use toml::Spanned;

use super::raw::{RawEntry, RawExpect, RawFileText, RawSetup};
use super::validate::Ctx;
use crate::base::error::Result;
use crate::base::names;
use crate::base::shell::ENV_NAME;

/// What the entry's emerges must end in. Without `expect` every package must merge and nothing
/// else is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// `Some(message)`: every package's emerge must fail and its logs say `message`; a merge is a
    /// failure ("it built").
    pub refused: Option<String>,
    /// Paths (relative to the root) the entry's packages installed.
    pub installs: Vec<String>,
    /// Texts that no installed path contains.
    pub absent: Vec<String>,
    /// Texts the emerge and build logs contain.
    pub log: Vec<String>,
    /// Installed files that contain a text.
    pub holds: Vec<FileText>,
    /// Installed files that exist and do not contain a text.
    pub lacks: Vec<FileText>,
    /// Installed files that are executable.
    pub executable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileText {
    /// Relative to the root.
    pub file: String,
    pub text: String,
}

impl Expect {
    /// The names of the checks these expectations make, in the order reports list them.
    pub fn check_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.refused.is_some() {
            names.push("refused");
        }
        for (name, empty) in [
            ("installs", self.installs.is_empty()),
            ("absent", self.absent.is_empty()),
            ("log", self.log.is_empty()),
            ("holds", self.holds.is_empty()),
            ("lacks", self.lacks.is_empty()),
            ("executable", self.executable.is_empty()),
        ] {
            if !empty {
                names.push(name);
            }
        }
        names
    }

    /// The files copied out of the container to be checked (holds, lacks, executable), each once.
    pub fn files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = self
            .holds
            .iter()
            .chain(&self.lacks)
            .map(|f| f.file.as_str())
            .chain(self.executable.iter().map(String::as_str))
            .collect();
        files.sort_unstable();
        files.dedup();
        files
    }
}

/// What the container gets before the emerges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Setup {
    /// Absolute paths and their contents, written as given.
    pub files: Vec<(String, String)>,
    /// Absolute paths of directories made (a directory where a file is expected, for one).
    pub dirs: Vec<String>,
    /// Exported to the emerges.
    pub env: BTreeMap<String, String>,
}

/// What runs after the emerges: `emerge --config` of each atom, in order, each judged as a step
/// of the entry (keyed `--config <atom>` in the results).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigRun {
    pub atoms: Vec<String>,
    /// `Some(message)`: each must fail, its log saying `message`; else each must succeed.
    pub refused: Option<String>,
}

impl ConfigRun {
    /// The key of an atom's step in the results and its row in out/packages.tsv.
    pub fn step(atom: &str) -> String {
        format!("--config {atom}")
    }
}

impl Ctx<'_> {
    /// The entry's `config`, which needs packages that merged: not with a refused entry.
    pub(super) fn config(&self, e: &RawEntry, expect: Option<&Expect>) -> Result<ConfigRun> {
        let Some(c) = &e.config else {
            return Ok(ConfigRun::default());
        };
        let raw = c.get_ref();
        if raw.atoms.is_empty() {
            return Err(self
                .loc
                .err(c, "config asks for nothing: give atoms = [\"cat/pkg\"]"));
        }
        if expect.is_some_and(|x| x.refused.is_some()) || e.refuse_distfile.is_some() {
            return Err(self.loc.err(
                c,
                "config runs emerge --config on merged packages: a refused entry merges none",
            ));
        }
        Ok(ConfigRun {
            atoms: self.atoms(&raw.atoms)?,
            refused: raw
                .refused
                .as_ref()
                .map(|m| self.text(m, "config refused"))
                .transpose()?,
        })
    }

    /// The entry's `expect` and `setup` (an empty setup without one).
    pub(super) fn expect_and_setup(&self, e: &RawEntry) -> Result<(Option<Expect>, Setup)> {
        let expect = e.expect.as_ref().map(|x| self.expect(x)).transpose()?;
        let setup = e.setup.as_ref().map(|x| self.setup(x)).transpose()?;
        if let (
            Some(f),
            Some(Expect {
                refused: Some(_), ..
            }),
        ) = (&e.refuse_distfile, &expect)
        {
            return Err(self.loc.err(
                f,
                "refuse_distfile and expect's outcome = \"refused\" exclude each other: one refusal per entry",
            ));
        }
        Ok((expect, setup.unwrap_or_default()))
    }

    pub(super) fn expect(&self, e: &Spanned<RawExpect>) -> Result<Expect> {
        let raw = e.get_ref();
        let refused = match (raw.outcome.as_ref(), raw.message.as_ref()) {
            (None, None) => None,
            (Some(o), m) if o.get_ref() == "installed" => {
                if let Some(m) = m {
                    return Err(self.loc.err(
                        m,
                        "message belongs to outcome = \"refused\": an installed entry has no refusal message",
                    ));
                }
                None
            }
            (Some(o), Some(m)) if o.get_ref() == "refused" => Some(self.text(m, "message")?),
            (Some(o), None) if o.get_ref() == "refused" => {
                return Err(self.loc.err(
                    o,
                    "outcome = \"refused\" needs message = \"...\": the text the refusal must say",
                ))
            }
            (Some(o), _) => {
                return Err(self.loc.err(
                    o,
                    format!(
                        "outcome must be \"installed\" or \"refused\", not {:?}",
                        o.get_ref()
                    ),
                ))
            }
            (None, Some(m)) => {
                return Err(self.loc.err(m, "message needs outcome = \"refused\""));
            }
        };
        let expect = Expect {
            refused,
            installs: self.rooted_paths(&raw.installs, "installs")?,
            absent: self.texts(&raw.absent, "absent")?,
            log: self.texts(&raw.log, "log")?,
            holds: self.file_texts(&raw.holds)?,
            lacks: self.file_texts(&raw.lacks)?,
            executable: self.rooted_paths(&raw.executable, "executable")?,
        };
        if expect.refused.is_some() {
            let installed = [
                ("installs", raw.installs.first().map(|v| self.loc.of(v))),
                ("absent", raw.absent.first().map(|v| self.loc.of(v))),
                ("holds", raw.holds.first().map(|v| self.loc.of(v))),
                ("lacks", raw.lacks.first().map(|v| self.loc.of(v))),
                ("executable", raw.executable.first().map(|v| self.loc.of(v))),
            ];
            if let Some((field, Some(at))) = installed.into_iter().find(|(_, at)| at.is_some()) {
                return Err(crate::base::error::Error::input(
                    at,
                    format!("{field}: a refused entry installs nothing (only log goes with outcome = \"refused\")"),
                ));
            }
        }
        if expect.check_names().is_empty() {
            return Err(self.loc.err(
                e,
                "expect asks for nothing: set outcome = \"refused\" with a message, or installs, absent, log, holds, lacks or executable",
            ));
        }
        Ok(expect)
    }

    pub(super) fn setup(&self, s: &Spanned<RawSetup>) -> Result<Setup> {
        let raw = s.get_ref();
        let files = raw
            .files
            .iter()
            .map(|f| {
                let f = f.get_ref();
                let path = self.absolute(&f.path, "setup file path")?;
                if f.text.get_ref().contains('\0') {
                    return Err(self
                        .loc
                        .err(&f.text, "setup file text: NUL cannot go through the shell"));
                }
                Ok((path, f.text.get_ref().clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let dirs = raw
            .dirs
            .iter()
            .map(|d| self.absolute(d, "setup directory"))
            .collect::<Result<Vec<_>>>()?;
        let mut env = BTreeMap::new();
        for (name, value) in &raw.env {
            if !ENV_NAME.is_match(name) {
                return Err(self.loc.err(
                    value,
                    format!(
                        "invalid environment variable name {name:?} (want [A-Za-z_][A-Za-z0-9_]*)"
                    ),
                ));
            }
            env.insert(name.clone(), self.text(value, name)?);
        }
        let setup = Setup { files, dirs, env };
        if setup == Setup::default() {
            return Err(self
                .loc
                .err(s, "setup asks for nothing: give files, dirs or env"));
        }
        Ok(setup)
    }

    /// An absolute path of plain names (no `.` or `..`).
    pub(super) fn absolute(&self, value: &Spanned<String>, what: &str) -> Result<String> {
        let v = value.get_ref();
        match v.strip_prefix('/') {
            Some(rest) if names::RELATIVE_PATH.is_match(rest) => Ok(v.clone()),
            _ => Err(self.loc.err(
                value,
                format!("{what} {v:?} must be an absolute path of plain names (no . or ..)"),
            )),
        }
    }

    /// A path below the root, as the installed file lists name it: relative, plain names.
    fn rooted_paths(&self, values: &[Spanned<String>], what: &str) -> Result<Vec<String>> {
        values
            .iter()
            .map(|v| {
                self.loc.matching(
                    v,
                    &names::RELATIVE_PATH,
                    &format!("{what} path (relative to the root, plain names, no . or ..)"),
                )
            })
            .collect()
    }

    pub(super) fn texts(&self, values: &[Spanned<String>], what: &str) -> Result<Vec<String>> {
        values.iter().map(|v| self.text(v, what)).collect()
    }

    /// A text to look for: not empty (it would match anything), one line (logs are searched line
    /// by line), no NUL (it goes through the shell).
    pub(super) fn text(&self, value: &Spanned<String>, what: &str) -> Result<String> {
        let v = value.get_ref();
        if v.is_empty() || v.contains(['\n', '\0']) {
            return Err(self.loc.err(
                value,
                format!("{what}: want one line of text, not empty, without NUL"),
            ));
        }
        Ok(v.clone())
    }

    fn file_texts(&self, values: &[Spanned<RawFileText>]) -> Result<Vec<FileText>> {
        values
            .iter()
            .map(|ft| {
                let raw = ft.get_ref();
                Ok(FileText {
                    file: self
                        .rooted_paths(std::slice::from_ref(&raw.file), "file")?
                        .remove(0),
                    text: self.text(&raw.text, "text")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
