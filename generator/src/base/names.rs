//! The name and version rules of PMS (3.1 names, 3.2 versions, 8.2 dependency specifications),
//! one place for the spec's checks (regen/model.rs) and the matrix's (nbtest/matrix.rs). Each
//! rule is a pattern anchored at both ends, built from the pieces below so that a category, a
//! package name or a version means the same in a spec, an atom and a profile path.

use std::sync::LazyLock;

use regex::Regex;

/// PMS 3.1.1: a category name (also a repository, license or slot name).
const CATEGORY: &str = r"[A-Za-z0-9_][A-Za-z0-9+_.-]*";
/// PMS 3.1.2: a package name, without the version-like tail (checked apart, see NAME_VERSION_TAIL).
const PACKAGE: &str = r"[A-Za-z0-9_][A-Za-z0-9+_-]*";
/// PMS 3.2: a version, with an optional revision.
const VERSION: &str = r"[0-9]+(\.[0-9]+)*[a-z]?((_alpha|_beta|_pre|_rc|_p)[0-9]*)*(-r[0-9]+)?";
/// PMS 3.1.4: a USE flag name.
const USE_FLAG: &str = r"[A-Za-z0-9][A-Za-z0-9+_@-]*";
/// PMS 3.1.7: a keyword's architecture.
const ARCH: &str = r"[A-Za-z0-9][A-Za-z0-9_-]*";
/// PMS 3.1.5: a repository name (as profiles/repo_name and repos.conf give it).
const REPO: &str = r"[A-Za-z0-9_][A-Za-z0-9_-]*";
/// A file in a package's files/ or DISTDIR (pkgcheck's rule for distfile names).
const FILE: &str = r"[A-Za-z0-9_][A-Za-z0-9+_.,-]*";

fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).expect("the name patterns are valid")
}

pub static CATEGORY_NAME: LazyLock<Regex> = LazyLock::new(|| anchored(CATEGORY));
pub static PACKAGE_NAME: LazyLock<Regex> = LazyLock::new(|| anchored(PACKAGE));
pub static VERSION_STRING: LazyLock<Regex> = LazyLock::new(|| anchored(VERSION));
/// A package name must not end in a hyphen and what looks like a version (PMS 3.1.2).
pub static NAME_VERSION_TAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("-{VERSION}$")).expect("valid"));
/// An ebuild's KEYWORDS entry: `arch`, `~arch`, `-arch` or `-*`.
pub static KEYWORD: LazyLock<Regex> = LazyLock::new(|| anchored(&format!(r"-\*|[-~]?{ARCH}")));
/// An ACCEPT_KEYWORDS token: `arch`, `~arch`, `*`, `~*`, `**` or `-*`.
pub static ACCEPT_KEYWORD: LazyLock<Regex> =
    LazyLock::new(|| anchored(&format!(r"\*\*|~?\*|-\*|~?{ARCH}")));
pub static LICENSE_NAME: LazyLock<Regex> = LazyLock::new(|| anchored(CATEGORY));
/// An IUSE entry: a flag with an optional default, `+flag` or `-flag`.
pub static IUSE_ENTRY: LazyLock<Regex> = LazyLock::new(|| anchored(&format!("[+-]?{USE_FLAG}")));
/// A USE setting (make.conf, the matrix): a flag, or `-flag` to turn it off.
pub static USE_SETTING: LazyLock<Regex> = LazyLock::new(|| anchored(&format!("-?{USE_FLAG}")));
pub static REPO_NAME: LazyLock<Regex> = LazyLock::new(|| anchored(REPO));
pub static FILE_NAME: LazyLock<Regex> = LazyLock::new(|| anchored(FILE));
/// A path of plain file names, relative, without `.` or `..` components.
pub static RELATIVE_PATH: LazyLock<Regex> =
    LazyLock::new(|| anchored(&format!("{FILE}(/{FILE})*")));
/// A profile below a repository's profiles/, e.g. default/linux/x86.
pub static PROFILE: LazyLock<Regex> =
    LazyLock::new(|| anchored(&format!("{CATEGORY}(/{CATEGORY})*")));
/// A dependency atom as the matrix takes it: `cat/pkg`, or an operator with `cat/pkg-version`
/// (`=` may end in `*`), optionally with `:slot`. The package name matches lazily so that its
/// version-like tail is left to the version.
pub static ATOM: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("{CATEGORY}/{}", PACKAGE.replacen("]*", "]*?", 1));
    anchored(&format!(
        r"(?:({name})|((<=|>=|<|>|~)({name})-{VERSION})|(=({name})-{VERSION}\*?))(:{CATEGORY})?"
    ))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_pms() {
        assert!(CATEGORY_NAME.is_match("sys-libs"));
        assert!(!CATEGORY_NAME.is_match("-sys"));
        assert!(PACKAGE_NAME.is_match("lib-compat"));
        assert!(NAME_VERSION_TAIL.is_match("lib-compat-1"));
        assert!(!NAME_VERSION_TAIL.is_match("lib-compat"));
        assert!(VERSION_STRING.is_match("8.01.07-r1"));
        assert!(!VERSION_STRING.is_match("1.4-beta"));
        assert!(KEYWORD.is_match("~x86") && KEYWORD.is_match("-*") && !KEYWORD.is_match("**"));
        assert!(ACCEPT_KEYWORD.is_match("**") && ACCEPT_KEYWORD.is_match("~amd64"));
        assert!(IUSE_ENTRY.is_match("+sdl") && !USE_SETTING.is_match("+sdl"));
        assert!(USE_SETTING.is_match("-sdl"));
        assert!(PROFILE.is_match("default/linux/x86") && !PROFILE.is_match("../x"));
        assert!(RELATIVE_PATH.is_match("real/linux-2.6.18.tar.xz"));
        assert!(!RELATIVE_PATH.is_match("../real") && !RELATIVE_PATH.is_match("/real"));
    }

    #[test]
    fn atoms_take_operators_versions_and_slots() {
        for ok in [
            "app-backup/netbackup-support",
            ">=sys-block/qla2x00-driver-8",
            "<sys-block/qla2x00-driver-8",
            "~sys-libs/lib-compat-1.4.2",
            "=sys-libs/lib-compat-1.4*",
            "sys-libs/lib-compat:0",
        ] {
            assert!(ATOM.is_match(ok), "{ok}");
        }
        for bad in [
            "lib-compat",
            ">=sys-libs/lib-compat",
            "=sys-libs/lib compat-1",
        ] {
            assert!(!ATOM.is_match(bad), "{bad}");
        }
    }
}
