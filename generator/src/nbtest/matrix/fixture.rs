//! A fixture kernel as the matrix gives it: the version, SMP and intermodule state make-kernel
//! takes, its layout (prepared, unprepared, or a `make O=` split) and the .config lines dropped.

use std::sync::LazyLock;

use regex::Regex;

use super::raw::{RawFixture, RawKernel};
use super::validate::Ctx;
use super::{Fixture, Intermodule, Kernel, Layout};
use crate::base::error::Result;

static FIXTURE_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^2\.[46]\.[0-9]+$").unwrap());
/// A kernel configuration option, as .config names it.
static CONFIG_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^CONFIG_[A-Za-z0-9_]+$").unwrap());

/// A .config line as kconfig writes it: a bool/tristate value, a number or a quoted string.
static CONFIG_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^CONFIG_[A-Za-z0-9_]+=(y|m|-?[0-9]+|0x[0-9a-fA-F]+|"[^"\\\n]*")$"#).unwrap()
});

impl Ctx<'_> {
    /// A fixture tree of testkit/make-kernel.
    pub(super) fn fixture_kernel(&self, raw: &RawKernel, f: &RawFixture) -> Result<Kernel> {
        if let Some(d) = &raw.sha512 {
            return Err(self
                .loc
                .err(d, "a fixture kernel is written locally: it has no sha512"));
        }
        let version = self.loc.matching(
            &f.version,
            &FIXTURE_VERSION,
            "fixture version (want 2.4.N or 2.6.N)",
        )?;
        let is_26_16_or_17 = version == "2.6.16" || version == "2.6.17";
        if f.intermodule != Intermodule::Built && !is_26_16_or_17 {
            return Err(self.loc.err(
                &f.version,
                format!(
                    "intermodule = {:?} is for 2.6.16 and 2.6.17 only (make-kernel patches those)",
                    f.intermodule.as_str()
                ),
            ));
        }
        let drop_config = f
            .drop_config
            .iter()
            .map(|c| {
                self.loc.matching(
                    c,
                    &CONFIG_NAME,
                    "drop_config option (want CONFIG_[A-Za-z0-9_]+)",
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let set_config = f
            .set_config
            .iter()
            .map(|c| {
                self.loc.matching(
                    c,
                    &CONFIG_LINE,
                    "set_config line (want CONFIG_NAME=y, m, a number or a quoted string)",
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Kernel::Fixture(Fixture {
            version,
            smp: f.smp,
            intermodule: f.intermodule,
            layout: self.layout(f)?,
            drop_config,
            set_config,
        }))
    }

    fn layout(&self, f: &RawFixture) -> Result<Layout> {
        match (&f.layout, &f.split) {
            (Some(l), Some(_)) => Err(self.loc.err(
                l,
                "layout and split exclude each other: a split tree is prepared in its output tree",
            )),
            (None, None) => Ok(Layout::Prepared),
            (Some(l), None) => match l.get_ref().as_str() {
                "prepared" => Ok(Layout::Prepared),
                "unprepared" => Ok(Layout::Unprepared),
                other => Err(self.loc.err(
                    l,
                    format!("layout must be \"prepared\" or \"unprepared\", not {other:?} (a make O= tree: split = {{ src, out }})"),
                )),
            },
            (None, Some(s)) => {
                let s = s.get_ref();
                let src = self.absolute(&s.src, "split src")?;
                let out = self.absolute(&s.out, "split out")?;
                let nested = |a: &str, b: &str| a == b || b.starts_with(&format!("{a}/"));
                if nested(&src, &out) || nested(&out, &src) {
                    return Err(self.loc.err(
                        &s.out,
                        "split: src and out must be two trees, neither inside the other",
                    ));
                }
                Ok(Layout::Split {
                    src,
                    out,
                    mount_src: s.mount_src.unwrap_or(true),
                })
            }
        }
    }
}
