//! Shell quoting, the one place for it: words that go into sh or bash, in generated ebuilds and
//! in the commands nbgen runs.

/// A variable name as sh and bash take it (`export NAME=...`).
pub static ENV_NAME: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").unwrap());

/// Quotes `s` as one single-quoted word for sh and bash, whatever it holds.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_expansions() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME \"x\""), r#"'$HOME "x"'"#);
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn sh_reads_back_what_was_quoted() {
        let word = "a'b \"c\" $d `e` \\f\n";
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", quote(word))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), word);
    }
}
