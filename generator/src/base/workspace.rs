//! Locates the nbgen workspace with cargo_metadata and reads the overlay's identity from
//! `[workspace.metadata.nbgen]` in the root Cargo.toml.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::base::error::{Error, Result};

/// Who and what the overlay is: written into layout.conf, metadata.xml, repositories.xml and headers.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub sources: Vec<Source>,
    pub owner: Owner,
    /// The copyright line of generated ebuilds and eclasses, fixed here so output never depends on
    /// the clock.
    pub copyright: String,
    /// The spec's path, relative to the workspace root.
    pub spec: PathBuf,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub name: String,
    pub email: String,
}

/// The workspace nbgen works on: its root directory and the overlay identity.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub identity: Identity,
}

impl Workspace {
    /// Finds the workspace that contains `start` (or the one `manifest_path` names).
    pub fn locate(manifest_path: Option<&Path>) -> Result<Self> {
        let mut cmd = cargo_metadata::MetadataCommand::new();
        cmd.no_deps();
        if let Some(path) = manifest_path {
            cmd.manifest_path(path);
        }
        let meta = cmd.exec().map_err(|e| {
            Error::Workspace(format!(
                "cannot read the Cargo workspace (run nbgen inside the nb-overlay checkout, or pass --manifest-path): {e}"
            ))
        })?;
        let root = meta.workspace_root.into_std_path_buf();
        let manifest = root.join("Cargo.toml");
        let table = meta.workspace_metadata.get("nbgen").ok_or_else(|| {
            Error::input(
                manifest.display().to_string(),
                "no [workspace.metadata.nbgen] table: it must name the overlay (name, description, homepage, sources, owner, copyright, spec)",
            )
        })?;
        let identity = Identity::deserialize(table).map_err(|e| {
            Error::input(
                format!("{} [workspace.metadata.nbgen]", manifest.display()),
                e.to_string(),
            )
        })?;
        Ok(Workspace { root, identity })
    }

    pub fn spec_path(&self) -> PathBuf {
        self.root.join(&self.identity.spec)
    }

    pub fn overlay_dir(&self) -> PathBuf {
        self.root.join("overlay")
    }

    pub fn patches_dir(&self) -> PathBuf {
        self.root.join("patches")
    }

    pub fn fragments_dir(&self) -> PathBuf {
        self.root.join("kernel-fragments")
    }
}

impl Identity {
    /// URLs that are still the reserved `.invalid` placeholders, so `regen` can say so.
    pub fn placeholders(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: &str, value: &str| {
            if value.contains(".invalid") {
                out.push(what.to_string());
            }
        };
        check("homepage", &self.homepage);
        check("owner.email", &self.owner.email);
        for s in &self.sources {
            check("sources.url", &s.url);
        }
        out
    }
}
