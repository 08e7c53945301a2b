//! Values that columns hold as text, typed: a row read from the database
//! already holds one of the allowed values (or fails to load), so no code
//! converts strings by hand. Each is stored as the snake_case word the API
//! uses, exactly what the columns held before they were typed, so no stored
//! data changed. Only what follows from a value alone is here (the other
//! partner, who an audience includes); the rules that use them (who may read
//! what) live in the `tandem` crate's access module.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One of the two partners of a couple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum PartnerSlot {
    #[sea_orm(string_value = "a")]
    A,
    #[sea_orm(string_value = "b")]
    B,
}

impl PartnerSlot {
    pub fn other(self) -> PartnerSlot {
        match self {
            PartnerSlot::A => PartnerSlot::B,
            PartnerSlot::B => PartnerSlot::A,
        }
    }

    /// The audience of material about this partner alone.
    pub fn own_audience(self) -> Audience {
        match self {
            PartnerSlot::A => Audience::PartnerA,
            PartnerSlot::B => Audience::PartnerB,
        }
    }
}

/// Who besides the care team may read an item. Private notes have none: only
/// their author reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The care team (and their supervisors) only.
    #[sea_orm(string_value = "clinician")]
    Clinician,
    /// Both partners.
    #[sea_orm(string_value = "couple")]
    Couple,
    /// Partner A only.
    #[sea_orm(string_value = "partner_a")]
    PartnerA,
    /// Partner B only.
    #[sea_orm(string_value = "partner_b")]
    PartnerB,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum CoupleStatus {
    #[sea_orm(string_value = "intake")]
    Intake,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "paused")]
    Paused,
    #[sea_orm(string_value = "closed")]
    Closed,
}

impl Audience {
    /// Whether a partner in `slot` may read an item with this audience.
    pub fn includes_partner(self, slot: PartnerSlot) -> bool {
        matches!(
            (self, slot),
            (Audience::Couple, _) | (Audience::PartnerA, PartnerSlot::A) | (Audience::PartnerB, PartnerSlot::B)
        )
    }
}

/// Where a boundary agreement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum BoundaryStatus {
    /// Waiting for both partners' agreement.
    #[sea_orm(string_value = "proposed")]
    Proposed,
    /// Both partners agreed to the current wording.
    #[sea_orm(string_value = "agreed")]
    Agreed,
    /// Reworded; waiting for both partners to agree to the new version.
    #[sea_orm(string_value = "revised")]
    Revised,
    #[sea_orm(string_value = "retired")]
    Retired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum NoteStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "signed")]
    Signed,
}
