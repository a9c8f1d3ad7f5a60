use super::*;

#[test]
fn xml_escape_covers_markup() {
    assert_eq!(xml_escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c'");
}

/// A file without markup is shipped from generator/verbatim, not rendered: every template
/// holds at least one handlebars expression. Partials are not shipped files but text that
/// templates include (partials/elog-compat, in an ebuild and the eclass), so they may have none.
#[test]
fn every_template_has_markup() {
    let mut stack = vec![&TEMPLATES];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        if dir.path().starts_with("partials") {
            continue;
        }
        for file in dir.files() {
            let text = file.contents_utf8().expect("templates are UTF-8");
            assert!(
                text.contains("{{"),
                "{} has no template markup: move it to generator/verbatim/",
                file.path().display()
            );
            seen += 1;
        }
        stack.extend(dir.dirs());
    }
    assert!(seen > 10, "only {seen} templates found");
}

#[test]
fn verbatim_files_are_found_by_name_and_overlay_files_by_path() {
    assert!(verbatim_file("netbackup-support/nb-sysfiles").is_some());
    assert!(verbatim_file("netbackup-support/none").is_none());
    let overlay: Vec<String> = verbatim().into_iter().map(|(p, _)| p).collect();
    assert!(
        overlay.contains(&"scripts/nb-local-pin".to_string()),
        "{overlay:?}"
    );
    assert!(overlay
        .iter()
        .all(|p| !p.starts_with("overlay/") && !p.starts_with("files/")));
}
