//! The one way to query practice data. A [`PracticeScope`] is only made from
//! an authenticated request (or an equally trusted source such as a
//! single-use link) and every query it builds is already filtered to that
//! practice, so a handler cannot forget the filter: there is no unscoped
//! query method to reach for. Tables that are looked up *before* the practice
//! is known (by the hash of a secret token) say so where they do it.

use sea_orm::{
    ColumnTrait, EntityTrait, PrimaryKeyTrait, QueryFilter, Select, UpdateMany, DeleteMany,
};
use entity::ids::PracticeId;

use entity::{
    access_events, api_tokens, audit_checkpoints, audit_verifications, boundaries, boundary_events, boundary_versions, care_team_members, contract_checkins, couples,
    custom_milestones, emergency_accesses, identity_providers, invitations, lapses, member_identities, members, note_addenda, partners, private_notes,
    recovery_contracts, relapse_plans, safety_plans, session_notes, sso_flows, supervisions, therapy_sessions,
    trusted_devices, safety_flags, craft_items, lapse_steps, session_agendas,
};
use entity::{consent_scans, consents, disclosures};

/// A table whose rows each belong to exactly one practice.
pub trait PracticeOwned: EntityTrait {
    fn practice_column() -> Self::Column;
}

/// A table whose rows each belong to one couple (and so to its practice).
/// Reached only through [`crate::access::CoupleAccess::records`].
pub trait CoupleOwned: PracticeOwned {
    fn couple_column() -> Self::Column;
}

/// A table of editable records carrying an optimistic-lock version.
pub trait VersionedRow: EntityTrait {
    fn id_column() -> Self::Column;
    fn version_column() -> Self::Column;
}

/// A couple's record whose readers are named by an `audience` column.
pub trait SharedRecord: CoupleOwned + VersionedRow {
    fn audience_column() -> Self::Column;
}

macro_rules! practice_owned {
    ($($table:ident),+ $(,)?) => {$(
        impl PracticeOwned for $table::Entity {
            fn practice_column() -> Self::Column {
                $table::Column::PracticeId
            }
        }
    )+};
}

macro_rules! couple_owned {
    ($($table:ident),+ $(,)?) => {$(
        impl CoupleOwned for $table::Entity {
            fn couple_column() -> Self::Column {
                $table::Column::CoupleId
            }
        }
    )+};
}

macro_rules! versioned_row {
    ($($table:ident),+ $(,)?) => {$(
        impl VersionedRow for $table::Entity {
            fn id_column() -> Self::Column {
                $table::Column::Id
            }
            fn version_column() -> Self::Column {
                $table::Column::Version
            }
        }
    )+};
}

practice_owned![
    access_events,
    audit_checkpoints,
    audit_verifications,
    emergency_accesses,
    contract_checkins,
    recovery_contracts,
    api_tokens,
    boundaries,
    boundary_events,
    boundary_versions,
    care_team_members,
    couples,
    custom_milestones,
    identity_providers,
    invitations,
    lapses,
    member_identities,
    members,
    note_addenda,
    partners,
    private_notes,
    relapse_plans,
    safety_plans,
    session_notes,
    sso_flows,
    supervisions,
    therapy_sessions,
    trusted_devices,
    consents,
    consent_scans,
    disclosures,
    safety_flags,
    craft_items,
    lapse_steps,
    session_agendas,
];

couple_owned![
    contract_checkins,
    recovery_contracts,
    boundaries,
    care_team_members,
    custom_milestones,
    lapses,
    note_addenda,
    partners,
    private_notes,
    relapse_plans,
    safety_plans,
    session_notes,
    therapy_sessions,
    consents,
    consent_scans,
    disclosures,
    safety_flags,
    craft_items,
    lapse_steps,
    session_agendas,
];

macro_rules! shared_record {
    ($($table:ident),+ $(,)?) => {$(
        impl SharedRecord for $table::Entity {
            fn audience_column() -> Self::Column {
                $table::Column::Audience
            }
        }
    )+};
}

shared_record![boundaries, lapses, safety_plans, craft_items, lapse_steps];

versioned_row![
    recovery_contracts,
    couples,
    partners,
    therapy_sessions,
    session_notes,
    private_notes,
    boundaries,
    safety_plans,
    lapses,
    craft_items,
    lapse_steps,
    session_agendas,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PracticeScope {
    practice_id: PracticeId,
}

impl PracticeScope {
    /// Only for code that has established which practice a request acts in.
    pub(crate) fn trusted(practice_id: impl Into<PracticeId>) -> Self {
        Self { practice_id: practice_id.into() }
    }

    /// For the benchmark harness, which sets up data the way a script would.
    #[doc(hidden)]
    pub fn for_benchmarks(practice_id: impl Into<PracticeId>) -> Self {
        Self { practice_id: practice_id.into() }
    }

    pub fn practice_id(&self) -> PracticeId {
        self.practice_id
    }

    /// All rows of `E` in this practice.
    pub fn select<E: PracticeOwned>(&self) -> Select<E> {
        E::find().filter(E::practice_column().eq(self.practice_id))
    }

    /// One row of `E` by id, only if it is in this practice.
    pub fn by_id<E>(&self, id: impl Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>) -> Select<E>
    where
        E: PracticeOwned,
    {
        E::find_by_id(id).filter(E::practice_column().eq(self.practice_id))
    }

    pub fn update_many<E: PracticeOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::practice_column().eq(self.practice_id))
    }

    pub fn delete_many<E: PracticeOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::practice_column().eq(self.practice_id))
    }
}
