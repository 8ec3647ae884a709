//! A YAML document's size once its aliases are expanded, checked before it is deserialized. An
//! alias repeats its anchor's node, and aliases inside anchors multiply ("billion laughs": a
//! 49 KB file can stand for gigabytes). The walk below visits the expanded document without
//! keeping any of it (the parser hands it borrowed text) and stops as soon as the document
//! grows past twice its own size (plus a little): a tenant file can use aliases, but not to
//! multiply itself.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::TenantFileError;

/// Nodes and scalar bytes a document of `len` bytes may expand to.
fn budget(len: usize) -> (usize, usize) {
    (
        len.saturating_add(10_000),
        len.saturating_mul(2).saturating_add(64 * 1024),
    )
}

pub(super) fn check(text: &str) -> Result<(), TenantFileError> {
    let left = Cell::new(budget(text.len()));
    let de = serde_norway::Deserializer::from_str(text);
    Walk { left: &left }
        .deserialize(de)
        .map_err(|e| TenantFileError::Syntax(e.to_string()))
}

#[derive(Clone, Copy)]
struct Walk<'b> {
    left: &'b Cell<(usize, usize)>,
}

impl Walk<'_> {
    fn take<E: de::Error>(self, bytes: usize) -> Result<(), E> {
        let (nodes, left) = self.left.get();
        match (nodes.checked_sub(1), left.checked_sub(bytes)) {
            (Some(n), Some(b)) => {
                self.left.set((n, b));
                Ok(())
            }
            _ => Err(E::custom(
                "the document expands far beyond its own size (YAML aliases repeating nodes); write it without them",
            )),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.take(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.take(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.take(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.take(0)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.take(s.len())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.take(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.take(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.take(0)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.take(0)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic: nine levels, each a list of nine aliases of the one above.
    pub(crate) fn laughs() -> String {
        let mut y = String::from("a0: &a0 \"lol lol lol lol lol lol lol lol lol lol\"\n");
        for i in 1..10 {
            let refs: Vec<String> = (0..9).map(|_| format!("*a{}", i - 1)).collect();
            y.push_str(&format!("a{i}: &a{i} [{}]\n", refs.join(", ")));
        }
        y
    }

    #[test]
    fn a_billion_laughs_is_refused_and_modest_aliases_pass() {
        let e = check(&laughs()).unwrap_err();
        assert!(e.to_string().contains("expands far beyond"), "{e}");
        check("base: &b {usageLocation: US}\nusers: [*b, *b, *b]\n").unwrap();
        check("tenants: []\n").unwrap();
    }
}
