use super::*;
use std::collections::BTreeSet;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The keys of the local matrix's entries with `text` as the matrix and `root` for the files.
fn keys(text: &str, root: &Path) -> Vec<String> {
    let m =
        crate::nbtest::matrix::Matrix::parse(Path::new("m.toml"), text, &workspace_root()).unwrap();
    m.entries
        .iter()
        .map(|e| entry_key(root, e, "overlay", "stage"))
        .collect()
}

#[test]
fn a_comment_in_the_matrix_keeps_every_key_and_a_fixture_makefile_changes_its_entries() {
    let root = workspace_root();
    let text = fs::read_to_string(root.join("ci/matrix-local.toml")).unwrap();
    let before = keys(&text, &root);
    assert!(before.len() > 5);
    assert_eq!(keys(&format!("# a comment\n\n{text}"), &root), before);
    // A copy of the files keys read, with the 2.6.18 fixture Makefile changed: only the
    // entries of a 2.6.18 fixture get new keys.
    let copy = tempfile::tempdir().unwrap();
    for rel in [MAKE_KERNEL, FIXTURE_MAKEFILES, "kernel-fragments"] {
        let to = copy.path().join(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        let status = Command::new("cp")
            .arg("-r")
            .arg(root.join(rel))
            .arg(&to)
            .status();
        assert!(status.unwrap().success());
    }
    assert_eq!(
        keys(&text, copy.path()),
        before,
        "another checkout, the same keys"
    );
    let makefile = copy.path().join(FIXTURE_MAKEFILES).join("Makefile-2.6.18");
    let mut changed = fs::read(&makefile).unwrap();
    changed.extend_from_slice(b"# changed\n");
    fs::write(&makefile, changed).unwrap();
    let after = keys(&text, copy.path());
    let m = crate::nbtest::matrix::Matrix::parse(Path::new("m.toml"), &text, &root).unwrap();
    for ((e, b), a) in m.entries.iter().zip(&before).zip(&after) {
        let on_2618 = matches!(&e.kernel, Kernel::Fixture(f) if f.version == "2.6.18");
        assert_eq!(a != b, on_2618, "{}", e.name);
    }
}

pub(super) fn entry(extra: &str) -> Entry {
    let text = format!(
        r#"[stage]
path = "stage.tar"
[[entry]]
name = "era-2.1.1-fixture"
kernel = {{ fixture = {{ version = "2.6.18", smp = true, intermodule = "built" }} }}
packages = ["sys-libs/lib-compat"]
profile = "default/linux/x86"
fixture = true
{extra}
"#
    );
    let m = Matrix::parse(Path::new("m.toml"), &text, Path::new("/nonexistent")).unwrap();
    m.entries[0].clone()
}

fn checked(depmod: &str, deps: &str, release: &str) -> Vec<CheckResult> {
    let e =
        entry(r#"checks = { depmod = true, load_order = ["intermodule", "qla2xxx", "qla2300"] }"#);
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("out/checks");
    fs::create_dir_all(&c).unwrap();
    for (name, text) in [
        ("kernel-release", release),
        ("depmod.log", depmod),
        ("depmod.rc", "0\n"),
        ("load-order.log", deps),
        ("load-order.rc", "0\n"),
    ] {
        fs::write(c.join(name), text).unwrap();
    }
    let got = collect_checks(&e, dir.path());
    // The verdict of a failed check is written under its output, where the report points.
    for r in &got {
        if let Some(f) = &r.failure {
            let log = fs::read_to_string(&f.log).unwrap();
            assert!(log.contains("nbgen test: "), "{log}");
        }
    }
    got
}

const DEPS: &str = "insmod /lib/modules/2.6.18/kernel/kernel/intermodule.ko \n\
    insmod /lib/modules/2.6.18/kernel/drivers/scsi/qla2xxx/qla2xxx.ko \n\
    insmod /lib/modules/2.6.18/kernel/drivers/scsi/qla2xxx/qla2300.ko \n";

#[test]
fn checks_pass_and_fail_on_what_depmod_and_modprobe_said() {
    let outcomes = |r: &[CheckResult]| {
        r.iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.outcome,
                    c.failure.as_ref().map(|f| f.phase.clone()),
                )
            })
            .collect::<Vec<_>>()
    };
    let ok = checked(
        "depmod: WARNING: could not open modules.order\n",
        DEPS,
        "2.6.18\n",
    );
    assert_eq!(
        outcomes(&ok),
        [
            ("depmod".to_string(), Outcome::Passed, None),
            ("load-order".to_string(), Outcome::Passed, None)
        ]
    );
    let bad = checked(
        "WARNING: /lib/modules/2.6.18/kernel/drivers/scsi/qla2xxx/qla2xxx.ko needs unknown symbol inter_module_get\n",
        &DEPS.replace("intermodule.ko", "other.ko"),
        "2.6.18\n",
    );
    assert_eq!(
        outcomes(&bad),
        [
            (
                "depmod".to_string(),
                Outcome::Failed,
                Some("check-depmod".to_string())
            ),
            (
                "load-order".to_string(),
                Outcome::Failed,
                Some("check-load-order".to_string())
            )
        ]
    );
    // Without the tree's kernel release nothing can be checked: both fail.
    let none = checked("", DEPS, "\n");
    assert!(
        none.iter().all(|c| c.outcome == Outcome::Failed),
        "{none:?}"
    );
}

#[test]
fn loaded_modules_are_the_insmod_lines_in_order() {
    assert_eq!(loaded_modules(DEPS), ["intermodule", "qla2xxx", "qla2300"]);
    assert_eq!(
        loaded_modules("builtin scsi_mod\ninsmod /lib/modules/6.1/a/b.ko.xz opt=1\n"),
        ["b"]
    );
}

#[test]
fn the_checks_run_after_the_packages_and_only_when_declared() {
    assert!(!script(&entry("")).contains("/out/checks"));
    let s = script(&entry(r#"checks = { load_order = ["a", "qla2300"] }"#));
    let deps = s.find("--show-depends 'qla2300'").expect(&s);
    assert!(deps > s.find("for atom in").unwrap(), "{s}");
    assert!(!s.contains("depmod -e"), "{s}");
    let s = script(&entry("checks = { depmod = true }"));
    assert!(s.contains(r#"depmod -e -F "$map" -b / "$kv""#), "{s}");
    assert!(!s.contains("--show-depends"), "{s}");
}

/// The shared path the test's entry names (listed in the workspace's ci/shared-inputs.toml).
const SRC: &str = "real/qla2xxx-8.01.07-src.tar.xz";

/// A shared directory holding SRC (a small tar.xz), and a table pinning its content.
fn shared_with_source() -> (tempfile::TempDir, Vec<shared_inputs::table::Input>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SRC);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let enc = xz2::write::XzEncoder::new(fs::File::create(&path).unwrap(), 1);
    let mut b = tar::Builder::new(enc);
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "qla2xxx-8.01.07/qla_os.c", &b"x\n\n\n\n"[..])
        .unwrap();
    b.into_inner().unwrap().finish().unwrap();
    let digest = shared_inputs::content::of_file(&path).unwrap();
    (dir, table_for(&digest))
}

fn table_for(digest: &str) -> Vec<shared_inputs::table::Input> {
    let text = format!(
        "[[input]]\npath = \"{SRC}\"\ntop = \"qla2xxx-8.01.07\"\ncontent = \"{digest}\"\nsource = [{{ name = \"q.tar.gz\", url = \"https://example.org/q.tar.gz\" }}]\n"
    );
    shared_inputs::table::parse(Path::new("t.toml"), &text).unwrap()
}

fn real_entry(root: &Path, distfile: &str) -> Entry {
    let text = format!(
        r#"[stage]
script = "testkit/make-stage"
[[entry]]
name = "real"
kernel = {{ url = "https://cdn.kernel.org/linux-2.6.18.tar.bz2" }}
packages = [">=sys-block/qla2x00-driver-8"]
profile = "default/linux/amd64"
distfiles = [{{ name = "{distfile}", path = "{SRC}" }}]
"#
    );
    Matrix::parse(Path::new("m.toml"), &text, root)
        .unwrap()
        .entries[0]
        .clone()
}

#[test]
fn real_distfiles_are_pinned_in_the_entrys_own_overlay_or_skip_or_fail() {
    let ws = Workspace::locate(None).unwrap();
    let (shared_dir, table) = shared_with_source();
    let results = tempfile::tempdir().unwrap();
    let distdir = results.path().join(".distfiles");
    fs::create_dir_all(&distdir).unwrap();
    let stand_ins = BTreeMap::new();
    let acquire = |e: &Entry, shared: &Path, table: &[shared_inputs::table::Input]| {
        let dir = shared_inputs::Dir {
            path: shared,
            table,
        };
        acquire_locals(&ws, e, dir, &stand_ins, &distdir, results.path(), true)
    };
    let good = real_entry(&ws.root, "qla2xxx-v8.01.07-dist.tgz");
    let local = acquire(&good, shared_dir.path(), &table).unwrap().unwrap();
    let dist = local.distdir.unwrap().join("qla2xxx-v8.01.07-dist.tgz");
    let measured = manifest::measure(&dist).unwrap();
    let (overlay, _) = local.overlay.unwrap();
    let manifest = fs::read_to_string(overlay.join("sys-block/qla2x00-driver/Manifest")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("DIST qla2xxx-v8.01.07-dist.tgz "))
        .expect(&manifest);
    assert!(
        line.contains(&format!(" {} ", measured.size))
            && line.contains(measured.digests.sha512.as_deref().unwrap()),
        "{line}"
    );
    // Missing: the reason; other bytes: an error; a name no ebuild fetches: bad input.
    let empty = tempfile::tempdir().unwrap();
    let why = acquire(&good, empty.path(), &table).unwrap().unwrap_err();
    assert!(why.contains("NB_SHARED="), "{why}");
    let wrong = table_for(&format!("tree-sha256:{}", "0".repeat(64)));
    let e = acquire(&good, shared_dir.path(), &wrong).unwrap_err();
    assert!(e.to_string().contains(&table[0].content), "{e}");
    let stray = real_entry(&ws.root, "no-such-dist.tgz");
    let e = acquire(&stray, shared_dir.path(), &table).unwrap_err();
    assert_eq!(e.exit_code(), crate::base::error::EXIT_BAD_INPUT);
    assert!(
        e.to_string()
            .contains("distfile \"no-such-dist.tgz\" is no distfile of the overlay's ebuilds"),
        "{e}"
    );
}

#[test]
fn required_features_are_checked_before_any_package() {
    let e = entry(r#"require_features = ["strict"]"#);
    let s = script(&e);
    let check = s.find("*' strict '*) ;;").expect(&s);
    assert!(check < s.find("for atom in").unwrap(), "{s}");
    assert!(!script(&entry("")).contains("FEATURES lack"));
}

#[test]
fn a_refusal_entry_alters_only_its_private_copy() {
    let e = entry(r#"refuse_distfile = "lib-compat-1.4.tar.bz2""#);
    let s = script(&e);
    assert!(s.contains("f=\"$nb_dist/\"'lib-compat-1.4.tar.bz2'"), "{s}");
    assert!(s.contains("DISTDIR=\"/var/tmp/nb-distfiles\""), "{s}");
    // The script's byte rotation keeps the size and changes every byte.
    let tr = s.lines().find(|l| l.starts_with("tr ")).expect(&s);
    let tr = &tr[..tr.find(" <").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d");
    let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    fs::write(&f, &bytes).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(r#"{tr} <"$1""#))
        .arg("sh")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.stdout.len(), bytes.len());
    assert!(out.stdout.iter().zip(&bytes).all(|(a, b)| a != b));
}

#[test]
fn a_refusal_passes_only_when_portage_refused_the_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("out/logs")).unwrap();
    let log = dir.path().join("out/logs/1.emerge.log");
    let name = "lib-compat-1.4.tar.bz2";
    fs::write(
        &log,
        format!("!!! Previously fetched file: '{name}'\n!!! Reason: Failed on SHA1 verification\n"),
    )
    .unwrap();
    let r = refused_result(
        "sys-libs/lib-compat",
        Some((1, 3, 1)),
        Refusal::Distfile(name),
        dir.path(),
    );
    assert_eq!((r.outcome, r.failure), (Outcome::Passed, None));
    // Today's portage names the path; another file's refusal does not count.
    assert!(refused(
        &format!("!!! Previously fetched file: '/var/tmp/nb-distfiles/{name}'\n"),
        name
    ));
    assert!(!refused(
        &format!("!!! Previously fetched file: '/x/old-{name}'\n"),
        name
    ));
    // Portage 2.0.54 names the path on the line after its verdict (colours off or on).
    let by_2_0 = format!(
        "\n\x1b[31;01m!!! Digest verification Failed:\x1b[39;49;00m\n\x1b[31;01m!!!\x1b[39;49;00m    /var/tmp/nb-distfiles/{name}\n\x1b[31;01m!!! Reason: \x1b[39;49;00mFailed on MD5 verification\n"
    );
    assert!(refused(&by_2_0, name));
    assert!(refused(
        &format!("!!! Digest verification Failed:\n!!!    /d/{name}\n"),
        name
    ));
    assert!(!refused(
        &format!("!!! Digest verification Failed:\n!!!    /d/old-{name}\n"),
        name
    ));
    assert!(!refused(&format!("!!!    /d/{name}\n"), name));
    // Emerged anyway: the wrong file was accepted.
    let r = refused_result(
        "sys-libs/lib-compat",
        Some((0, 3, 1)),
        Refusal::Distfile(name),
        dir.path(),
    );
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.failure.unwrap().phase, "accepted-wrong-distfile");
    // Failed, but for another reason (or for another file).
    let r = refused_result(
        "sys-libs/lib-compat",
        Some((1, 3, 1)),
        Refusal::Distfile("other.tar"),
        dir.path(),
    );
    assert_eq!(r.failure.unwrap().phase, "failed-without-refusing-distfile");
    let r = refused_result(
        "sys-libs/lib-compat",
        None,
        Refusal::Distfile(name),
        dir.path(),
    );
    assert_eq!(r.outcome, Outcome::NotRun);
}

#[test]
fn expectations_and_setup_are_in_the_key_and_the_script() {
    let root = workspace_root();
    let plain = entry("");
    let installs = entry(r#"expect = { installs = ["lib/a.ko"] }"#);
    let other = entry(r#"expect = { installs = ["lib/b.ko"] }"#);
    let setup = entry(r#"setup = { env = { KBUILD_OUTPUT = "/usr/src/k" } }"#);
    let keys: BTreeSet<String> = [&plain, &installs, &other, &setup]
        .iter()
        .map(|e| entry_key(&root, e, "overlay", "stage"))
        .collect();
    assert_eq!(keys.len(), 4, "each expectation and setup changes the key");
    assert!(!script(&plain).contains("/out/expect"));
    let s = script(&entry(
        r#"expect = { holds = [{ file = "etc/a", text = "t" }] }
setup = { files = [{ path = "/etc/q.conf", text = "it's\n" }], dirs = ["/etc/d"], env = { KBUILD_OUTPUT = "/usr/src/k" } }"#,
    ));
    let emerge = s.find("for atom in").unwrap();
    for line in [
        "printf '%s' 'it'\\''s\n' >'/etc/q.conf' || exit 3",
        "mkdir -p '/etc/d' || exit 3",
        "export KBUILD_OUTPUT='/usr/src/k'",
    ] {
        assert!(s.find(line).expect(line) < emerge, "{s}");
    }
    assert!(s.find("for f in 'etc/a'; do").expect(&s) > emerge, "{s}");
    assert!(
        s.find("-newer /var/tmp/nb-start").expect(&s) > emerge,
        "{s}"
    );
}

#[test]
fn installed_paths_come_from_contents_lines() {
    assert_eq!(
        contents_path("dir /lib/modules").as_deref(),
        Some("lib/modules")
    );
    assert_eq!(
        contents_path("obj /usr/lib/a b.so 0123 1700000000").as_deref(),
        Some("usr/lib/a b.so")
    );
    assert_eq!(
        contents_path("sym /lib/ld.so -> ld.so.1 1700000000").as_deref(),
        Some("lib/ld.so")
    );
    assert_eq!(contents_path("obj /x"), None);
    assert_eq!(contents_path("junk"), None);
}

/// An entry directory as the container leaves it: one CONTENTS, a copied file, an emerge log.
pub(super) fn expect_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (rel, text) in [
        (
            "expect/installed/sys-block:q-8.CONTENTS",
            "dir /etc\nobj /etc/m.conf 00 1\nobj /lib/q.ko 00 1\n",
        ),
        (
            "expect/files/etc/m.conf",
            "alias scsi_hostadapter1 qla2300\n",
        ),
        (
            "logs/1.emerge.log",
            " * Building on 2.6.19 is not confirmed\n",
        ),
    ] {
        fs::create_dir_all(out.join(rel).parent().unwrap()).unwrap();
        fs::write(out.join(rel), text).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    let tool = out.join("expect/files/usr/sbin/t");
    fs::create_dir_all(tool.parent().unwrap()).unwrap();
    fs::write(&tool, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(
        out.join("expect/files/etc/m.conf"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    dir
}

#[test]
fn expectations_pass_and_fail_on_what_was_installed_and_logged() {
    let dir = expect_dir();
    let verdicts = |extra: &str| -> Vec<(String, Outcome, Option<String>)> {
        let e = entry(extra);
        collect_expectations(e.expect.as_ref().unwrap(), dir.path())
            .into_iter()
            .map(|c| {
                let log = c.failure.map(|f| fs::read_to_string(f.log).unwrap());
                (c.name, c.outcome, log)
            })
            .collect()
    };
    let good = verdicts(
        r#"expect = { installs = ["lib/q.ko", "etc"], absent = ["intermodule"], log = ["is not confirmed"], holds = [{ file = "etc/m.conf", text = "qla2300" }], lacks = [{ file = "etc/m.conf", text = "intermodule" }] }"#,
    );
    assert!(
        good.iter().all(|(_, o, _)| *o == Outcome::Passed),
        "{good:?}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("out/expect/installed.txt")).unwrap(),
        "etc\netc/m.conf\nlib/q.ko\n"
    );
    let bad = verdicts(
        r#"expect = { installs = ["lib/intermodule.ko"], absent = ["q.ko"], log = ["2.6.20"], holds = [{ file = "etc/m.conf", text = "qla2400" }], lacks = [{ file = "etc/none", text = "x" }], executable = ["etc/m.conf", "usr/none"] }"#,
    );
    let want = [
        ("installs", "not installed: lib/intermodule.ko"),
        ("absent", "installed, though expected absent:\nlib/q.ko"),
        ("log", "no log says: 2.6.20"),
        ("holds", "etc/m.conf does not hold \"qla2400\""),
        ("lacks", "etc/none is not installed"),
        (
            "executable",
            "etc/m.conf is not executable (mode 644)\nusr/none is not installed",
        ),
    ];
    for ((name, outcome, log), (want_name, part)) in bad.iter().zip(want) {
        assert_eq!((name.as_str(), *outcome), (want_name, Outcome::Failed));
        let log = log.as_deref().unwrap();
        assert!(log.contains(part), "{name}: {log}");
    }
}

#[test]
fn a_refused_entry_passes_only_when_the_emerge_failed_saying_its_message() {
    let dir = expect_dir();
    let msg = "is not confirmed";
    let r = refused_result("q", Some((1, 2, 1)), Refusal::Message(msg), dir.path());
    assert_eq!((r.outcome, r.failure), (Outcome::Passed, None));
    let r = refused_result("q", Some((0, 2, 1)), Refusal::Message(msg), dir.path());
    assert_eq!(r.failure.unwrap().phase, "it-built");
    let r = refused_result(
        "q",
        Some((1, 2, 1)),
        Refusal::Message("For a 2.4 kernel"),
        dir.path(),
    );
    let f = r.failure.unwrap();
    assert_eq!(f.phase, "refused-without-message");
    assert!(fs::read_to_string(f.log)
        .unwrap()
        .contains("the emerge log ends:\n * Building"));
    assert_eq!(
        refused_result("q", None, Refusal::Message(msg), dir.path()).outcome,
        Outcome::NotRun
    );
    // The entry's "refused" check shows the packages' verdict, even when they failed.
    let e = entry(r#"expect = { outcome = "refused", message = "For a 2.4 kernel" }"#);
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n",
    )
    .unwrap();
    let r = judge(
        &e,
        dir.path(),
        0,
        dir.path().join("run.log"),
        Instant::now(),
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.checks[0].name, "refused");
    assert_eq!(r.checks[0].failure.as_ref().unwrap().phase, "it-built");
}

#[test]
fn a_split_fixture_mounts_its_trees_where_the_entry_says() {
    let guests = |extra: &str| -> Vec<(String, PathBuf)> {
        let text = format!(
            r#"[stage]
path = "stage.tar"
[[entry]]
name = "o-fixture"
kernel = {{ fixture = {{ version = "2.6.18", smp = true, intermodule = "built"{extra} }} }}
packages = ["sys-libs/lib-compat"]
profile = "default/linux/x86"
fixture = true
"#
        );
        let m = Matrix::parse(Path::new("m.toml"), &text, Path::new("/nonexistent")).unwrap();
        kernel_mounts(&m.entries[0], Path::new("/k"))
            .into_iter()
            .map(|m| (m.guest, m.host))
            .collect()
    };
    assert_eq!(guests(""), [("/usr/src/linux".into(), "/k".into())]);
    let split = r#", split = { src = "/usr/src/linux-2.6.18", out = "/usr/src/linux" }"#;
    assert_eq!(
        guests(split),
        [
            ("/usr/src/linux".into(), "/k/out".into()),
            ("/usr/src/linux-2.6.18".into(), "/k/src".into())
        ]
    );
    let no_src = split.replace(" }", ", mount_src = false }");
    assert_eq!(
        guests(&no_src),
        [("/usr/src/linux".into(), "/k/out".into())]
    );
}

#[test]
fn drop_config_removes_exactly_the_named_options() {
    let config =
        "CONFIG_SCSI=y\nCONFIG_CHR_DEV_SG=m\nCONFIG_CHR_DEV_SG_X=y\n# CONFIG_SMP is not set\n";
    assert_eq!(
        without_options(config, &["CONFIG_CHR_DEV_SG".into()]),
        "CONFIG_SCSI=y\nCONFIG_CHR_DEV_SG_X=y\n# CONFIG_SMP is not set\n"
    );
}
