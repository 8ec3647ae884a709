//! Typed identifiers. Every id that crosses a layer is one of these newtypes, parsed at the edge
//! (path, body, token, tenant file) and never handled as a bare `Uuid` or `String` inside.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for the deterministic ids Allot derives from names (tenant files, demo data), so that
/// applying the same tenant file twice produces the same objects.
const ALLOT_NAMESPACE: Uuid = Uuid::from_u128(0x6a1d_7c3e_94b2_4f0e_8d55_a110_7000_0001);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            #[must_use]
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// An id derived from `parts`, stable across runs and machines.
            #[must_use]
            pub fn derived(parts: &[&str]) -> Self {
                let mut name = String::from(stringify!($name));
                for p in parts {
                    name.push('\u{1f}');
                    name.push_str(p);
                }
                Self(Uuid::new_v5(&ALLOT_NAMESPACE, name.as_bytes()))
            }

            /// Parses the 8-4-4-4-12 form (any case, optional braces are refused).
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                parse_guid(s).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

/// A string that is not a GUID in the 8-4-4-4-12 form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid GUID")]
pub struct InvalidId(pub String);

/// Graph accepts GUIDs only in the hyphenated 36-character form; `uuid` also accepts the simple and
/// braced forms, which we refuse so that an id never has two spellings.
pub fn parse_guid(s: &str) -> Result<Uuid, InvalidId> {
    if s.len() != 36 {
        return Err(InvalidId(s.to_owned()));
    }
    Uuid::parse_str(s).map_err(|_| InvalidId(s.to_owned()))
}

uuid_id!(
    /// A directory (tenant) id: the `tid` claim.
    TenantId
);
uuid_id!(
    /// A user object id.
    UserId
);
uuid_id!(
    /// A group object id.
    GroupId
);
uuid_id!(
    /// A product (SKU) id: `subscribedSku.skuId`.
    SkuId
);
uuid_id!(
    /// A service plan id: `servicePlanInfo.servicePlanId`, what `disabledPlans` holds.
    ServicePlanId
);
uuid_id!(
    /// A commerce subscription id (one pool of units of one SKU).
    SubscriptionId
);
uuid_id!(
    /// An application (client) id: the `appid` claim.
    AppId
);

/// Where a user's license comes from: assigned directly, or inherited from a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Direct,
    Group(GroupId),
}

impl Source {
    /// The group id for inherited licenses; `None` for direct ones (Graph's `assignedByGroup`).
    #[must_use]
    pub const fn group(self) -> Option<GroupId> {
        match self {
            Self::Direct => None,
            Self::Group(g) => Some(g),
        }
    }

    /// Stored form: the nil UUID stands for a direct assignment so the column can be part of a key.
    #[must_use]
    pub fn to_uuid(self) -> Uuid {
        match self {
            Self::Direct => Uuid::nil(),
            Self::Group(g) => g.as_uuid(),
        }
    }

    #[must_use]
    pub fn from_uuid(u: Uuid) -> Self {
        if u.is_nil() {
            Self::Direct
        } else {
            Self::Group(GroupId::from_uuid(u))
        }
    }
}

/// How a request names a user: by object id, or by user principal name. Graph, Partner Center
/// and cloudLicensing read a path segment or a key the same way: a 36-character GUID is an id,
/// anything with an `@` is a UPN (matched without regard to case), and nothing else names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    Id(UserId),
    Upn(String),
}

impl UserKey {
    /// The longest key looked up at all (far above any UPN Entra allows).
    pub const MAX_LEN: usize = 1024;

    /// `None` when `key` cannot name a user: neither a GUID nor a UPN, too long, or holding a NUL
    /// (which no stored UPN has, and PostgreSQL cannot even compare).
    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        if key.len() > Self::MAX_LEN || key.contains('\0') {
            return None;
        }
        match UserId::parse(key) {
            Ok(id) => Some(Self::Id(id)),
            Err(_) if key.contains('@') => Some(Self::Upn(key.to_owned())),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_the_hyphenated_form() {
        assert!(SkuId::parse("6fd2c87f-b296-42f0-b197-1e91e994b900").is_ok());
        assert!(SkuId::parse("6FD2C87F-B296-42F0-B197-1E91E994B900").is_ok());
        assert!(SkuId::parse("6fd2c87fb29642f0b1971e91e994b900").is_err());
        assert!(SkuId::parse("{6fd2c87f-b296-42f0-b197-1e91e994b900}").is_err());
        assert!(SkuId::parse("not-a-guid").is_err());
        assert!(SkuId::parse("").is_err());
    }

    #[test]
    fn display_is_lowercase_hyphenated() {
        let id = SkuId::parse("6FD2C87F-B296-42F0-B197-1E91E994B900").unwrap();
        assert_eq!(id.to_string(), "6fd2c87f-b296-42f0-b197-1e91e994b900");
    }

    #[test]
    fn derived_ids_are_stable_and_typed() {
        assert_eq!(UserId::derived(&["a", "b"]), UserId::derived(&["a", "b"]));
        assert_ne!(
            UserId::derived(&["a", "b"]).as_uuid(),
            GroupId::derived(&["a", "b"]).as_uuid()
        );
        assert_ne!(UserId::derived(&["ab"]), UserId::derived(&["a", "b"]));
    }

    #[test]
    fn source_round_trips_through_its_stored_form() {
        let g = GroupId::new();
        assert_eq!(Source::from_uuid(Source::Group(g).to_uuid()), Source::Group(g));
        assert_eq!(Source::from_uuid(Source::Direct.to_uuid()), Source::Direct);
    }

    #[test]
    fn a_user_key_is_a_guid_or_a_upn() {
        let id = "6fd2c87f-b296-42f0-b197-1e91e994b900";
        assert_eq!(UserKey::parse(id), Some(UserKey::Id(UserId::parse(id).unwrap())));
        assert_eq!(
            UserKey::parse("Ann@Contoso.example"),
            Some(UserKey::Upn("Ann@Contoso.example".into()))
        );
        assert_eq!(UserKey::parse("ann"), None);
        assert_eq!(UserKey::parse("6fd2c87fb29642f0b1971e91e994b900"), None);
        assert_eq!(UserKey::parse("a\0@contoso.example"), None);
        assert_eq!(
            UserKey::parse(&format!("{}@x", "a".repeat(UserKey::MAX_LEN))),
            None
        );
    }
}
