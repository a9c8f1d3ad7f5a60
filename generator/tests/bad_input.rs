//! Bad input: each case exits 2, names the file and line (or field), and leaves overlay/ as it was.

#[macro_use]
mod common;

use common::Ws;
use nbgen::base::workspace::Workspace;
use nbgen::regen::tree;

/// A small valid spec, so that the line numbers below stay put whatever the real spec becomes.
const SPEC: &str = concat!(
    lib_compat_spec_head!(),
    r#"name = "lib-compat-1.4.tar.bz2"
uri = "mirror://gentoo/lib-compat-1.4.tar.bz2"
size = 3164171
sha256 = "277ddddcf0e3aadd8b4e27b550a67db0466c350f501953c85df2ad3abbcd195b"
source = "a historical Manifest"
"#
);

const SPEC_FILE: &str = "generator/spec.toml";

/// Generates a good overlay from SPEC, then gives regen (and regen --check) the spec `bad`, and
/// checks both refuse with exit 2 and a message holding every piece of `expect`, touching nothing.
fn refused(bad: &str, expect: &[&str]) {
    let ws = Ws::copy();
    ws.set_spec(SPEC);
    ws.run(&["regen"], 0);
    let before = tree::read(&ws.overlay()).unwrap();
    let entries = ws.top_entries();
    ws.set_spec(bad);
    for args in [&["regen"][..], &["regen", "--check"][..]] {
        let (_, err) = ws.run(args, 2);
        for e in expect {
            assert!(err.contains(e), "expected {e:?} in:\n{err}");
        }
    }
    assert_eq!(
        tree::read(&ws.overlay()).unwrap(),
        before,
        "overlay changed"
    );
    assert_eq!(
        ws.top_entries(),
        entries,
        "something was left beside the overlay"
    );
}

fn with(from: &str, to: &str) -> String {
    assert!(SPEC.contains(from), "SPEC has no {from:?}");
    SPEC.replacen(from, to, 1)
}

fn at(line: usize) -> String {
    format!("{SPEC_FILE}:{line}:")
}

/// A spec refused by the loader: what is wrong, the spec, and what the error must say.
struct Case {
    what: &'static str,
    spec: String,
    expect: Vec<String>,
}

fn case(what: &'static str, spec: &str, expect: &[&str]) -> Case {
    Case {
        what,
        spec: spec.to_string(),
        expect: expect.iter().map(|e| e.to_string()).collect(),
    }
}

/// Each kind of bad spec, checked against the loader in process: an input error (exit 2) whose
/// message names the line and says what is wrong. Three go through the binary as well (above):
/// exit 2 for regen and regen --check, and the overlay untouched.
fn cases() -> Vec<Case> {
    vec![
        case(
            "unknown field",
            &with(
                "license = \"GPL-2\"",
                "license = \"GPL-2\"\nlicence = \"GPL-2\"",
            ),
            &[&at(8), "unknown field `licence`"],
        ),
        case(
            "invalid license name among several",
            &with("license = \"GPL-2\"", "license = \"GPL-2 Q/Logic\""),
            &[&at(7), "invalid license name \"Q/Logic\""],
        ),
        case(
            "empty license",
            &with("license = \"GPL-2\"", "license = \" \""),
            &[&at(7), "license is empty"],
        ),
        case(
            "duplicate version",
            &with(
                "version = \"1.4\"\n",
                "version = \"1.4\"\n\n[[package.version]]\nversion = \"1.4\"\n",
            ),
            &[&at(14), "duplicate version 1.4"],
        ),
        case(
            "invalid package name",
            &with("name = \"lib-compat\"", "name = \"lib compat\""),
            &[&at(3), "invalid package name"],
        ),
        case(
            "package name that ends like a version",
            &with("name = \"lib-compat\"", "name = \"lib-compat-1\""),
            &[&at(3), "looks like a version"],
        ),
        case(
            "invalid category name",
            &with("category = \"sys-libs\"", "category = \"-sys\""),
            &[&at(2), "invalid category name"],
        ),
        case(
            "invalid version",
            &with("version = \"1.4\"", "version = \"1.4-beta\""),
            &[&at(11), "invalid version \"1.4-beta\""],
        ),
        case(
            "invalid keyword",
            &with("[\"~x86\"]", "[\"~x86 amd64\"]"),
            &[&at(8), "invalid keyword"],
        ),
        case(
            "missing template",
            &with("ebuild/lib-compat.ebuild", "ebuild/nonexistent.ebuild"),
            &[&at(4), "no template \"ebuild/nonexistent.ebuild\""],
        ),
        case(
            "missing patch file",
            &format!("{SPEC}{FILE_ENTRY}patch = \"no-such.patch\"\n"),
            &[&at(22), "cannot read patches/no-such.patch"],
        ),
        case(
            "missing fragment file",
            &format!("{SPEC}{FILE_ENTRY}fragment = \"no-such.config\"\n"),
            &[&at(22), "cannot read kernel-fragments/no-such.config"],
        ),
        case(
            "verbatim name that leaves the directory",
            &format!("{SPEC}{FILE_ENTRY}verbatim = \"../overlay/scripts/nb-local-pin\"\n"),
            &[&at(22), "invalid file name"],
        ),
        case(
            "patch name that leaves the directory",
            &format!("{SPEC}{FILE_ENTRY}patch = \"../Cargo.toml\"\n"),
            &[&at(22), "invalid file name"],
        ),
        case(
            "digest of wrong length",
            &with("abbcd195b\"", "abbcd195\""),
            &[
                &at(17),
                "SHA256 digest of lib-compat-1.4.tar.bz2 must be 64 lowercase hex digits, got 63",
            ],
        ),
        case(
            "MD5 digest of wrong length",
            &with(
                "size = 3164171\n",
                "size = 3164171\nmd5 = \"e4c1617d737098f699c8722b88b5a67\"\n",
            ),
            &[
                &at(17),
                "MD5 digest of lib-compat-1.4.tar.bz2 must be 32 lowercase hex digits, got 31",
            ],
        ),
        case(
            "digest without source",
            &with("source = \"a historical Manifest\"\n", ""),
            &[&at(14), "no source saying where they come from"],
        ),
        case(
            "uri that renames the download",
            &with(
                "uri = \"mirror://gentoo/lib-compat-1.4.tar.bz2\"",
                "uri = \"mirror://gentoo/other.tar.bz2\"",
            ),
            &[&at(14), "does not end in lib-compat-1.4.tar.bz2"],
        ),
        case(
            "unknown kernel series",
            &with(
                "version = \"1.4\"\n",
                "version = \"1.4\"\nkernel_series = \"2.2\"\n",
            ),
            &[&at(12), "kernel_series \"2.2\" is neither"],
        ),
        case(
            "missing kernel fragment",
            &with(
                "version = \"1.4\"\n",
                &format!("{KERNEL_VERSION}kernel_fragments = [\"9.9.config\"]\n"),
            ),
            &[&at(13), "cannot read kernel-fragments/9.9.config"],
        ),
    ]
}

#[test]
fn every_bad_spec_is_refused_with_its_location() {
    let ws = Ws::copy();
    let workspace = Workspace::locate(Some(&ws.path().join("Cargo.toml"))).unwrap();
    let cases = cases();
    assert!(cases.len() > 15, "{} cases", cases.len());
    for c in cases {
        ws.set_spec(&c.spec);
        let err = match nbgen::regen::generate(&workspace) {
            Ok(_) => panic!("{}: accepted", c.what),
            Err(e) => e,
        };
        assert_eq!(err.exit_code(), 2, "{}: {err}", c.what);
        let text = err.to_string();
        for e in &c.expect {
            assert!(
                text.contains(e.as_str()),
                "{}: expected {e:?} in:\n{text}",
                c.what
            );
        }
    }
}

#[test]
fn malformed_toml() {
    refused(
        &with("name = \"lib-compat\"", "name = \"lib-compat"),
        &[&at(3)],
    );
}

#[test]
fn duplicate_package() {
    let twice = format!(
        "{SPEC}\n{}",
        SPEC.split("[[package.version]]").next().unwrap()
    ) + "[[package.version]]\nversion = \"1\"\n";
    refused(&twice, &[&at(22), "duplicate package sys-libs/lib-compat"]);
}

const FILE_ENTRY: &str = "\n[[package.file]]\ndest = \"x.patch\"\n";

#[test]
fn file_with_two_origins() {
    refused(
        &format!("{SPEC}{FILE_ENTRY}patch = \"a\"\nfragment = \"b\"\n"),
        &[
            &at(21),
            "exactly one of template, verbatim, patch or fragment",
        ],
    );
}

#[test]
fn missing_verbatim_file() {
    refused(
        &format!("{SPEC}{FILE_ENTRY}verbatim = \"netbackup-support/no-such-script\"\n"),
        &[
            &at(22),
            "no verbatim file \"netbackup-support/no-such-script\"",
        ],
    );
}

#[test]
fn digest_of_wrong_alphabet() {
    refused(&with("277dddd", "277DDDD"), &[&at(17), "with non-hex ones"]);
}

#[test]
fn template_variable_missing_from_spec() {
    // The netbackup-support templates need vars.sysctl and vars.rootpath; strict mode refuses.
    let spec = with("ebuild/lib-compat.ebuild", "ebuild/netbackup-support.ebuild")
        + "\n[[package.file]]\ndest = \"99netbackup\"\ntemplate = \"files/netbackup-support/99netbackup\"\n";
    refused(
        &spec,
        &[
            "template files/netbackup-support/99netbackup",
            "line 3, col 11",
        ],
    );
}

#[test]
fn cargo_toml_without_nbgen_table() {
    let ws = Ws::copy();
    ws.set_spec(SPEC);
    std::fs::write(ws.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let (_, err) = ws.run(&["regen"], 2);
    assert!(
        err.contains("Cargo.toml: no [workspace.metadata.nbgen] table"),
        "{err}"
    );
    assert!(!ws.overlay().exists());
}

#[test]
fn cargo_toml_with_unknown_identity_field() {
    let ws = Ws::copy();
    let cargo = std::fs::read_to_string(ws.path().join("Cargo.toml")).unwrap();
    let cargo = cargo.replace(
        "[workspace.metadata.nbgen]\n",
        "[workspace.metadata.nbgen]\nnmae = \"x\"\n",
    );
    std::fs::write(ws.path().join("Cargo.toml"), cargo).unwrap();
    let (_, err) = ws.run(&["regen"], 2);
    assert!(
        err.contains("[workspace.metadata.nbgen]: unknown field `nmae`"),
        "{err}"
    );
}

#[test]
fn unreadable_spec_names_the_path() {
    let ws = Ws::copy();
    std::fs::remove_file(ws.spec_path()).unwrap();
    let (_, err) = ws.run(&["regen"], 3);
    assert!(err.contains("generator/spec.toml"), "{err}");
}

#[test]
fn bad_command_line_is_a_usage_error() {
    let ws = Ws::copy();
    let (_, err) = ws.run(&["regen", "--no-such-flag"], 2);
    assert!(
        err.contains("unexpected argument '--no-such-flag'"),
        "{err}"
    );
}

#[test]
fn description_over_80_characters() {
    let long = "x".repeat(81);
    refused(
        &with(
            "description = \"Compatibility libraries\"",
            &format!("description = \"{long}\""),
        ),
        &[&at(5), "description is 81 characters; keep it to 80"],
    );
}

const KERNEL_VERSION: &str = "version = \"1.4\"\nkernel_series = \"2.6\"\n";

#[test]
fn kernel_fragment_option_without_a_reason() {
    let ws = Ws::copy();
    ws.set_spec(SPEC);
    ws.run(&["regen"], 0);
    let before = tree::read(&ws.overlay()).unwrap();
    std::fs::write(
        ws.path().join("kernel-fragments/bad.config"),
        "# why: a reason\nCONFIG_A=y\nCONFIG_B=m\n",
    )
    .unwrap();
    ws.set_spec(&with(
        "version = \"1.4\"\n",
        &format!("{KERNEL_VERSION}kernel_fragments = [\"bad.config\"]\n"),
    ));
    let (_, err) = ws.run(&["regen"], 2);
    assert!(
        err.contains("kernel-fragments/bad.config:3: CONFIG_B has no `# why:` line"),
        "{err}"
    );
    assert_eq!(tree::read(&ws.overlay()).unwrap(), before);
}

#[test]
fn kernel_fragment_that_is_not_a_config() {
    let ws = Ws::copy();
    ws.set_spec(SPEC);
    std::fs::write(
        ws.path().join("kernel-fragments/bad.config"),
        "obj-y += sched.o\n",
    )
    .unwrap();
    ws.set_spec(&with(
        "version = \"1.4\"\n",
        &format!("{KERNEL_VERSION}kernel_fragments = [\"bad.config\"]\n"),
    ));
    let (_, err) = ws.run(&["regen"], 2);
    assert!(err.contains("kernel-fragments/bad.config:1:"), "{err}");
    assert!(!ws.overlay().exists());
}

#[test]
fn invalid_utf8_in_the_spec_is_bad_input_with_its_position() {
    let ws = Ws::copy();
    ws.set_spec(SPEC);
    ws.run(&["regen"], 0);
    let before = tree::read(&ws.overlay()).unwrap();
    let mut bytes = SPEC.as_bytes().to_vec();
    // Line 2 is `category = "sys-libs"`: a Latin-1 byte inside the string.
    let at_byte = SPEC.find("sys-libs").unwrap() + 3;
    bytes[at_byte] = 0xe9;
    std::fs::write(ws.spec_path(), &bytes).unwrap();
    for args in [&["regen"][..], &["regen", "--check"][..]] {
        let (_, err) = ws.run(args, 2);
        assert!(
            err.contains(&format!(
                "{SPEC_FILE}:2:16: invalid UTF-8 at byte {at_byte} "
            )),
            "{err}"
        );
    }
    assert_eq!(tree::read(&ws.overlay()).unwrap(), before);
}

#[test]
fn invalid_utf8_in_a_matrix_is_bad_input_with_its_position() {
    let ws = Ws::copy();
    let matrix = ws.path().join("bad-matrix.toml");
    std::fs::write(&matrix, b"# a comment\n# caf\xc3\xa9 ok, then \xff\n").unwrap();
    let results = ws.path().join("results");
    let (_, err) = ws.run(
        &[
            "test",
            "--matrix",
            "bad-matrix.toml",
            "--results",
            results.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains("bad-matrix.toml:2:18: invalid UTF-8 at byte 29 "),
        "{err}"
    );
    assert!(!results.exists(), "nothing is written for bad input");
}
