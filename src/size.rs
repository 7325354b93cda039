//! Byte sizes as people write them in profiles: `8589934592`, `"8GiB"`, `"512MiB"`, `"8GB"`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// A number of bytes. Serialises as an integer; deserialises from an integer or a unit string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const fn gib(n: u64) -> Self {
        Self(n * GIB)
    }
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

/// Parse `"8GiB"`, `"1.5 GB"`, `"512MiB"`, `"4096"`; binary units are powers of 1024, SI units of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => KIB,
        "mib" => MIB,
        "gib" => GIB,
        "tib" => GIB * 1024,
        _ => return Err(size_error(text)),
    };
    if num.is_empty() || num.matches('.').count() > 1 || num.ends_with('.') {
        return Err(size_error(text));
    }
    if let Ok(whole) = num.parse::<u64>() {
        return whole.checked_mul(multiplier).ok_or_else(|| size_error(text));
    }
    let value: f64 = num.parse().map_err(|_| size_error(text))?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(size_error(text));
    }
    Ok(bytes.round() as u64)
}

fn size_error(text: &str) -> String {
    format!("{text:?} is not a size: expected a number of bytes, or a string like \"8GiB\", \"512MiB\" or \"8GB\"")
}

/// `1.5 GiB`, `512 MiB`, `900 B`: binary units, one decimal, for people.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= GIB {
        format!("{:.1} GiB", b / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.0} MiB", b / MIB as f64)
    } else if bytes >= KIB {
        format!("{:.0} KiB", b / KIB as f64)
    } else {
        format!("{bytes} B")
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human(self.0))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes, or a string like \"8GiB\", \"512MiB\" or \"8GB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is not a size: sizes cannot be negative")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ByteSize, E> {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
                    Ok(ByteSize(v as u64))
                } else {
                    Err(E::custom(format!("{v} is not a size: expected a whole number of bytes")))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Must agree with [`parse_size`]; a unit test feeds both the same inputs.
pub const SIZE_PATTERN: &str = r"^\s*[0-9]+(\.[0-9]+)?\s*([bB]|[kKmMgGtT][iI]?[bB]|[kKmMgGtT])?\s*$";

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size: a number of bytes, or a string like \"8GiB\", \"512MiB\" (powers of 1024) or \"8GB\" (powers of 1000).",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": SIZE_PATTERN }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_size("8GiB"), Ok(8 * GIB));
        assert_eq!(parse_size("512MiB"), Ok(512 * MIB));
        assert_eq!(parse_size("8GB"), Ok(8_000_000_000));
        assert_eq!(parse_size(" 1.5 GiB "), Ok(GIB + GIB / 2));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2gib"), Ok(2 * GIB));
        for bad in ["lots", "", "GiB", "1.2.3GiB", "8 parsecs", "-1GiB", "1.GiB", "99999999999999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn schema_pattern_agrees_with_parser() {
        // Same verdicts from the JSON schema pattern and the parser, for sizes that do not overflow.
        let pattern = jsonschema::validator_for(&serde_json::json!({"type":"string","pattern": SIZE_PATTERN})).unwrap();
        for text in [
            "8GiB",
            "512MiB",
            "8GB",
            " 1.5 GiB ",
            "4096",
            "2gib",
            "7b",
            "3k",
            "lots",
            "",
            "GiB",
            "1.2.3GiB",
            "8 parsecs",
            "-1GiB",
            "1.GiB",
        ] {
            let by_schema = pattern.is_valid(&serde_json::json!(text));
            let by_parser = parse_size(text).is_ok();
            assert_eq!(by_schema, by_parser, "{text:?}: schema {by_schema}, parser {by_parser}");
        }
    }

    #[test]
    fn human_units() {
        assert_eq!(human(5 * GIB), "5.0 GiB");
        assert_eq!(human(300 * MIB), "300 MiB");
        assert_eq!(human(12), "12 B");
    }
}
