//! Which OpenClaw is installed, and which optional fields it accepts (`../shared/research/openclaw-config.md`
//! §2.5). OpenClaw's schema is strict: a key it does not know stops the gateway, and `doctor --fix` deletes it.

use std::fmt;

use crate::openclaw::patch::Fields;

/// A calendar version `YYYY.M.D` (pre-release suffixes such as `-beta.1` are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// From `openclaw --version` (`OpenClaw 2026.9.6 (eb377ac)`) or `meta.lastTouchedVersion` (`2026.4.12-beta.1`).
    pub fn parse(text: &str) -> Option<Version> {
        text.split_whitespace().find_map(|word| {
            let core = word.split(['-', '+']).next()?;
            let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
            let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
            (parts.next().is_none() && (2020..3000).contains(&y)).then_some(Version(y, m, d))
        })
    }
}

/// The OpenClaw whose `config schema` is bundled (`schemas/openclaw-subset.schema.json`) and that CI tests with.
pub const NEWEST_KNOWN: Version = Version(2026, 9, 6);

/// The optional fields `version` accepts; `None` (not known) is treated as the newest known version.
pub fn fields_for(version: Option<Version>) -> Fields {
    let v = version.unwrap_or(NEWEST_KNOWN);
    Fields {
        tool_schema_profile: v >= Version(2026, 3, 0),
        timeout_seconds: (v >= Version(2026, 4, 27)).then_some(300),
        // Builds from 2026.4.10 block loopback unless asked; after 2026.5.12 a custom baseUrl's own origin is
        // trusted, and the flag would widen trust to every private range, so it is left out.
        allow_private_network: (Version(2026, 4, 10)..=Version(2026, 5, 12)).contains(&v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_the_cli_and_the_meta_stamp() {
        assert_eq!(Version::parse("OpenClaw 2026.9.6 (eb377ac)"), Some(Version(2026, 9, 6)));
        assert_eq!(Version::parse("2026.4.12-beta.1"), Some(Version(2026, 4, 12)));
        assert_eq!(Version::parse("OpenClaw dev"), None);
        assert_eq!(Version::parse("1.2.3"), None, "not a calendar version");
    }

    #[test]
    fn fields_follow_the_version_matrix() {
        let f = |y, m, d| fields_for(Some(Version(y, m, d)));
        assert_eq!(f(2026, 2, 27), Fields::BASELINE);
        assert!(f(2026, 3, 14).tool_schema_profile && f(2026, 3, 14).timeout_seconds.is_none());
        assert!(f(2026, 4, 12).allow_private_network && !f(2026, 4, 5).allow_private_network);
        assert_eq!(f(2026, 4, 27).timeout_seconds, Some(300));
        assert!(!f(2026, 9, 6).allow_private_network);
        assert_eq!(fields_for(None), f(2026, 9, 6));
    }
}
