//! Matrices whose entries run on several stages: each `[[variant]]` names a stage, and every
//! entry is built once per variant, named `<entry>-<variant>` (ci/matrix-cases.toml runs its
//! cases on today's portage and on portage 2.1 this way).

use std::collections::BTreeSet;

use toml::Spanned;

use super::raw::*;
use super::validate::{Ctx, Defaults, FEATURE, NAME};
use super::*;
use crate::base::error::Result;

impl Ctx<'_> {
    /// A matrix gives its stage in [stage] or in its variants, not both; variant names are unique.
    pub(super) fn variant_rules(&self, raw: &RawMatrix) -> Result<()> {
        if let (Some(stage), Some(_)) = (&raw.stage, raw.variant.first()) {
            return Err(self.err(
                stage,
                "[stage] and [[variant]] exclude each other: give each variant its stage",
            ));
        }
        let mut names = BTreeSet::new();
        for v in &raw.variant {
            let name = &v.get_ref().name;
            if !names.insert(name.get_ref().clone()) {
                return Err(self.err(name, format!("duplicate variant name {:?}", name.get_ref())));
            }
        }
        Ok(())
    }

    /// The entry once per variant, named `<entry>-<variant>`, on the variant's stage and with its
    /// FEATURES added. The stage is the variant's alone: an entry of such a matrix has none.
    pub(super) fn entry_variants(
        &self,
        e: &RawEntry,
        variants: &[Spanned<RawVariant>],
        defaults: &Defaults,
    ) -> Result<Vec<Entry>> {
        if let Some(stage) = &e.stage {
            return Err(self.err(
                stage,
                "an entry of a matrix with [[variant]]s runs on the variants' stages: remove [entry.stage]",
            ));
        }
        let mut out = Vec::new();
        for v in variants {
            let v = v.get_ref();
            let suffix = self.matching(&v.name, &NAME, "variant name (want [a-z0-9._-]+)")?;
            let mut on_variant = defaults.clone();
            on_variant.stage = Some(self.stage(&v.stage)?);
            let mut entry = self.entry(e, &on_variant)?;
            entry.name = format!("{}-{suffix}", entry.name);
            for f in &v.require_features {
                let feature = self.matching(f, &FEATURE, "FEATURES token (want [a-z0-9-]+)")?;
                if !entry.require_features.contains(&feature) {
                    entry.require_features.push(feature);
                }
            }
            out.push(entry);
        }
        Ok(out)
    }
}
