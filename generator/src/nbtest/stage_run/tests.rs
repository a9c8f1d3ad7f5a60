use super::*;

fn request(command: &[&str]) -> Request {
    Request {
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Request::default()
    }
}

/// What bash makes of the script's last line, run here with `exec` replaced by printing the words.
fn words_of(script: &str) -> Vec<String> {
    let last = script
        .lines()
        .last()
        .unwrap()
        .replacen("exec ", "printf '%s\\n' ", 1);
    let out = std::process::Command::new("bash")
        .args(["-c", &last])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn one_word_is_a_bash_line_and_more_are_argv() {
    let line = "a=1; echo \"$a\" 'it''s'";
    assert_eq!(words_of(&request(&[line]).script()), ["bash", "-c", line]);
    assert_eq!(
        words_of(&request(&["printf", "%s|%s", "a b", "$c"]).script()),
        ["printf", "%s|%s", "a b", "$c"]
    );
}

#[test]
fn the_script_fixes_copies_registers_and_exports_before_the_command() {
    let r = Request {
        overlays: vec![("nb-overlay".into(), "/x".into())],
        distdir: Some("/d".into()),
        env: vec![("NB_X".into(), "a 'b'".into())],
        eapi0_fix: true,
        ..request(&["true"])
    };
    let s = r.script();
    let at = |t: &str| s.find(t).unwrap_or_else(|| panic!("{t:?} not in {s}"));
    assert!(at("cp /opt/portage/lib/portage/bin/ebuild.sh.nb-eapi0") < at("exec bash"));
    assert!(at("cp -pR /mnt/nb-distdir/. /var/cache/distfiles/") < at("exec bash"));
    assert!(at("/etc/portage/repos.conf/'nb-overlay'.conf") < at("exec bash"));
    assert!(s.contains("export NB_X='a '\\''b'\\'''"), "{s}");
    // Its own failures are 125, as podman run's are.
    assert!(s.contains("|| exit 125"), "{s}");
    assert!(!request(&["true"]).script().contains("nb-eapi0"));
}

#[test]
fn option_values_are_checked_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("profiles")).unwrap();
    let value = |name: &str| format!("{name}={}", repo.display());
    let err = |r: Result<(String, PathBuf)>| r.unwrap_err().to_string();
    assert!(err(overlay_option(&value("scratch"))).contains("no ebuild repository"));
    std::fs::write(repo.join("profiles/repo_name"), "scratch\n").unwrap();
    assert_eq!(overlay_option(&value("scratch")).unwrap().0, "scratch");
    assert!(err(overlay_option(&value("gentoo"))).contains("::gentoo"));
    assert!(err(overlay_option(&value("a b"))).contains("no repository name"));
    assert!(err(overlay_option("scratch")).contains("want NAME=DIR"));
    assert!(err(read_only_option(&value("usr/src/linux"))).contains("not an absolute path"));
    assert!(err(read_only_option("/usr/src/linux=/nonexistent/x")).contains("does not exist"));
    assert!(env_option("1X=2")
        .unwrap_err()
        .to_string()
        .contains("no variable name"));
    assert_eq!(env_option("X=a=b").unwrap(), ("X".into(), "a=b".into()));
    let r = Request {
        distdir: Some(dir.path().join("none")),
        ..request(&["true"])
    };
    assert!(r
        .mounts()
        .unwrap_err()
        .to_string()
        .contains("is not a directory"));
    let Err(e) = use_stage(&dir.path().join("none.tar")) else {
        panic!("a missing stage is used")
    };
    assert!(e.to_string().contains("no stage tarball"), "{e}");
}

#[test]
fn a_stage_without_sums_is_measured_and_one_with_them_read() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("stage.tar");
    std::fs::write(&tar, b"stage").unwrap();
    let measured = use_stage(&tar).unwrap().sha512;
    assert_eq!(measured.len(), 128);
    // Listed: taken as the stage scripts wrote it (their build computed it).
    let listed = "ab".repeat(64);
    let sums = dir.path().join("stage.tar.sha512");
    std::fs::write(&sums, format!("{listed}  stage.tar\n")).unwrap();
    assert_eq!(use_stage(&tar).unwrap().sha512, listed);
    // A sums file without a SHA512 is refused, naming it: an empty digest would name no root.
    std::fs::write(&sums, "abc  stage.tar\n").unwrap();
    let Err(e) = use_stage(&tar) else {
        panic!("a bad sums file is taken")
    };
    assert!(e.to_string().contains("stage.tar.sha512"), "{e}");
}
