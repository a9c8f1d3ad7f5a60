//! The view layer between the model and the templates: the model's values as an ebuild shows them,
//! wrapped to pkgcheck's line length and quoted for bash. Templates only place these strings.

use serde::Serialize;

use crate::base::shell;
use crate::regen::model::{Package, Version};

/// Generated lines stay under pkgcheck's limit of 120 characters (ExcessiveLineLength), with room
/// for the variable name in front.
const WRAP: usize = 70;

/// What an ebuild template shows of one version.
#[derive(Debug, Serialize)]
pub struct VersionView {
    /// SRC_URI entries, in distfile order, with ${P} where the URI spells the package and version
    /// out, as pkgcheck (StaticSrcUri) and every ebuild reader expect.
    pub src_uri: Vec<String>,
    /// The CONFIG_CHECK tokens, wrapped into lines continued with a tab.
    pub config_check: String,
    /// The ERROR_/WARNING_ message of each CONFIG_CHECK item, in the same order.
    pub messages: Vec<Message>,
}

#[derive(Debug, Serialize)]
pub struct Message {
    /// The variable, e.g. ERROR_CHR_DEV_SG.
    pub var: String,
    /// Its value: the wrapped message as one bash word.
    pub value: String,
}

pub fn version(package: &Package, v: &Version) -> VersionView {
    let tokens: Vec<&str> = v.config_check.iter().map(|c| c.token.as_str()).collect();
    let p = format!("{}-{}", package.name, v.version);
    VersionView {
        src_uri: v
            .distfiles
            .iter()
            .filter_map(|d| d.uri.as_deref())
            .map(|u| u.replace(&p, "${P}"))
            .collect(),
        config_check: wrap(&tokens.join(" ")).replace('\n', "\n\t"),
        messages: v
            .config_check
            .iter()
            .map(|c| Message {
                var: c.message_var.clone(),
                value: shell::quote(&wrap(&c.message)),
            })
            .collect(),
    }
}

/// Wraps at spaces only: textwrap's default would also break after `!` or `-`, splitting
/// CONFIG_CHECK tokens like `!SCSI_QLA_FC`.
fn wrap(text: &str) -> String {
    let options = textwrap::Options::new(WRAP)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false);
    textwrap::fill(text, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_config_check_tokens_whole() {
        let tokens = "MODULES SYSVIPC CHR_DEV_SG CHR_DEV_ST SCSI_MULTI_LUN ~!SCSI_QLA2XXX !SCSI_QLA_FC !SCSI_QLA21XX";
        for token in wrap(tokens).split_whitespace() {
            assert!(tokens.split(' ').any(|t| t == token), "{token} was split");
        }
        assert!(wrap(tokens).lines().all(|l| l.len() <= WRAP));
    }
}
