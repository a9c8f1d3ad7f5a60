//! The steps after the emerges (emerge --config) and fixture .config edits.

use super::tests::{entry, expect_dir};
use super::*;

#[test]
fn set_config_replaces_the_option_and_its_not_set_comment() {
    let config = "CONFIG_SCSI=y\n# CONFIG_SCSI_QLA2XXX is not set\nCONFIG_CHR_DEV_SG=m\n";
    assert_eq!(
        edited_config(
            config,
            &["CONFIG_CHR_DEV_SG".into()],
            &["CONFIG_SCSI_QLA2XXX=m".into(), "CONFIG_SCSI=m".into()]
        ),
        "CONFIG_SCSI_QLA2XXX=m\nCONFIG_SCSI=m\n"
    );
}

#[test]
fn config_steps_are_judged_after_the_packages_by_their_own_rows() {
    let dir = expect_dir();
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n--config sys-libs/lib-compat\t1\t1\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("out/logs/2.emerge.log"),
        " * ERROR: there is no /etc/qla2xxx.conf\n",
    )
    .unwrap();
    let steps = |extra: &str| -> Vec<(String, Outcome, Option<String>)> {
        collect_packages(&entry(extra), dir.path())
            .into_iter()
            .map(|r| (r.atom, r.outcome, r.failure.map(|f| f.phase)))
            .collect()
    };
    let ok = ("sys-libs/lib-compat".to_string(), Outcome::Passed, None);
    let step = "--config sys-libs/lib-compat".to_string();
    // Must succeed: the failed run fails the entry.
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#),
        [
            ok.clone(),
            (step.clone(), Outcome::Failed, Some("config".into()))
        ]
    );
    // Must be refused with a message its log says: passes.
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"], refused = "no /etc/qla2xxx.conf" }"#),
        [ok.clone(), (step.clone(), Outcome::Passed, None)]
    );
    // Refused, but saying something else: fails.
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"], refused = "not a file" }"#)[1].2,
        Some("refused-without-message".into())
    );
    // Portage 2.0 and 2.1 exit 0 when pkg_config dies; the banner says it failed.
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n--config sys-libs/lib-compat\t0\t1\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("out/logs/2.emerge.log"),
        "!!! ERROR: sys-libs/lib-compat-1.4 failed.\n!!! there is no /etc/qla2xxx.conf\n",
    )
    .unwrap();
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#)[1].1,
        Outcome::Failed
    );
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"], refused = "no /etc/qla2xxx.conf" }"#)
            [1],
        (step.clone(), Outcome::Passed, None)
    );
    fs::write(
        dir.path().join("out/logs/2.emerge.log"),
        " * ERROR: sys-libs/lib-compat-1.4::nb-overlay failed (config phase):\n",
    )
    .unwrap();
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#)[1].1,
        Outcome::Failed
    );
    // Never run (the container stopped first): not run, not passed.
    fs::write(
        dir.path().join("out/packages.tsv"),
        "sys-libs/lib-compat\t0\t2\n",
    )
    .unwrap();
    assert_eq!(
        steps(r#"config = { atoms = ["sys-libs/lib-compat"] }"#)[1].1,
        Outcome::NotRun
    );
}

/// An entry with one package and the steps of `steps` (TOML tables), judged on `tsv` and the
/// steps' logs: each row's outcome and failed phase.
fn judged_steps(steps: &str, tsv: &str, logs: &[(usize, &str)]) -> Vec<(Outcome, Option<String>)> {
    let dir = expect_dir();
    fs::write(dir.path().join("out/packages.tsv"), tsv).unwrap();
    for (n, text) in logs {
        fs::write(dir.path().join(format!("out/logs/{n}.step.log")), text).unwrap();
    }
    collect_packages(&entry(steps), dir.path())
        .into_iter()
        .map(|r| (r.outcome, r.failure.map(|f| f.phase)))
        .collect()
}

#[test]
fn steps_are_judged_by_exit_status_and_output() {
    let steps = r#"
[[entry.steps]]
name = "pin"
run = "sh /var/db/repos/nb-overlay/scripts/nb-local-pin /x.tgz"
says = ["wrote"]
[[entry.steps]]
name = "refused"
run = "emerge -1 x"
exit = "nonzero"
says = ["Insufficient data"]
lacks = ["Traceback"]
[[entry.steps]]
name = "seven"
run = "exit 7"
exit = 7
"#;
    let tsv = "sys-libs/lib-compat\t0\t2\nstep pin\t0\t1\nstep refused\t1\t1\nstep seven\t7\t0\n";
    let good = [
        (2, "wrote /usr/local\n"),
        (3, "!!! Insufficient data for x\n"),
    ];
    assert!(judged_steps(steps, tsv, &good)
        .iter()
        .all(|(o, _)| *o == Outcome::Passed));
    // Each way a step can go wrong fails its row alone, the phase naming what was wrong.
    let bad = judged_steps(
        steps,
        "sys-libs/lib-compat\t0\t2\nstep pin\t1\t1\nstep refused\t1\t1\nstep seven\t0\t0\n",
        &[
            (2, "wrote\n"),
            (3, "Insufficient data\nTraceback (most recent call last)\n"),
        ],
    );
    assert_eq!(bad[0], (Outcome::Passed, None));
    assert_eq!(
        bad[1],
        (Outcome::Failed, Some("step: exit 1, want 0".into()))
    );
    assert_eq!(
        bad[2],
        (
            Outcome::Failed,
            Some("step: output says \"Traceback\"".into())
        )
    );
    assert_eq!(
        bad[3],
        (Outcome::Failed, Some("step: exit 0, want 7".into()))
    );
    let quiet = judged_steps(steps, tsv, &[(2, "nothing\n"), (3, "Insufficient data\n")]);
    assert_eq!(
        quiet[1],
        (Outcome::Failed, Some("step: output lacks \"wrote\"".into()))
    );
    // A step the container never reached is not run, and a refusal must say it.
    let cut = judged_steps(
        steps,
        "sys-libs/lib-compat\t0\t2\nstep pin\t0\t1\n",
        &good[..1],
    );
    assert_eq!(cut[2], (Outcome::NotRun, None));
    let text = judged_steps(
        steps,
        tsv,
        &[(2, "wrote\n"), (3, "emerge: no such package\n")],
    );
    assert_eq!(
        text[2],
        (
            Outcome::Failed,
            Some("step: output lacks \"Insufficient data\"".into())
        )
    );
}

#[test]
fn steps_run_in_order_in_the_container_script_each_in_a_bash_of_its_own() {
    let e = entry(
        "[[entry.steps]]\nname = \"a\"\nrun = \"echo 'it''s'; exit 3\"\n[[entry.steps]]\nname = \"b\"\nrun = \"true\"\n",
    );
    let s = script(&e);
    let a = s
        .find(r"bash -c 'echo '\''it'\'''\''s'\''; exit 3')")
        .expect(&s);
    let b = s.find("bash -c 'true')").expect(&s);
    assert!(a < b, "{s}");
    assert!(s.contains("'step a' \"$rc\""), "{s}");
    // Bash runs it there, so the quoting must give back the text: ask bash.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("printf %s {}", crate::base::shell::quote(&e.steps[0].run)),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), e.steps[0].run);
}
