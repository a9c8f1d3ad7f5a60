//! The handlebars templates, embedded in the binary from generator/templates at build time, and the
//! registry that renders them: strict (a missing variable is an error) and with no HTML escaping,
//! since almost everything generated is shell or plain text; XML goes through the `xml` helper.

use handlebars::{
    handlebars_helper, no_escape, Context, Handlebars, Helper, HelperResult, Output, RenderContext,
};
use std::sync::LazyLock;

use include_dir::{include_dir, Dir};
use serde::Serialize;

use crate::base::error::{Error, Result};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
/// Files the overlay ships as they are (no template syntax): `overlay/` at their path in the
/// overlay, `files/` where a spec entry names them (`verbatim = "..."`).
static VERBATIM: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/verbatim");

/// Every verbatim file of the overlay's own (verbatim/overlay/): (path relative to the overlay's
/// root, bytes), sorted by path.
pub fn verbatim() -> Vec<(String, &'static [u8])> {
    let Some(root) = VERBATIM.get_dir("overlay") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for file in dir.files() {
            let path = file.path().strip_prefix("overlay").unwrap_or(file.path());
            out.push((path.to_string_lossy().into_owned(), file.contents()));
        }
        stack.extend(dir.dirs());
    }
    out.sort();
    out
}

/// The package file verbatim/files/`name`, copied as it is, if there is one.
pub fn verbatim_file(name: &str) -> Option<&'static [u8]> {
    VERBATIM
        .get_file(std::path::Path::new("files").join(name))
        .map(|f| f.contents())
}

pub struct Templates {
    registry: Handlebars<'static>,
}

handlebars_helper!(join: |list: array, sep: str| {
    list.iter()
        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
        .collect::<Vec<_>>()
        .join(sep)
});

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn xml_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h
        .param(0)
        .ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex("xml", 0))?;
    let text = match param.value() {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    out.write(&xml_escape(&text))?;
    Ok(())
}

impl Templates {
    /// Registers every embedded template under its path relative to generator/templates.
    /// The templates built into the binary, registered once per process: every ebuild, entry
    /// script and bwrap call renders from the same registry.
    pub fn embedded() -> Result<&'static Templates> {
        static EMBEDDED: LazyLock<std::result::Result<Templates, (String, String)>> =
            LazyLock::new(|| {
                Templates::register().map_err(|e| match e {
                    Error::Render { template, message } => (template, message),
                    other => ("(embedded)".into(), other.to_string()),
                })
            });
        EMBEDDED
            .as_ref()
            .map_err(|(template, message)| Error::Render {
                template: template.clone(),
                message: message.clone(),
            })
    }

    fn register() -> Result<Self> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(no_escape);
        registry.register_helper("join", Box::new(join));
        registry.register_helper("xml", Box::new(xml_helper));
        let mut stack = vec![&TEMPLATES];
        while let Some(dir) = stack.pop() {
            for file in dir.files() {
                let name = file.path().to_string_lossy().into_owned();
                let text = file.contents_utf8().ok_or_else(|| Error::Render {
                    template: name.clone(),
                    message: "not UTF-8".into(),
                })?;
                registry
                    .register_template_string(&name, text)
                    .map_err(|e| Error::Render {
                        template: name.clone(),
                        message: e.to_string(),
                    })?;
            }
            stack.extend(dir.dirs());
        }
        Ok(Templates { registry })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }

    /// Renders `name` with `data`; the result always ends in exactly one newline.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String> {
        let mut text = self
            .registry
            .render(name, data)
            .map_err(|e| Error::Render {
                template: name.to_string(),
                message: e.to_string(),
            })?;
        let trimmed = text.trim_end_matches('\n').len();
        text.truncate(trimmed);
        text.push('\n');
        Ok(text)
    }
}

#[cfg(test)]
mod tests;
