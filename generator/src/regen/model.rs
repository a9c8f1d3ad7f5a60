//! The validated, typed model of the overlay. Everything the renderer needs is here, already checked:
//! names and versions follow PMS, digests have the right alphabet and length, referenced templates,
//! patches and fragments exist. Nothing is written before this succeeds. The checks themselves,
//! from the spec as written to this model, are in model/validate.rs.

use std::path::PathBuf;

use serde::Serialize;

use crate::base::workspace::Identity;

#[derive(Debug, Serialize)]
pub struct Overlay {
    pub identity: Identity,
    pub categories: Vec<String>,
    /// Sorted by category, then name.
    pub packages: Vec<Package>,
    /// The ebuilds written for every version (FLAVOURS), for the templates that list their EAPIs.
    pub flavours: &'static [Flavour],
}

/// One of the ebuilds written for each version: its EAPI and the revision its file name carries.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Flavour {
    pub eapi: &'static str,
    /// The file name's suffix after the version: "" or "-r1".
    pub revision: &'static str,
    /// True for the ebuild today's package managers take, false for the one portage 2.1 takes.
    pub today: bool,
}

impl Flavour {
    /// The other ebuild of the same version.
    pub fn twin(self) -> Flavour {
        let other = FLAVOURS.iter().find(|f| f.today != self.today);
        *other.expect("FLAVOURS holds one ebuild for portage 2.1 and one for today")
    }
}

/// Every version is written twice. EAPI 0 is the only EAPI portage 2.1 (Gentoo 2006-2007) knows,
/// and it masks every other ("masked by: required EAPI -8, supported EAPI 0"), so it takes the -r0 ebuild.
/// Today's portage cannot install EAPI 0 ebuilds: it makes ED readonly in every EAPI, and the EAPI
/// 0 helpers' `local ED=${D}` then fails (ci/client-tests/today-portage shows it). The same ebuild
/// as EAPI 8, one revision up, is the version it prefers.
pub const FLAVOURS: [Flavour; 2] = [
    Flavour {
        eapi: "0",
        revision: "",
        today: false,
    },
    Flavour {
        eapi: "8",
        revision: "-r1",
        today: true,
    },
];

#[derive(Debug, Serialize)]
pub struct Package {
    pub category: String,
    pub name: String,
    pub template: String,
    pub description: String,
    pub homepage: String,
    pub source_dir: Option<String>,
    pub license: String,
    pub slot: String,
    pub keywords: Vec<String>,
    pub iuse: Vec<String>,
    pub restrict: Vec<String>,
    pub depend: Vec<String>,
    pub rdepend: Vec<String>,
    pub longdescription: Option<String>,
    /// Sorted by dest.
    pub files: Vec<PackageFile>,
    pub versions: Vec<Version>,
    pub vars: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct Version {
    pub version: String,
    /// The ebuild template: the version's own, or the package's.
    pub template: String,
    pub keywords: Vec<String>,
    pub kernel_series: Option<String>,
    /// CONFIG_CHECK, from the version's kernel fragments.
    pub config_check: Vec<ConfigCheck>,
    /// Sorted by name.
    pub distfiles: Vec<Distfile>,
}

/// One CONFIG_CHECK item in the convention of nb-kernel.eclass (and linux-info before it).
#[derive(Debug, Clone, Serialize)]
pub struct ConfigCheck {
    /// `OPT`, `!OPT`, `~OPT` or `~!OPT`.
    pub token: String,
    /// `ERROR_OPT` or `WARNING_OPT`: the variable holding the message.
    pub message_var: String,
    /// The message for the user, one line (the view wraps and quotes it).
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Distfile {
    pub name: String,
    pub uri: Option<String>,
    pub size: Option<u64>,
    pub digests: Digests,
    pub source: Option<String>,
}

/// The hashes a Manifest line carries: SHA1, SHA256 and RMD160 are what portage 2.1.x verifies
/// (SHA1 alone without pycrypto), BLAKE2B and SHA512 what today's portage does. `ALL` is in the
/// order portage sorts hash names on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Blake2b,
    Rmd160,
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    pub const ALL: [Hash; 5] = [
        Hash::Blake2b,
        Hash::Rmd160,
        Hash::Sha1,
        Hash::Sha256,
        Hash::Sha512,
    ];

    /// The name on a Manifest line.
    pub fn label(self) -> &'static str {
        match self {
            Hash::Blake2b => "BLAKE2B",
            Hash::Rmd160 => "RMD160",
            Hash::Sha1 => "SHA1",
            Hash::Sha256 => "SHA256",
            Hash::Sha512 => "SHA512",
        }
    }

    /// The key in the spec's distfile tables.
    pub fn key(self) -> &'static str {
        match self {
            Hash::Blake2b => "blake2b",
            Hash::Rmd160 => "rmd160",
            Hash::Sha1 => "sha1",
            Hash::Sha256 => "sha256",
            Hash::Sha512 => "sha512",
        }
    }

    /// Length of the digest in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            Hash::Rmd160 | Hash::Sha1 => 40,
            Hash::Sha256 => 64,
            Hash::Blake2b | Hash::Sha512 => 128,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Digests {
    pub blake2b: Option<String>,
    pub rmd160: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub sha512: Option<String>,
}

impl Digests {
    pub fn get(&self, hash: Hash) -> Option<&str> {
        self.slot_ref(hash).as_deref()
    }

    pub fn set(&mut self, hash: Hash, hex: String) {
        *self.slot_mut(hash) = Some(hex);
    }

    fn slot_ref(&self, hash: Hash) -> &Option<String> {
        match hash {
            Hash::Blake2b => &self.blake2b,
            Hash::Rmd160 => &self.rmd160,
            Hash::Sha1 => &self.sha1,
            Hash::Sha256 => &self.sha256,
            Hash::Sha512 => &self.sha512,
        }
    }

    fn slot_mut(&mut self, hash: Hash) -> &mut Option<String> {
        match hash {
            Hash::Blake2b => &mut self.blake2b,
            Hash::Rmd160 => &mut self.rmd160,
            Hash::Sha1 => &mut self.sha1,
            Hash::Sha256 => &mut self.sha256,
            Hash::Sha512 => &mut self.sha512,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PackageFile {
    pub dest: String,
    pub vars: serde_json::Value,
    #[serde(skip)]
    pub origin: FileOrigin,
}

#[derive(Debug, Clone)]
pub enum FileOrigin {
    Template(String),
    /// A verbatim copy of a shipped file, patch or kernel fragment, read at validation time.
    Copy {
        path: PathBuf,
        bytes: Vec<u8>,
    },
}

mod validate;

pub use validate::load;
