//! The matrix file as written: every table rejects unknown fields, and values keep their position
//! so that validation can name the line.

use serde::Deserialize;
use toml::Spanned;

use super::Intermodule;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatrix {
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    /// The stage of every entry that names none of its own.
    pub(super) stage: Option<Spanned<RawStage>>,
    /// A workspace script that writes stand-in distfiles into the directory it is given.
    pub(super) stand_ins: Option<Spanned<String>>,
    /// A portage tree snapshot for stages that carry none (Gentoo stage3 tarballs).
    pub(super) snapshot: Option<Spanned<RawStage>>,
    /// Stages every entry runs on, each entry once per variant.
    #[serde(default)]
    pub(super) variant: Vec<Spanned<RawVariant>>,
    #[serde(default)]
    pub(super) entry: Vec<RawEntry>,
}

/// One stage of a matrix whose entries run on several: the entries are built once per variant,
/// each named `<entry>-<variant>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    pub(super) name: Spanned<String>,
    pub(super) stage: Spanned<RawStage>,
    /// FEATURES portage must have on in this stage, added to each entry's own.
    #[serde(default)]
    pub(super) require_features: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) packages: Option<Vec<Spanned<String>>>,
    pub(super) accept_keywords: Option<Spanned<String>>,
    #[serde(default, rename = "use")]
    pub(super) use_flags: Vec<Spanned<String>>,
    pub(super) profile: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub(super) url: Option<Spanned<String>>,
    pub(super) path: Option<Spanned<String>>,
    pub(super) script: Option<Spanned<String>>,
    /// Arguments of a script stage (testkit/make-era-stage's portage version and pycrypto choice).
    pub(super) args: Option<Vec<Spanned<String>>>,
    pub(super) sha512: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKernel {
    pub(super) fixture: Option<RawFixture>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) sha512: Option<Spanned<String>>,
    /// A tarball in the shared directory (ci/shared-inputs.toml holds its digest), with the
    /// toolchain compatibility script that testkit/real-kernel/prepare applies to the test copy.
    pub(super) path: Option<Spanned<String>>,
    pub(super) compat: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDistfile {
    pub(super) name: Spanned<String>,
    pub(super) path: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecks {
    #[serde(default)]
    pub(super) depmod: bool,
    pub(super) load_order: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFixture {
    pub(super) version: Spanned<String>,
    pub(super) smp: bool,
    pub(super) intermodule: Intermodule,
    /// make-kernel's LAYOUT: `prepared` (the default) or `unprepared`; `split` is given apart.
    pub(super) layout: Option<Spanned<String>>,
    pub(super) split: Option<Spanned<RawSplit>>,
    /// .config lines (`NAME=...`) removed after make-kernel wrote the tree.
    #[serde(default)]
    pub(super) drop_config: Vec<Spanned<String>>,
    /// .config lines (`CONFIG_NAME=value`) set after make-kernel wrote the tree.
    #[serde(default)]
    pub(super) set_config: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub(super) name: Spanned<String>,
    pub(super) kernel: Spanned<RawKernel>,
    #[serde(default)]
    pub(super) fragments: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) patches: Vec<Spanned<String>>,
    pub(super) packages: Option<Vec<Spanned<String>>>,
    #[serde(default, rename = "use")]
    pub(super) use_flags: Vec<Spanned<String>>,
    pub(super) accept_keywords: Option<Spanned<String>>,
    pub(super) profile: Option<Spanned<String>>,
    pub(super) fixture: Option<Spanned<bool>>,
    pub(super) stage: Option<Spanned<RawStage>>,
    #[serde(default)]
    pub(super) require_features: Vec<Spanned<String>>,
    pub(super) refuse_distfile: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) distfiles: Vec<Spanned<RawDistfile>>,
    pub(super) checks: Option<Spanned<RawChecks>>,
    pub(super) expect: Option<Spanned<RawExpect>>,
    pub(super) setup: Option<Spanned<RawSetup>>,
    pub(super) config: Option<Spanned<RawConfig>>,
    #[serde(default)]
    pub(super) steps: Vec<Spanned<RawStep>>,
    pub(super) overlay: Option<Spanned<String>>,
}

/// A command run after the emerges, and what it must end in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) name: Spanned<String>,
    pub(super) run: Spanned<String>,
    pub(super) exit: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) says: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) lacks: Vec<Spanned<String>>,
}

/// What an entry's emerges must end in, beyond "every package merged".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    pub(super) outcome: Option<Spanned<String>>,
    pub(super) message: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) installs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) absent: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) log: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) holds: Vec<Spanned<RawFileText>>,
    #[serde(default)]
    pub(super) lacks: Vec<Spanned<RawFileText>>,
    #[serde(default)]
    pub(super) executable: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFileText {
    pub(super) file: Spanned<String>,
    pub(super) text: Spanned<String>,
}

/// What the container gets before the emerges: files, directories and environment variables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSetup {
    #[serde(default)]
    pub(super) files: Vec<Spanned<RawSetupFile>>,
    #[serde(default)]
    pub(super) dirs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) env: std::collections::BTreeMap<String, Spanned<String>>,
}

/// `emerge --config` runs after the emerges: the atoms in order, and the text each must be
/// refused with, if they must be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) atoms: Vec<Spanned<String>>,
    pub(super) refused: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSetupFile {
    pub(super) path: Spanned<String>,
    pub(super) text: Spanned<String>,
}

/// A fixture tree built with `make O=`: the source and output trees and where they are mounted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSplit {
    pub(super) src: Spanned<String>,
    pub(super) out: Spanned<String>,
    /// false: only the output tree is mounted (the sources it names are missing).
    pub(super) mount_src: Option<bool>,
}
