use super::*;

fn results() -> Vec<EntryResult> {
    let pkg = |atom: &str, outcome, failure: Option<Failure>| PackageResult {
        atom: atom.into(),
        outcome,
        duration: Some(Duration::from_millis(1500)),
        failure,
    };
    let compile = Failure {
        phase: "compile".into(),
        log: "linux-2.6.16-fixture/logs/qla2x00-driver.log".into(),
    };
    vec![
        EntryResult {
            name: "linux-2.6.15-fixture".into(),
            status: Status::Passed,
            duration: Duration::from_millis(65_400),
            failure: None,
            packages: vec![
                pkg("app-backup/netbackup-support", Outcome::Passed, None),
                pkg(">=sys-block/qla2x00-driver-8", Outcome::Passed, None),
            ],
            skip_reason: None,
            checks: vec![],
        },
        EntryResult {
            name: "linux-2.6.16-fixture".into(),
            status: Status::Failed,
            duration: Duration::from_millis(12_345),
            failure: Some(compile.clone()),
            packages: vec![
                pkg("app-backup/netbackup-support", Outcome::Passed, None),
                pkg(
                    ">=sys-block/qla2x00-driver-8",
                    Outcome::Failed,
                    Some(compile),
                ),
            ],
            skip_reason: None,
            checks: vec![],
        },
        EntryResult {
            name: "linux-2.4.27-smp".into(),
            status: Status::Failed,
            duration: Duration::from_millis(2_000),
            failure: Some(Failure {
                phase: "fetch-stage".into(),
                log: "linux-2.4.27-smp/logs/fetch.log".into(),
            }),
            packages: vec![PackageResult {
                atom: "<sys-block/qla2x00-driver-8".into(),
                outcome: Outcome::NotRun,
                duration: None,
                failure: None,
            }],
            skip_reason: None,
            checks: vec![],
        },
        EntryResult {
            name: "linux-2.6.18".into(),
            status: Status::SkippedCached,
            duration: Duration::ZERO,
            failure: None,
            packages: vec![pkg("sys-libs/lib-compat", Outcome::SkippedCached, None)],
            skip_reason: None,
            checks: vec![],
        },
    ]
}

#[test]
fn summary_has_stable_fields_and_totals() {
    let text = summary_json("ci/matrix-local.toml", &results());
    assert_eq!(text, summary_json("ci/matrix-local.toml", &results()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["totals"]["entries"], 4);
    assert_eq!(v["totals"]["failed"], 2);
    assert_eq!(v["totals"]["packages_failed"], 1);
    assert_eq!(v["entries"][1]["status"], "failed");
    assert_eq!(v["entries"][1]["failure"]["phase"], "compile");
    assert_eq!(v["entries"][1]["duration_seconds"], 12.345);
    assert_eq!(v["entries"][2]["packages"][0]["outcome"], "not-run");
    assert_eq!(v["entries"][3]["status"], "skipped-cached");
    // Field order is the declaration order, not alphabetical.
    let order = ["\"format\"", "\"matrix\"", "\"totals\"", "\"entries\""];
    let pos: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn junit_names_phase_and_log_of_a_failure() {
    let xml = junit_xml("ci/matrix-local.toml", &results()).unwrap();
    assert_eq!(xml, junit_xml("ci/matrix-local.toml", &results()).unwrap());
    let report = Report::deserialize_from_str(&xml).unwrap();
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "ci/matrix-local.toml");
    assert_eq!(suite.test_cases.len(), 6);
    assert_eq!((suite.failures, suite.errors, suite.skipped), (1, 1, 1));
    let failed = &suite.test_cases[3];
    assert_eq!(
        failed.classname.as_ref().unwrap().as_str(),
        "linux-2.6.16-fixture"
    );
    assert_eq!(failed.name.as_str(), ">=sys-block/qla2x00-driver-8");
    let TestCaseStatus::NonSuccess { message, ty, .. } = &failed.status else {
        panic!("{:?}", failed.status)
    };
    assert_eq!(
        message.as_ref().unwrap().as_str(),
        "failed in phase compile; log: linux-2.6.16-fixture/logs/qla2x00-driver.log"
    );
    assert_eq!(ty.as_ref().unwrap().as_str(), "compile");
    let not_run = &suite.test_cases[4];
    let TestCaseStatus::NonSuccess { message, .. } = &not_run.status else {
        panic!()
    };
    assert!(message.as_ref().unwrap().as_str().contains("fetch-stage"));
    assert!(!xml.contains("timestamp"), "{xml}");
}

#[test]
fn junit_escapes_odd_names() {
    let odd = "a<b>&\"c'\u{1b}[31m\u{7}";
    let r = vec![EntryResult {
        name: odd.into(),
        status: Status::Failed,
        duration: Duration::from_secs(1),
        failure: Some(Failure {
            phase: "<compile & \"link\">".into(),
            log: "logs/<odd> & 'file'.log".into(),
        }),
        packages: vec![],
        skip_reason: None,
        checks: vec![],
    }];
    let xml = junit_xml(odd, &r).unwrap();
    assert!(!xml.contains("a<b>"), "{xml}");
    assert!(xml.contains("&lt;") && xml.contains("&amp;"), "{xml}");
    // It parses back, and what XML can hold survives; the ANSI colour sequence and the bell
    // cannot be held, so quick-junit drops them.
    let report = Report::deserialize_from_str(&xml).unwrap();
    let case = &report.test_suites[0].test_cases[0];
    assert_eq!(case.name.as_str(), "a<b>&\"c'");
    let TestCaseStatus::NonSuccess { message, .. } = &case.status else {
        panic!()
    };
    assert_eq!(
        message.as_ref().unwrap().as_str(),
        "failed in phase <compile & \"link\">; log: logs/<odd> & 'file'.log"
    );
}

#[test]
fn table_is_aligned() {
    let t = table(&results());
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 6, "{t}");
    assert!(lines[0].starts_with("ENTRY"));
    // Every column starts at the same place on each row.
    let col = lines[0].find("STATUS").unwrap();
    for l in &lines[1..5] {
        assert_eq!(&l[col - 2..col], "  ", "{t}");
        assert_ne!(&l[col..col + 1], " ", "{t}");
    }
    assert!(
        lines[1].contains("1m05s") && lines[1].contains("2/2 passed"),
        "{t}"
    );
    assert!(lines[2].contains("compile (linux-2.6.16-fixture/logs/qla2x00-driver.log)"));
    assert_eq!(
        lines[5],
        "4 entries: 1 passed, 2 failed, 1 skipped (cached)"
    );
    assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3s");
}

#[test]
fn a_skipped_entry_says_why_everywhere_and_never_passes() {
    let why = "bash-3.1.tar.xz: not in /nowhere/era";
    let atoms = ["sys-libs/lib-compat".to_string()];
    let mut r = results();
    r.push(EntryResult::skipped("era-2.1.1-fixture", &atoms, why));
    let v: serde_json::Value = serde_json::from_str(&summary_json("m.toml", &r)).unwrap();
    assert_eq!(v["totals"]["passed"], 1);
    assert_eq!(v["totals"]["skipped"], 1);
    assert_eq!(v["entries"][4]["status"], "skipped");
    assert_eq!(v["entries"][4]["skip_reason"], why);
    assert_eq!(v["entries"][4]["packages"][0]["outcome"], "skipped");
    assert!(v["entries"][0].get("skip_reason").is_none());
    let report = Report::deserialize_from_str(&junit_xml("m.toml", &r).unwrap()).unwrap();
    let suite = &report.test_suites[0];
    assert_eq!(suite.skipped, 2);
    let case = suite.test_cases.last().unwrap();
    let TestCaseStatus::Skipped { message, .. } = &case.status else {
        panic!("{:?}", case.status)
    };
    assert_eq!(
        message.as_ref().unwrap().as_str(),
        format!("SKIPPED: {why}")
    );
    let t = table(&r);
    let row = t
        .lines()
        .find(|l| l.starts_with("era-2.1.1-fixture"))
        .unwrap();
    let cells: Vec<&str> = row.split("  ").filter(|c| !c.trim().is_empty()).collect();
    assert_eq!(
        cells[1..].iter().map(|c| c.trim()).collect::<Vec<_>>(),
        ["skipped", "0.0s", "0/1 passed", &format!("SKIPPED: {why}")],
        "{t}"
    );
    assert!(
        t.ends_with(
            "5 entries: 1 passed, 2 failed, 1 skipped (cached), 1 SKIPPED (cannot run here)\n"
        ),
        "{t}"
    );
}

#[test]
fn checks_are_phases_of_their_entry_in_both_reports() {
    let failure = Failure {
        phase: "check-load-order".into(),
        log: "linux-2.6.18-real/out/checks/load-order.log".into(),
    };
    let r = vec![EntryResult {
        name: "linux-2.6.18-real".into(),
        status: Status::Failed,
        duration: Duration::from_secs(60),
        failure: Some(failure.clone()),
        packages: vec![PackageResult {
            atom: ">=sys-block/qla2x00-driver-8".into(),
            outcome: Outcome::Passed,
            duration: Some(Duration::from_secs(24)),
            failure: None,
        }],
        skip_reason: None,
        checks: vec![
            CheckResult {
                name: "depmod".into(),
                outcome: Outcome::Passed,
                failure: None,
            },
            CheckResult {
                name: "load-order".into(),
                outcome: Outcome::Failed,
                failure: Some(failure),
            },
        ],
    }];
    let v: serde_json::Value = serde_json::from_str(&summary_json("m.toml", &r)).unwrap();
    assert_eq!(v["entries"][0]["checks"][0]["outcome"], "passed");
    assert_eq!(
        v["entries"][0]["checks"][1]["failure"]["phase"],
        "check-load-order"
    );
    // Entries without checks keep the summary they had.
    let plain: serde_json::Value =
        serde_json::from_str(&summary_json("m.toml", &results())).unwrap();
    assert!(plain["entries"][0].get("checks").is_none());
    let report = Report::deserialize_from_str(&junit_xml("m.toml", &r).unwrap()).unwrap();
    let suite = &report.test_suites[0];
    assert_eq!(suite.test_cases.len(), 3);
    assert_eq!(suite.failures, 1);
    let case = &suite.test_cases[2];
    assert_eq!(case.name.as_str(), "check: load-order");
    assert_eq!(
        case.classname.as_ref().unwrap().as_str(),
        "linux-2.6.18-real"
    );
    let TestCaseStatus::NonSuccess { ty, .. } = &case.status else {
        panic!("{:?}", case.status)
    };
    assert_eq!(ty.as_ref().unwrap().as_str(), "check-load-order");
}

#[test]
fn write_puts_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results/x");
    write(&out, "m.toml", &results()).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["junit.xml", "summary.json"]);
    assert_eq!(entry_dir("e"), Path::new("target/nb-test/e"));
}

#[test]
fn failure_tails_show_the_end_of_each_failed_log_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("installs.log");
    std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
    let failure = Failure {
        phase: "expect-installs".into(),
        log: log.clone(),
    };
    let check = |name: &str| CheckResult {
        name: name.into(),
        outcome: Outcome::Failed,
        failure: Some(failure.clone()),
    };
    let r = EntryResult {
        name: "e-fixture".into(),
        status: Status::Failed,
        duration: Duration::ZERO,
        failure: Some(failure.clone()),
        packages: vec![],
        skip_reason: None,
        checks: vec![check("installs"), check("installs-again")],
    };
    let text = failure_tails(&[r], 2);
    assert_eq!(
        text,
        format!(
            "--- e-fixture: installs failed in phase expect-installs ({}):\n    two\n    three\n",
            log.display()
        )
    );
    assert_eq!(failure_tails(&results()[..1], 2), "");
}
