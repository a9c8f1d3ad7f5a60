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
}

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

/// The hashes nbgen knows. Each format carries its own set: a Manifest2 line `MANIFEST2` (SHA1,
/// SHA256 and RMD160 are what portage 2.1.x verifies, SHA1 alone without pycrypto; BLAKE2B and
/// SHA512 what today's portage does), a Manifest1 line `MANIFEST1` and a `files/digest-${PF}` line
/// `DIGEST` (portage 2.0 reads only MD5 and SHA1 there). `ALL` is in the order portage sorts hash
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Blake2b,
    Md5,
    Rmd160,
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    pub const ALL: [Hash; 6] = [
        Hash::Blake2b,
        Hash::Md5,
        Hash::Rmd160,
        Hash::Sha1,
        Hash::Sha256,
        Hash::Sha512,
    ];

    /// A Manifest2 line's hashes. No MD5: no portage ever read it from a Manifest2 line.
    pub const MANIFEST2: [Hash; 5] = [
        Hash::Blake2b,
        Hash::Rmd160,
        Hash::Sha1,
        Hash::Sha256,
        Hash::Sha512,
    ];

    /// The Manifest1 lines of a file, as portage 2.1 wrote them beside the Manifest2 ones
    /// (MANIFEST1_HASH_FUNCTIONS of its portage_const.py). Portage 2.0 checks the MD5 line.
    pub const MANIFEST1: [Hash; 3] = [Hash::Md5, Hash::Rmd160, Hash::Sha256];

    /// The lines of a distfile in `files/digest-${PF}`: portage 2.1's three, and SHA1, which is what
    /// portage 2.0 verifies where no MD5 is known.
    pub const DIGEST: [Hash; 4] = [Hash::Md5, Hash::Rmd160, Hash::Sha1, Hash::Sha256];

    /// The name on a Manifest line.
    pub fn label(self) -> &'static str {
        match self {
            Hash::Blake2b => "BLAKE2B",
            Hash::Md5 => "MD5",
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
            Hash::Md5 => "md5",
            Hash::Rmd160 => "rmd160",
            Hash::Sha1 => "sha1",
            Hash::Sha256 => "sha256",
            Hash::Sha512 => "sha512",
        }
    }

    /// Length of the digest in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            Hash::Md5 => 32,
            Hash::Rmd160 | Hash::Sha1 => 40,
            Hash::Sha256 => 64,
            Hash::Blake2b | Hash::Sha512 => 128,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Digests {
    pub blake2b: Option<String>,
    pub md5: Option<String>,
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
            Hash::Md5 => &self.md5,
            Hash::Rmd160 => &self.rmd160,
            Hash::Sha1 => &self.sha1,
            Hash::Sha256 => &self.sha256,
            Hash::Sha512 => &self.sha512,
        }
    }

    fn slot_mut(&mut self, hash: Hash) -> &mut Option<String> {
        match hash {
            Hash::Blake2b => &mut self.blake2b,
            Hash::Md5 => &mut self.md5,
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
