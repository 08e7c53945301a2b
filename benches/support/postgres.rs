//! A fresh PostgreSQL database for a benchmark, on the server the tests use
//! (`TANDEM_TEST_POSTGRES_URL`). Include with
//! `#[path = "support/postgres.rs"] mod postgres;`.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// The admin connection and the URL of a new, empty database `name`
/// (dropped first if a previous run left it); `None`, saying so, when no
/// PostgreSQL is configured.
pub async fn fresh(name: &str) -> Option<(DatabaseConnection, String)> {
    let Ok(admin_url) = std::env::var("TANDEM_TEST_POSTGRES_URL") else {
        println!("\nPostgreSQL: skipped (set TANDEM_TEST_POSTGRES_URL)");
        return None;
    };
    let admin = Database::connect(admin_url.clone()).await.unwrap();
    recreate(&admin, name).await;
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(name);
    Some((admin, url.to_string()))
}

/// Drops database `name` and creates it empty again.
pub async fn recreate(admin: &DatabaseConnection, name: &str) {
    drop(admin, name).await;
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
}

pub async fn drop(admin: &DatabaseConnection, name: &str) {
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
}
