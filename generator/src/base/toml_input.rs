//! Files the user writes in TOML (the spec, matrices, lock files): read as UTF-8, parsed with
//! errors that name `file:line:column`, and values checked where they stand. The one place that
//! turns a byte offset or a toml error into a location.

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::base::error::{Error, Result};

/// Parses `text` (the content of `path`) into `T`; a syntax error or an unknown field is an input
/// error at its line and column, with the first sentence of toml's message (the rest repeats the
/// position and quotes the line).
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => Locator::new(path, text).at(span.start),
            None => path.display().to_string(),
        };
        Error::input(location, e.message().trim().to_string())
    })
}

/// Reads a TOML file the user wrote. Text that is not UTF-8 is bad input, named with its line,
/// column and byte offset; a file that cannot be read is an I/O failure.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    utf8_text(&path.display().to_string(), bytes)
}

/// `bytes` as text, or an input error at the first byte that is not UTF-8. `shown` names the file.
pub fn utf8_text(shown: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        Error::input(
            format!("{shown}:{line}:{col}"),
            format!(
                "invalid UTF-8 at byte {} (counting from 0); the file must be UTF-8 text",
                good.len()
            ),
        )
    })
}

/// Turns byte offsets in the spec into `file:line:column`.
pub struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Locator { path, text }
    }

    pub fn at(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{}:{}:{}", self.path.display(), line, col)
    }

    pub fn of<T>(&self, value: &Spanned<T>) -> String {
        self.at(value.span().start)
    }

    /// An input error at `value`'s position.
    pub fn err<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> Error {
        Error::input(self.of(value), message)
    }

    /// `value` as space-separated tokens, each matching `re`, joined by single spaces; an error at
    /// its position when there is none (`field` is empty) or one does not match (`what`).
    pub fn tokens(
        &self,
        value: &Spanned<String>,
        re: &regex::Regex,
        field: &str,
        what: &str,
    ) -> Result<String> {
        let tokens: Vec<&str> = value.get_ref().split_whitespace().collect();
        if tokens.is_empty() {
            return Err(self.err(value, format!("{field} is empty")));
        }
        if let Some(bad) = tokens.iter().find(|t| !re.is_match(t)) {
            return Err(self.err(value, format!("invalid {what} {bad:?} in {field}")));
        }
        Ok(tokens.join(" "))
    }

    /// `value` if `re` matches it all, else an error naming `what` at its position.
    pub fn matching(
        &self,
        value: &Spanned<String>,
        re: &regex::Regex,
        what: &str,
    ) -> Result<String> {
        if re.is_match(value.get_ref()) {
            Ok(value.get_ref().clone())
        } else {
            Err(self.err(value, format!("invalid {what} {:?}", value.get_ref())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_names_line_column_and_byte() {
        let err = utf8_text("spec.toml", b"a = 1\nb = \"x\xffy\"\n".to_vec()).unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::EXIT_BAD_INPUT);
        assert_eq!(
            err.to_string(),
            "spec.toml:2:7: invalid UTF-8 at byte 12 (counting from 0); the file must be UTF-8 text"
        );
        assert_eq!(utf8_text("x", b"ok\n".to_vec()).unwrap(), "ok\n");
    }
}
