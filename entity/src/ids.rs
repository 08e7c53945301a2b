//! Ids that cross modules, typed: a function that takes a `CoupleId` cannot
//! be handed a member's id by mistake, and a path segment or JSON field that
//! names a couple is parsed as one. Each is stored exactly as the bare UUID
//! column it replaced, so no stored data changed.
//!
//! A bare `Uuid` still converts into each (`From<Uuid>`) and compares with
//! one: ids arrive untyped from outside (a parsed path, a test's fixture) and
//! become typed at the first function that takes them.
//!
//! The access log and its proof keep bare UUIDs on purpose: a logged id is a
//! fact about the past, hashed as it was written, and it outlives the row it
//! named.

use std::fmt;
use std::str::FromStr;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id for a row about to be inserted (time-ordered).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<Uuid> for $name {
            fn eq(&self, other: &Uuid) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for Uuid {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        /// Written as the bare UUID, as before the id was typed: logs and
        /// messages read the same.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::from_str(s).map(Self)
            }
        }

        /// A primary key of UUIDs is never generated from an integer.
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, DbErr> {
                Err(DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

typed_id! {
    /// A practice: the tenant every other row belongs to.
    PracticeId
}

typed_id! {
    /// A member of a practice: a counselor, supervisor, admin or partner.
    MemberId
}

typed_id! {
    /// A couple in care.
    CoupleId
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Typing an id must not change how it is written anywhere: in JSON
    /// (the API, browser sessions, change details), in paths and templates
    /// (`Display`/`FromStr`), or in logs (`Debug`).
    #[test]
    fn a_typed_id_reads_and_writes_as_its_bare_uuid() {
        let bare = Uuid::now_v7();
        let typed = CoupleId::from(bare);
        let json = serde_json::to_string(&typed).unwrap();
        assert_eq!(json, serde_json::to_string(&bare).unwrap());
        assert_eq!(serde_json::from_str::<CoupleId>(&json).unwrap(), typed);
        assert_eq!(typed.to_string(), bare.to_string());
        assert_eq!(format!("{typed:?}"), format!("{bare:?}"));
        assert_eq!(bare.to_string().parse::<CoupleId>().unwrap(), typed);
        assert!("not-a-uuid".parse::<MemberId>().is_err());
        assert!(serde_json::from_str::<PracticeId>("\"not-a-uuid\"").is_err());
        assert_eq!(typed, bare);
        assert_eq!(bare, typed);
        assert_eq!(Uuid::from(typed), bare);
    }

    /// What a column of a typed id holds is the UUID itself, so rows written
    /// before the ids were typed read back unchanged.
    #[test]
    fn a_typed_id_is_stored_as_a_uuid_value() {
        let bare = Uuid::now_v7();
        assert_eq!(sea_orm::Value::from(MemberId(bare)), sea_orm::Value::from(bare));
        assert_eq!(<MemberId as sea_orm::sea_query::ValueType>::column_type(), <Uuid as sea_orm::sea_query::ValueType>::column_type());
    }
}
