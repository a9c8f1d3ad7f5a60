use super::*;
use crate::base::error::EXIT_BAD_INPUT;
use crate::base::names;

/// A workspace root with the fragment, patch and script the test matrices name.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (p, text) in [
        ("kernel-fragments/common.config", "CONFIG_MODULES=y\n"),
        (
            "kernel-fragments/2.6.config",
            "# CONFIG_SCSI_QLA2XXX is not set\n",
        ),
        (
            "patches/kernel-2.6.16-intermodule.patch",
            "--- a/x\n+++ b/x\n",
        ),
        ("testkit/make-stage", "#!/bin/sh\n"),
    ] {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const GOOD: &str = r#"
[defaults]
packages = ["app-backup/netbackup-support", ">=sys-block/qla2x00-driver-8"]
accept_keywords = "~amd64"
use = ["-doc"]
profile = "default/linux/amd64"

[stage]
script = "testkit/make-stage"

[[entry]]
name = "linux-2.6.16-fixture"
kernel = { fixture = { version = "2.6.16", smp = true, intermodule = "built-patched" } }
fragments = ["common.config", "2.6.config"]
patches = ["kernel-2.6.16-intermodule.patch"]
use = ["smp"]
fixture = true

[[entry]]
name = "linux-2.6.18"
kernel = { url = "https://cdn.kernel.org/pub/linux/kernel/v2.6/linux-2.6.18.tar.bz2" }
packages = ["=sys-block/qla2x00-driver-8.01.07"]
profile = "default-linux/x86/2007.0"
accept_keywords = "~x86"
[entry.stage]
url = "https://example.org/stage3.tar.bz2"
sha512 = "SHA"
"#;

pub(super) fn good() -> String {
    GOOD.replace("SHA", &"ab".repeat(64))
}

pub(super) fn parse(text: &str) -> Result<Matrix> {
    let r = root();
    Matrix::parse(Path::new("m.toml"), text, r.path())
}

/// Parses `text`, expecting a bad-input error at `line`; returns the message.
pub(super) fn fails_at(text: &str, line: usize) -> String {
    let e = parse(text).expect_err("should fail");
    assert_eq!(e.exit_code(), EXIT_BAD_INPUT, "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("m.toml:{line}:")),
        "want line {line}: {msg}"
    );
    msg
}

pub(super) fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn snapshot_is_a_download_and_only_that() {
    let with = |table: &str| format!("{table}\n{}", good());
    let m = parse(&with(
        "[snapshot]\nurl = \"https://example.org/portage-20061201.tar.bz2\"",
    ))
    .unwrap();
    assert_eq!(
        m.snapshot.map(|d| d.url).as_deref(),
        Some("https://example.org/portage-20061201.tar.bz2")
    );
    let text = with("[snapshot]\npath = \"portage.tar.bz2\"");
    let msg = fails_at(&text, 1);
    assert!(msg.contains("snapshot: give it as url"), "{msg}");
}

#[test]
fn parses_a_good_matrix() {
    let r = root();
    let m = Matrix::parse(Path::new("ci/m.toml"), &good(), r.path()).unwrap();
    assert_eq!(m.lock_path(), Path::new("ci/m.lock"));
    let [a, b] = &m.entries[..] else { panic!() };
    assert_eq!(a.name, "linux-2.6.16-fixture");
    assert!(a.fixture);
    assert_eq!(a.location, "ci/m.toml:12:8");
    assert_eq!(
        a.kernel,
        Kernel::Fixture(Fixture {
            version: "2.6.16".into(),
            smp: true,
            intermodule: Intermodule::BuiltPatched,
            layout: Layout::Prepared,
            drop_config: vec![],
            set_config: vec![],
        })
    );
    if let Kernel::Fixture(f) = &a.kernel {
        assert_eq!(
            f.make_kernel_args(),
            ["2.6.16", "y", "built-patched", "prepared"]
        );
    }
    assert_eq!(a.packages.len(), 2);
    assert_eq!(a.use_flags, ["-doc", "smp"]);
    assert_eq!(a.accept_keywords.as_deref(), Some("~amd64"));
    assert_eq!(a.profile, "default/linux/amd64");
    assert_eq!(
        a.stage,
        Stage::Script {
            script: r.path().join("testkit/make-stage"),
            args: vec![],
        }
    );
    assert!(!b.fixture);
    assert_eq!(b.packages, ["=sys-block/qla2x00-driver-8.01.07"]);
    assert_eq!(b.use_flags, ["-doc"]);
    assert_eq!(b.profile, "default-linux/x86/2007.0");
    assert!(matches!(&b.stage, Stage::Url(d) if d.sha512.as_deref() == Some(&"ab".repeat(64)[..])));
    let urls: Vec<&str> = m.downloads().iter().map(|d| d.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://cdn.kernel.org/pub/linux/kernel/v2.6/linux-2.6.18.tar.bz2",
            "https://example.org/stage3.tar.bz2"
        ]
    );
}

#[test]
fn unknown_fields_and_syntax_errors_name_the_line() {
    let text = good().replace("use = [\"smp\"]", "use_flags = [\"smp\"]");
    let msg = fails_at(&text, line_of(&text, "use_flags"));
    assert!(msg.contains("unknown field"), "{msg}");
    let text = good().replace("[stage]\n", "[stage]\ncolour = \"red\"\n");
    fails_at(&text, line_of(&text, "colour"));
    let text = good().replace(
        "intermodule = \"built-patched\"",
        "intermodule = \"rebuilt\"",
    );
    let msg = fails_at(&text, line_of(&text, "rebuilt"));
    assert!(msg.contains("unknown variant"), "{msg}");
}

#[test]
fn each_validation_error_names_its_line() {
    let g = good();
    // (replace this, with that, error on the line holding this needle, message part)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("\"linux-2.6.18\"", "\"Linux 2.6.18\"", "Linux 2.6.18", "invalid entry name"),
        ("\"linux-2.6.18\"", "\"linux-2.6.16-fixture\" ", "fixture\" ", "duplicate entry name"),
        ("fixture = true\n", "\n", "kernel = { fixture", "say `fixture = true`"),
        ("accept_keywords = \"~x86\"", "fixture = true ", "fixture = true ", "would be false"),
        ("\"linux-2.6.18\"", "\"linux-2.6.18-fixture\"", "linux-2.6.18-fixture", "only fixture kernel entries"),
        ("\"linux-2.6.16-fixture\"", "\"linux-2.6.16-stub\"", "linux-2.6.16-stub", "must contain \"fixture\""),
        ("\"2.6.config\"", "\"2.6.cfg\"", "2.6.cfg", "no file kernel-fragments/2.6.cfg"),
        ("\"2.6.config\"", "\"../2.6.config\"", "../2.6.config", "invalid file name"),
        ("patches = [\"kernel-2.6.16-intermodule.patch\"]", "patches = [\"nope.patch\"]", "nope.patch", "no file patches/nope.patch"),
        ("patches = [\"kernel-2.6.16-intermodule.patch\"]", "patches = []", "kernel = { fixture", "exactly patches = [\"kernel-2.6.16-intermodule.patch\"]"),
        ("version = \"2.6.16\"", "version = \"2.6.18\"", "2.6.18\",", "for 2.6.16 and 2.6.17 only"),
        ("version = \"2.6.16\"", "version = \"3.0.1\"", "3.0.1", "invalid fixture version"),
        ("\"=sys-block/qla2x00-driver-8.01.07\"", "\"=sys-block/qla2x00-driver\"", "=sys-block/qla2x00-driver\"", "invalid package atom"),
        ("\"app-backup/netbackup-support\"", "\"netbackup-support\"", "\"netbackup-support\"", "invalid package atom"),
        ("\"app-backup/netbackup-support\"", "\"app-backup/netbackup-support-0.1\"", "support-0.1", "invalid package atom"),
        ("packages = [\"=sys-block/qla2x00-driver-8.01.07\"]", "packages = []", "name = \"linux-2.6.18\"", "empty package list"),
        ("use = [\"-doc\"]", "use = [\"-do c\"]", "-do c", "invalid USE flag"),
        ("accept_keywords = \"~x86\"", "accept_keywords = \"~x86 ^amd64\"", "^amd64", "invalid keyword \"^amd64\""),
        ("profile = \"default-linux/x86/2007.0\"", "profile = \"default-linux/../x86\"", "default-linux/../x86", "invalid profile"),
        ("profile = \"default-linux/x86/2007.0\"", "profile = \"/etc/make.profile\"", "/etc/make.profile", "invalid profile"),
        ("https://cdn.kernel.org", "ftp://cdn.kernel.org", "ftp://", "must be http:// or https://"),
        ("https://cdn.kernel.org", "https//cdn.kernel.org", "https//", "invalid url"),
        ("script = \"testkit/make-stage\"", "script = \"ci/no-such\"", "ci/no-such", "no script ci/no-such"),
        ("script = \"testkit/make-stage\"", "script = \"testkit/make-stage\"\npath = \"x.tar\"", "[stage]", "exactly one of url, path or script"),
        ("script = \"testkit/make-stage\"", "script = \"testkit/make-stage\"\nsha512 = \"00\"", "sha512 = \"00\"", "128 lowercase hex"),
        ("sha512 = \"ab", "sha512 = \"AB", "sha512 = \"AB", "128 lowercase hex"),
        ("kernel = { url = \"https://cdn", "kernel = { fixture = { version = \"2.6.18\", smp = true, intermodule = \"built\" }, url = \"https://cdn", "kernel = { fixture = { version = \"2.6.18\"", "exactly one of fixture, url or path"),
    ];
    for (from, to, needle, part) in cases {
        assert!(g.contains(from), "case {from:?} matches nothing");
        let text = g.replacen(from, to, 1);
        let msg = fails_at(&text, line_of(&text, needle));
        assert!(msg.contains(part), "{from:?} -> {to:?}: {msg}");
    }
}

#[test]
fn stage_args_features_and_refusals_are_checked() {
    let text = good().replace(
        "stage3.tar.bz2\"\n",
        "stage3.tar.bz2\"\nargs = [\"2.1.1\"]\n",
    );
    let msg = fails_at(&text, line_of(&text, "args = "));
    assert!(msg.contains("only a script stage takes arguments"), "{msg}");
    let text = good().replace(
        "fixture = true\n",
        "fixture = true\nrequire_features = [\"Strict!\"]\n",
    );
    let msg = fails_at(&text, line_of(&text, "Strict!"));
    assert!(msg.contains("FEATURES token"), "{msg}");
    let text = good().replace(
        "fixture = true\n",
        "fixture = true\nrefuse_distfile = \"../x\"\n",
    );
    let msg = fails_at(&text, line_of(&text, "../x"));
    assert!(msg.contains("refuse_distfile"), "{msg}");
    let text = good().replace(
        "fixture = true\n",
        "fixture = true\nrequire_features = [\"strict\"]\n",
    );
    assert_eq!(
        parse(&text).unwrap().entries[0].require_features,
        ["strict"]
    );
}

/// GOOD with its [stage] replaced by two variants, and the second entry without a stage.
fn with_variants() -> String {
    good()
        .replace(
            "[stage]\nscript = \"testkit/make-stage\"\n",
            "[[variant]]\nname = \"today\"\nstage = { script = \"testkit/make-stage\" }\n\n\
             [[variant]]\nname = \"era\"\nstage = { script = \"testkit/make-stage\", args = [\"2.1.2.2\"] }\n\
             require_features = [\"strict\"]\n",
        )
        .replace(
            &format!(
                "[entry.stage]\nurl = \"https://example.org/stage3.tar.bz2\"\nsha512 = \"{}\"\n",
                "ab".repeat(64)
            ),
            "",
        )
}

#[test]
fn variants_run_every_entry_on_each_stage() {
    let m = parse(&with_variants()).unwrap();
    let names: Vec<&str> = m.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "linux-2.6.16-fixture-today",
            "linux-2.6.16-fixture-era",
            "linux-2.6.18-today",
            "linux-2.6.18-era"
        ]
    );
    let args = |e: &Entry| match &e.stage {
        Stage::Script { args, .. } => args.clone(),
        other => panic!("{other:?}"),
    };
    assert!(args(&m.entries[0]).is_empty());
    assert_eq!(args(&m.entries[1]), ["2.1.2.2"]);
    assert!(m.entries[0].require_features.is_empty());
    assert_eq!(m.entries[1].require_features, ["strict"]);
    // The rest of the entry is the same on each stage.
    assert_eq!(m.entries[0].packages, m.entries[1].packages);
    assert_eq!(m.entries[2].profile, m.entries[3].profile);
}

#[test]
fn variants_take_the_stage_alone_and_have_unique_names() {
    let v = with_variants();
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "[[variant]]\nname = \"today\"",
            "[stage]\nscript = \"testkit/make-stage\"\n\n[[variant]]\nname = \"today\"",
            "[stage]",
            "[stage] and [[variant]] exclude each other",
        ),
        (
            "name = \"era\"",
            "name = \"today\" # again",
            "# again",
            "duplicate variant name \"today\"",
        ),
        (
            "name = \"era\"",
            "name = \"Era 2\"",
            "Era 2",
            "invalid variant name",
        ),
        (
            "require_features = [\"strict\"]",
            "require_features = [\"Strict!\"]",
            "Strict!",
            "FEATURES token",
        ),
        (
            "accept_keywords = \"~x86\"\n",
            "accept_keywords = \"~x86\"\n[entry.stage]\nscript = \"testkit/make-stage\"\n",
            "[entry.stage]",
            "remove [entry.stage]",
        ),
    ];
    for (from, to, needle, part) in cases {
        assert!(v.contains(from), "case {from:?} matches nothing");
        let text = v.replacen(from, to, 1);
        let msg = fails_at(&text, line_of(&text, needle));
        assert!(msg.contains(part), "{from:?} -> {to:?}: {msg}");
    }
}

#[test]
fn missing_defaults_are_named_at_the_entry() {
    let g = good();
    let entry_line = |t: &str| line_of(t, "name = \"linux-2.6.16-fixture\"");
    let text = g.replace("profile = \"default/linux/amd64\"\n", "");
    assert!(fails_at(&text, entry_line(&text)).contains("no profile"));
    let text = g.replace(
        "packages = [\"app-backup/netbackup-support\", \">=sys-block/qla2x00-driver-8\"]\n",
        "",
    );
    assert!(fails_at(&text, entry_line(&text)).contains("no packages"));
    let text = g.replace("[stage]\nscript = \"testkit/make-stage\"\n", "");
    assert!(fails_at(&text, entry_line(&text)).contains("no stage"));
    let e = parse("[defaults]\n").unwrap_err();
    assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
    assert!(e.to_string().contains("no [[entry]]"), "{e}");
}

#[test]
fn atoms() {
    for ok in [
        "sys-block/qla2x00-driver",
        "<sys-block/qla2x00-driver-8",
        ">=sys-block/qla2x00-driver-8.01.07-r1",
        "=sys-libs/lib-compat-1.4*",
        "~app-backup/netbackup-support-0.1",
        "sys-libs/lib-compat:0",
    ] {
        assert!(names::ATOM.is_match(ok), "{ok}");
    }
    for bad in [
        "qla2x00-driver",
        "sys-block/",
        ">=sys-block/qla2x00-driver",
        "sys-block/qla2x00-driver-8*",
        "!sys-block/x",
        "sys-block/x y",
    ] {
        assert!(!names::ATOM.is_match(bad), "{bad}");
    }
}

#[test]
fn shipped_matrices_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let local = Matrix::load(&root.join("ci/matrix-local.toml"), root).unwrap();
    assert!(local.entries.iter().all(|e| e.fixture));
    assert!(
        local.downloads().is_empty(),
        "the local matrix must work offline"
    );
    let era = Matrix::load(&root.join("ci/matrix-era.toml"), root).unwrap();
    assert!(era.entries.iter().all(|e| !e.fixture));
    // The ebuilds' fixture cases: offline, each with what it must end in.
    let cases = Matrix::load(&root.join("ci/matrix-cases.toml"), root).unwrap();
    assert!(cases.downloads().is_empty());
    assert!(cases
        .entries
        .iter()
        .all(|e| e.fixture && e.expect.is_some()));
    // Every package of the overlay is built somewhere in each matrix.
    for m in [&local, &era] {
        for pkg in [
            "app-backup/netbackup-support",
            "sys-block/qla2x00-driver",
            "sys-libs/lib-compat",
        ] {
            assert!(
                m.entries
                    .iter()
                    .any(|e| e.packages.iter().any(|a| a.contains(pkg))),
                "{} builds no {pkg}",
                m.path.display()
            );
        }
    }
    // The era entries: offline, strict, each portage version with a wrong-distfile entry.
    let era_local = Matrix::load(&root.join("ci/matrix-era-local.toml"), root).unwrap();
    assert!(era_local.downloads().is_empty());
    for e in &era_local.entries {
        assert_eq!(e.require_features, ["strict"], "{}", e.name);
        assert!(matches!(&e.stage, Stage::Script { args, .. } if args.len() == 2));
    }
    for v in ["2.1.1", "2.1.2.2"] {
        let on_v: Vec<&Entry> = era_local
            .entries
            .iter()
            .filter(|e| matches!(&e.stage, Stage::Script { args, .. } if args[0] == v))
            .collect();
        assert!(on_v.iter().any(|e| e.refuse_distfile.is_some()), "{v}");
        assert!(
            on_v.iter().filter(|e| e.refuse_distfile.is_none()).count() >= 3,
            "{v}"
        );
    }
    // The real-source matrix: offline, every entry with real distfiles; on a real kernel from
    // the shared directory with checks of the modules, on a fixture with what it installs.
    let real = Matrix::load(&root.join("ci/matrix-real.toml"), root).unwrap();
    assert!(real.downloads().is_empty());
    assert!(real
        .entries
        .iter()
        .any(|e| matches!(e.kernel, Kernel::Shared(_))));
    for e in &real.entries {
        assert!(!e.distfiles.is_empty(), "{}", e.name);
        match e.kernel {
            Kernel::Shared(_) => assert!(!e.checks.is_empty(), "{}", e.name),
            _ => assert!(e.fixture && e.expect.is_some(), "{}", e.name),
        }
    }
    // The lock file is one `Lock::load` accepts, written as `Lock::save` writes it.
    let lock = Lock::load(&era.lock_path()).unwrap();
    let text = std::fs::read_to_string(era.lock_path()).unwrap();
    assert_eq!(text, lock.to_toml());
}

#[test]
fn lock_pins_once_and_never_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/m.lock");
    let mut lock = Lock::load(&path).unwrap();
    assert_eq!(lock.pins().count(), 0);
    let a = "a".repeat(128);
    let b = "b".repeat(128);
    assert_eq!(
        lock.pin("https://z.example/2", &a, 10).unwrap(),
        Pinned::Added
    );
    assert_eq!(
        lock.pin("https://a.example/1", &b, 20).unwrap(),
        Pinned::Added
    );
    assert_eq!(
        lock.pin("https://z.example/2", &a, 10).unwrap(),
        Pinned::Unchanged
    );
    let e = lock.pin("https://z.example/2", &b, 10).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("https://z.example/2"), "{msg}");
    assert!(msg.contains(&a) && msg.contains(&b), "{msg}");
    assert!(msg.contains("never silently changed"), "{msg}");
    // A different size with the same digest is refused too.
    assert!(lock.pin("https://z.example/2", &a, 11).is_err());
    assert!(lock.pin("https://q.example/", "ABC", 1).is_err());
    lock.save().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // Sorted by URL, whatever the order of pinning.
    assert!(text.find("a.example").unwrap() < text.find("z.example").unwrap());
    let again = Lock::load(&path).unwrap();
    assert_eq!(again, lock);
    assert_eq!(again.to_toml(), text);
    assert_eq!(again.get("https://a.example/1").unwrap().size, 20);
    // Nothing but the lock file is left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["m.lock"]);
}

#[test]
fn lock_expected_digest_and_bad_lock_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.lock");
    let mut lock = Lock::load(&path).unwrap();
    let a = "a".repeat(128);
    let b = "b".repeat(128);
    lock.pin("https://x.example/k", &a, 1).unwrap();
    let d = |sha: Option<&str>| Download {
        url: "https://x.example/k".into(),
        sha512: sha.map(str::to_string),
    };
    assert_eq!(lock.expected(&d(None)).unwrap(), Some(a.clone()));
    assert_eq!(lock.expected(&d(Some(&a))).unwrap(), Some(a.clone()));
    assert!(lock.expected(&d(Some(&b))).is_err());
    let other = Download {
        url: "https://x.example/new".into(),
        sha512: None,
    };
    assert_eq!(lock.expected(&other).unwrap(), None);

    let pin = |sha: &str| format!("[[pin]]\nurl = \"https://x\"\nsha512 = \"{sha}\"\nsize = 1\n");
    std::fs::write(&path, format!("{}\n{}", pin(&a), pin(&a))).unwrap();
    let e = Lock::load(&path).unwrap_err();
    assert!(
        e.to_string().contains(":6:") && e.to_string().contains("pinned twice"),
        "{e}"
    );
    std::fs::write(&path, pin("xyz")).unwrap();
    let e = Lock::load(&path).unwrap_err();
    assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
    assert!(e.to_string().contains(":1:"), "{e}");
    std::fs::write(&path, format!("{}extra = 1\n", pin(&a))).unwrap();
    let e = Lock::load(&path).unwrap_err();
    assert!(
        e.to_string().contains(":5:") && e.to_string().contains("unknown field"),
        "{e}"
    );
}

#[test]
fn steps_and_the_synced_overlay_are_checked() {
    let base = good().replace(
        "packages = [\"=sys-block/qla2x00-driver-8.01.07\"]\n",
        "packages = []\n",
    );
    let step = |fields: &str| format!("{base}[[entry.steps]]\nname = \"pin\"\n{fields}\n");
    // Steps alone make an entry; their fields come through as written.
    let m = parse(&step(
        "run = \"true\"\nexit = \"nonzero\"\nsays = [\"x\"]\nlacks = [\"y\"]",
    ))
    .unwrap();
    let e = &m.entries[1];
    assert!(e.packages.is_empty());
    assert_eq!(e.steps[0].exit, StepExit::NonZero);
    assert_eq!(
        (e.steps[0].says.clone(), e.steps[0].lacks.clone()),
        (vec!["x".to_string()], vec!["y".to_string()])
    );
    assert_eq!(
        parse(&step("run = \"exit 3\"\nexit = 3")).unwrap().entries[1].steps[0].exit,
        StepExit::Code(3)
    );
    for (fields, needle, part) in [
        ("run = \"true\"\nexit = 256", "exit = 256", "step exit"),
        (
            "run = \"true\"\nexit = \"fails\"",
            "exit = \"fails\"",
            "step exit",
        ),
        ("run = \"  \"", "run = ", "step run"),
        ("run = \"true\"\nsays = [\"\"]", "says = ", "step says"),
        ("run = \"true\"\nwhen = 1", "when = 1", "unknown field"),
    ] {
        let text = step(fields);
        let msg = fails_at(&text, line_of(&text, needle));
        assert!(msg.contains(part), "{fields}: {msg}");
    }
    let text = format!(
        "{}[[entry.steps]]\nname = \"pin\"\nrun = \"true\"\n",
        step("run = \"true\"")
    );
    let last = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("name = \"pin\""))
        .last();
    let msg = fails_at(&text, last.unwrap().0 + 1);
    assert!(msg.contains("duplicate step name"), "{msg}");
    let text =
        step("run = \"true\"").replace("packages = []\n", "packages = []\noverlay = \"mine\"\n");
    let msg = fails_at(&text, line_of(&text, "overlay = "));
    assert!(msg.contains("overlay: want"), "{msg}");
    let synced =
        step("run = \"true\"").replace("packages = []\n", "packages = []\noverlay = \"synced\"\n");
    assert_eq!(
        parse(&synced).unwrap().entries[1].overlay,
        OverlayKind::Synced
    );
    // No package and no step: nothing to run.
    let msg = fails_at(&base, line_of(&base, "name = \"linux-2.6.18\""));
    assert!(msg.contains("empty package list and no steps"), "{msg}");
}
