//! A revision per couple that the database itself moves: every insert,
//! update or delete of a row belonging to a couple (directly, or through a
//! boundary or a check-in) adds one to `couples.revision` in the same
//! transaction, and so does a change to a member's name, address, roles or
//! standing (care teams show them) for every couple of the practice. The
//! couple overview is kept in memory under the revision it was read at, so
//! a reader who finds the revision unchanged may use it; triggers, not the
//! service's code, keep the count, so no write path can forget it.
//!
//! The access log (`access_events`) is left out on purpose: a read appends
//! to it, and a read must not make the couple look changed.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose rows carry the couple they belong to.
pub const BY_COUPLE: &[&str] = &[
    "boundaries",
    "care_team_members",
    "consent_scans",
    "consents",
    "contract_checkins",
    "craft_items",
    "custom_milestones",
    "disclosures",
    "emergency_accesses",
    "lapse_steps",
    "lapses",
    "note_addenda",
    "partners",
    "private_notes",
    "recovery_contracts",
    "relapse_plans",
    "safety_flags",
    "safety_plans",
    "session_agendas",
    "session_notes",
    "therapy_sessions",
];

/// Tables whose rows belong to a couple through a parent row: (table, the
/// column naming the parent, the parent's table).
pub const THROUGH_PARENT: &[(&str, &str, &str)] = &[
    ("boundary_events", "boundary_id", "boundaries"),
    ("boundary_versions", "boundary_id", "boundaries"),
    ("contract_checkin_revisions", "checkin_id", "contract_checkins"),
];

/// The couple a row of `table` belongs to, as an SQL expression over the
/// trigger's row `row` (NEW or OLD).
fn couple_of(table: &str, row: &str) -> String {
    match THROUGH_PARENT.iter().find(|(t, _, _)| *t == table) {
        Some((_, column, parent)) => format!("(SELECT couple_id FROM {parent} WHERE id = {row}.{column})"),
        None => format!("{row}.couple_id"),
    }
}

fn tables() -> impl Iterator<Item = &'static str> {
    BY_COUPLE.iter().copied().chain(THROUGH_PARENT.iter().map(|(t, _, _)| *t))
}

/// A member change the care team's names show.
const MEMBER_SHOWN: &str = "OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.email IS DISTINCT FROM NEW.email \
     OR OLD.roles IS DISTINCT FROM NEW.roles OR OLD.active IS DISTINCT FROM NEW.active";

fn postgres_up() -> Vec<String> {
    let mut sql = vec!["ALTER TABLE couples ADD COLUMN revision BIGINT NOT NULL DEFAULT 0".to_owned()];
    for table in tables() {
        let (new, old) = (couple_of(table, "NEW"), couple_of(table, "OLD"));
        sql.push(format!(
            "CREATE FUNCTION tandem_revise_by_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF TG_OP = 'DELETE' THEN UPDATE couples SET revision = revision + 1 WHERE id = {old}; \
             ELSE UPDATE couples SET revision = revision + 1 WHERE id = {new}; \
             IF TG_OP = 'UPDATE' THEN UPDATE couples SET revision = revision + 1 WHERE id = {old} AND id IS DISTINCT FROM {new}; END IF; \
             END IF; RETURN NULL; END $$"
        ));
        sql.push(format!(
            "CREATE TRIGGER tandem_revise_couple AFTER INSERT OR UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION tandem_revise_by_{table}()"
        ));
    }
    sql.push(
        "CREATE FUNCTION tandem_revise_by_members() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         UPDATE couples SET revision = revision + 1 WHERE practice_id = NEW.practice_id; RETURN NULL; END $$"
            .to_owned(),
    );
    sql.push(format!(
        "CREATE TRIGGER tandem_revise_couple AFTER UPDATE ON members FOR EACH ROW WHEN ({MEMBER_SHOWN}) \
         EXECUTE FUNCTION tandem_revise_by_members()"
    ));
    sql
}

fn sqlite_up() -> Vec<String> {
    let mut sql = vec!["ALTER TABLE couples ADD COLUMN revision BIGINT NOT NULL DEFAULT 0".to_owned()];
    let bump = |id: String| format!("UPDATE couples SET revision = revision + 1 WHERE id = {id};");
    for table in tables() {
        let (new, old) = (couple_of(table, "NEW"), couple_of(table, "OLD"));
        sql.push(format!("CREATE TRIGGER tandem_revise_couple_{table}_insert AFTER INSERT ON {table} BEGIN {} END", bump(new.clone())));
        sql.push(format!(
            "CREATE TRIGGER tandem_revise_couple_{table}_update AFTER UPDATE ON {table} BEGIN {} {} END",
            bump(new.clone()),
            bump(format!("{old} AND {old} IS NOT {new}"))
        ));
        sql.push(format!("CREATE TRIGGER tandem_revise_couple_{table}_delete AFTER DELETE ON {table} BEGIN {} END", bump(old)));
    }
    sql.push(format!(
        "CREATE TRIGGER tandem_revise_couple_members_update AFTER UPDATE ON members WHEN {} \
         BEGIN UPDATE couples SET revision = revision + 1 WHERE practice_id = NEW.practice_id; END",
        MEMBER_SHOWN.replace("IS DISTINCT FROM", "IS NOT")
    ));
    sql
}

fn postgres_down() -> Vec<String> {
    let mut sql: Vec<String> = tables()
        .flat_map(|table| {
            [format!("DROP TRIGGER tandem_revise_couple ON {table}"), format!("DROP FUNCTION tandem_revise_by_{table}()")]
        })
        .collect();
    sql.push("DROP TRIGGER tandem_revise_couple ON members".into());
    sql.push("DROP FUNCTION tandem_revise_by_members()".into());
    sql.push("ALTER TABLE couples DROP COLUMN revision".into());
    sql
}

fn sqlite_down() -> Vec<String> {
    let mut sql: Vec<String> = tables()
        .flat_map(|table| ["insert", "update", "delete"].map(|op| format!("DROP TRIGGER tandem_revise_couple_{table}_{op}")))
        .collect();
    sql.push("DROP TRIGGER tandem_revise_couple_members_update".into());
    sql.push("ALTER TABLE couples DROP COLUMN revision".into());
    sql
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, postgres_up()).await,
            _ => run(manager, sqlite_up()).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, postgres_down()).await,
            _ => run(manager, sqlite_down()).await,
        }
    }
}
