//! Clinical records: couples and partners, care teams and supervision,
//! sessions and notes, private notes, boundaries, relapse-prevention and
//! safety plans, lapses and custom milestones. Structured content (note
//! sections, plan sections) is stored as JSON text, validated by the
//! application on the way in; everything a query filters on is a column.

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 15] = [
    "couples",
    "partners",
    "care_team_members",
    "supervisions",
    "therapy_sessions",
    "session_notes",
    "note_addenda",
    "private_notes",
    "boundaries",
    "boundary_versions",
    "boundary_events",
    "relapse_plans",
    "safety_plans",
    "lapses",
    "custom_milestones",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("couples")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(string("label"))
                    .col(string("status"))
                    .col(string("secrets_policy"))
                    .col(date("care_started_on"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("couples", "practice_id", "practices"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("partners")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("slot"))
                    .col(string("recovery_role"))
                    .col(string("full_name"))
                    .col(string_null("preferred_name"))
                    .col(string_null("pronouns"))
                    .col(date_null("date_of_birth"))
                    .col(string_null("phone"))
                    .col(string_null("email"))
                    .col(text_null("emergency_contact"))
                    .col(uuid_null("member_id"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("partners", "practice_id", "practices"))
                    .foreign_key(&mut fk("partners", "couple_id", "couples"))
                    .foreign_key(&mut fk("partners", "member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("care_team_members")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("member_id"))
                    .col(uuid("added_by"))
                    .col(timestamp_with_time_zone("added_at"))
                    .foreign_key(&mut fk("care_team_members", "practice_id", "practices"))
                    .foreign_key(&mut fk("care_team_members", "couple_id", "couples"))
                    .foreign_key(&mut fk("care_team_members", "member_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("supervisions")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("supervisor_id"))
                    .col(uuid("counselor_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("supervisions", "practice_id", "practices"))
                    .foreign_key(&mut fk("supervisions", "supervisor_id", "members"))
                    .foreign_key(&mut fk("supervisions", "counselor_id", "members"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("therapy_sessions")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(string("kind"))
                    .col(string_null("partner_slot"))
                    .col(string("modality"))
                    .col(text("attendees"))
                    .col(string_null("location"))
                    .col(boolean("telehealth"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("therapy_sessions", "practice_id", "practices"))
                    .foreign_key(&mut fk("therapy_sessions", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("session_notes")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("session_id"))
                    .col(uuid("author_id"))
                    .col(string("format"))
                    .col(text("content"))
                    .col(string("status"))
                    .col(uuid_null("signed_by"))
                    .col(timestamp_with_time_zone_null("signed_at"))
                    .col(uuid_null("cosigned_by"))
                    .col(timestamp_with_time_zone_null("cosigned_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("session_notes", "practice_id", "practices"))
                    .foreign_key(&mut fk("session_notes", "couple_id", "couples"))
                    .foreign_key(&mut fk("session_notes", "session_id", "therapy_sessions"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("note_addenda")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid("note_id"))
                    .col(uuid("author_id"))
                    .col(string("reason"))
                    .col(text("body"))
                    .col(string("audience"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("note_addenda", "practice_id", "practices"))
                    .foreign_key(&mut fk("note_addenda", "couple_id", "couples"))
                    .foreign_key(&mut fk("note_addenda", "note_id", "session_notes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("private_notes")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(uuid_null("session_id"))
                    .col(uuid("author_id"))
                    .col(text("body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("private_notes", "practice_id", "practices"))
                    .foreign_key(&mut fk("private_notes", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("boundaries")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("holder"))
                    .col(string("category"))
                    .col(string("audience"))
                    .col(string("status"))
                    .col(integer("current_version"))
                    .col(timestamp_with_time_zone_null("agreed_a_at"))
                    .col(uuid_null("agreed_a_by"))
                    .col(timestamp_with_time_zone_null("agreed_b_at"))
                    .col(uuid_null("agreed_b_by"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("boundaries", "practice_id", "practices"))
                    .foreign_key(&mut fk("boundaries", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("boundary_versions")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("boundary_id"))
                    .col(integer("number"))
                    .col(text("statement"))
                    .col(text("consequence"))
                    .col(date_null("effective_on"))
                    .col(date_null("review_on"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("boundary_versions", "practice_id", "practices"))
                    .foreign_key(&mut fk("boundary_versions", "boundary_id", "boundaries"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("boundary_events")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("boundary_id"))
                    .col(string("kind"))
                    .col(date("occurred_on"))
                    .col(text_null("note"))
                    .col(uuid("recorded_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("boundary_events", "practice_id", "practices"))
                    .foreign_key(&mut fk("boundary_events", "boundary_id", "boundaries"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("relapse_plans")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(integer("number"))
                    .col(text("content"))
                    .col(date_null("review_on"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("relapse_plans", "practice_id", "practices"))
                    .foreign_key(&mut fk("relapse_plans", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("safety_plans")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("owner"))
                    .col(string("audience"))
                    .col(text("content"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("safety_plans", "practice_id", "practices"))
                    .foreign_key(&mut fk("safety_plans", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("lapses")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("partner_slot"))
                    .col(date("occurred_on"))
                    .col(integer("days"))
                    .col(string("substance"))
                    .col(string_null("amount"))
                    .col(string_null("setting"))
                    .col(string_null("high_risk_category"))
                    .col(string("reported_by"))
                    .col(string("kind"))
                    .col(text_null("learned"))
                    .col(string_null("timeline_step"))
                    .col(boolean("safety_checked"))
                    .col(string("audience"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(integer("version"))
                    .foreign_key(&mut fk("lapses", "practice_id", "practices"))
                    .foreign_key(&mut fk("lapses", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("custom_milestones")
                    .col(pk_uuid("id"))
                    .col(uuid("practice_id"))
                    .col(uuid("couple_id"))
                    .col(string("title"))
                    .col(date("achieved_on"))
                    .col(string("audience"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("custom_milestones", "practice_id", "practices"))
                    .foreign_key(&mut fk("custom_milestones", "couple_id", "couples"))
                    .to_owned(),
            )
            .await?;

        for (table, cols, unique) in [
            ("couples", &["practice_id", "id"][..], false),
            ("partners", &["couple_id", "slot"][..], true),
            ("partners", &["member_id"][..], false),
            ("care_team_members", &["couple_id", "member_id"][..], true),
            ("care_team_members", &["member_id"][..], false),
            ("supervisions", &["supervisor_id", "counselor_id"][..], true),
            ("therapy_sessions", &["couple_id", "starts_at"][..], false),
            ("session_notes", &["couple_id", "id"][..], false),
            ("session_notes", &["session_id"][..], false),
            ("note_addenda", &["note_id"][..], false),
            ("private_notes", &["couple_id", "author_id"][..], false),
            ("boundaries", &["couple_id", "id"][..], false),
            ("boundary_versions", &["boundary_id", "number"][..], true),
            ("boundary_events", &["boundary_id"][..], false),
            ("relapse_plans", &["couple_id", "number"][..], true),
            ("safety_plans", &["couple_id", "id"][..], false),
            ("lapses", &["couple_id", "occurred_on"][..], false),
            ("custom_milestones", &["couple_id", "achieved_on"][..], false),
        ] {
            manager.create_index(index(table, cols, unique)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager.drop_table(Table::drop().table(Alias::new(*table)).to_owned()).await?;
        }
        Ok(())
    }
}
