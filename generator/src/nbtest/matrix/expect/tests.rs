use super::super::tests::{fails_at, good, line_of, parse};
use super::super::*;

/// The fixture entry of GOOD with `extra` lines added.
fn with_entry_lines(extra: &str) -> String {
    good().replacen(
        "use = [\"smp\"]\n",
        &format!("use = [\"smp\"]\n{extra}\n"),
        1,
    )
}

#[test]
fn expectations_setup_and_fixture_layouts_parse() {
    let text = with_entry_lines(
        r#"expect = { installs = ["lib/modules/x.ko"], absent = ["intermodule"], log = ["not confirmed"], holds = [{ file = "etc/a", text = "b" }], lacks = [{ file = "etc/a", text = "c" }] }
setup = { files = [{ path = "/etc/qla2xxx.conf", text = "x\n" }], dirs = ["/etc/d"], env = { KBUILD_OUTPUT = "/usr/src/kbuild" } }"#,
    );
    let m = parse(&text).unwrap();
    let x = m.entries[0].expect.as_ref().unwrap();
    assert_eq!(
        x.check_names(),
        ["installs", "absent", "log", "holds", "lacks"]
    );
    assert_eq!(x.files(), ["etc/a"]);
    let s = &m.entries[0].setup;
    assert_eq!(
        s.files,
        [("/etc/qla2xxx.conf".to_string(), "x\n".to_string())]
    );
    assert_eq!(s.env["KBUILD_OUTPUT"], "/usr/src/kbuild");
    let text = with_entry_lines(
        r#"expect = { outcome = "refused", message = "For a 2.4 kernel", log = ["x"] }"#,
    );
    let x = parse(&text).unwrap().entries[0].expect.clone().unwrap();
    assert_eq!(x.refused.as_deref(), Some("For a 2.4 kernel"));
    assert_eq!(x.check_names(), ["refused", "log"]);
    assert!(parse(&good()).unwrap().entries[0].expect.is_none());
    let split = good().replace(
        "intermodule = \"built-patched\" }",
        "intermodule = \"built-patched\", split = { src = \"/usr/src/linux-2.6.16\", out = \"/usr/src/linux\" }, drop_config = [\"CONFIG_CHR_DEV_SG\"] }",
    );
    let Kernel::Fixture(f) = &parse(&split).unwrap().entries[0].kernel else {
        panic!()
    };
    assert_eq!(
        f.make_kernel_args()[3],
        "split:/usr/src/linux-2.6.16:/usr/src/linux"
    );
    assert_eq!(f.drop_config, ["CONFIG_CHR_DEV_SG"]);
    let set = good().replace(
        "intermodule = \"built-patched\" }",
        "intermodule = \"built-patched\", set_config = [\"CONFIG_SCSI_QLA2XXX=m\", \"CONFIG_LOCALVERSION=\\\"-x\\\"\"] }",
    );
    let Kernel::Fixture(f) = &parse(&set).unwrap().entries[0].kernel else {
        panic!()
    };
    assert_eq!(
        f.set_config,
        ["CONFIG_SCSI_QLA2XXX=m", "CONFIG_LOCALVERSION=\"-x\""]
    );
}

/// (lines added to the fixture entry, error on the line holding this needle, message part)
const BAD_EXPECT: &[(&str, &str, &str)] = &[
    (
        "expect = { outcome = \"refused\" }",
        "expect",
        "needs message",
    ),
    (
        "expect = { outcome = \"broken\", message = \"m\" }",
        "expect",
        "\"installed\" or \"refused\"",
    ),
    (
        "expect = { message = \"m\" }",
        "expect",
        "message needs outcome = \"refused\"",
    ),
    (
        "expect = { outcome = \"installed\", message = \"m\" }",
        "expect",
        "belongs to outcome = \"refused\"",
    ),
    (
        "expect = { outcome = \"refused\", message = \"m\", installs = [\"a\"] }",
        "expect",
        "a refused entry installs nothing",
    ),
    (
        "expect = { outcome = \"refused\", message = \"m\", executable = [\"a\"] }",
        "expect",
        "executable: a refused entry",
    ),
    (
        "expect = { executable = [\"/usr/sbin/a\"] }",
        "expect",
        "invalid executable path",
    ),
    (
        "expect = { outcome = \"refused\", message = \"\" }",
        "expect",
        "want one line of text",
    ),
    (
        "expect = { installs = [\"/lib/a.ko\"] }",
        "expect",
        "invalid installs path",
    ),
    (
        "expect = { installs = [\"lib/../a.ko\"] }",
        "expect",
        "invalid installs path",
    ),
    (
        "expect = { log = [\"two\\nlines\"] }",
        "expect",
        "want one line of text",
    ),
    (
        "expect = { holds = [{ file = \"etc/a\" }] }",
        "expect",
        "missing field `text`",
    ),
    (
        "expect = { holds = [{ file = \"etc/a\", text = \"t\", colour = 1 }] }",
        "expect",
        "unknown field",
    ),
    ("expect = { colour = \"red\" }", "expect", "unknown field"),
    ("expect = {}", "expect", "expect asks for nothing"),
    ("setup = {}", "setup", "setup asks for nothing"),
    (
        "setup = { files = [{ path = \"etc/x\", text = \"t\" }] }",
        "setup",
        "must be an absolute path",
    ),
    (
        "setup = { dirs = [\"/etc/../x\"] }",
        "setup",
        "must be an absolute path",
    ),
    (
        "setup = { env = { \"A-B\" = \"x\" } }",
        "setup",
        "invalid environment variable name",
    ),
    (
        "setup = { files = [{ path = \"/etc/x\", text = \"a\\u0000b\" }] }",
        "setup",
        "NUL cannot go through the shell",
    ),
    (
        "setup = { env = { A = \"x\\ny\" } }",
        "setup",
        "want one line of text",
    ),
    ("config = { atoms = [] }", "config = {", "config asks for nothing"),
    (
        "config = { atoms = [\"sys-block/q-8\"] }",
        "config = {",
        "invalid package atom",
    ),
    (
        "expect = { outcome = \"refused\", message = \"m\" }\nconfig = { atoms = [\"sys-block/q\"] }",
        "config = {",
        "a refused entry merges none",
    ),
    (
        "config = { atoms = [\"sys-block/q\"], refused = \"\" }",
        "config = {",
        "want one line of text",
    ),
    (
        "refuse_distfile = \"d.tar\"\nexpect = { outcome = \"refused\", message = \"m\" }",
        "refuse_distfile",
        "exclude each other",
    ),
];

#[test]
fn bad_expectations_and_setup_name_their_line() {
    for (extra, needle, part) in BAD_EXPECT {
        let text = with_entry_lines(extra);
        let msg = fails_at(&text, line_of(&text, needle));
        assert!(msg.contains(part), "{extra}: {msg}");
    }
}

#[test]
fn bad_fixture_options_name_their_line() {
    let kernel_cases: &[(&str, &str)] = &[
        ("layout = \"half\"", "\"prepared\" or \"unprepared\""),
        (
            "layout = \"unprepared\", split = { src = \"/a\", out = \"/b\" }",
            "exclude each other",
        ),
        (
            "split = { src = \"/usr/src\", out = \"/usr/src/linux\" }",
            "neither inside the other",
        ),
        (
            "split = { src = \"a\", out = \"/b\" }",
            "split src \"a\" must be an absolute path",
        ),
        ("split = { src = \"/a\" }", "missing field `out`"),
        (
            "drop_config = [\"CHR_DEV_SG\"]",
            "invalid drop_config option",
        ),
        (
            "set_config = [\"CONFIG_SCSI=maybe\"]",
            "invalid set_config line",
        ),
        (
            "set_config = [\"CONFIG_X=\\\"a\\nb\\\"\"]",
            "invalid set_config line",
        ),
    ];
    for (extra, part) in kernel_cases {
        let text = good().replace(
            "intermodule = \"built-patched\" }",
            &format!("intermodule = \"built-patched\", {extra} }}"),
        );
        let msg = fails_at(&text, line_of(&text, "kernel = { fixture"));
        assert!(msg.contains(part), "{extra}: {msg}");
    }
}
