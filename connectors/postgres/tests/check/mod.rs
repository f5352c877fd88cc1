//! `sluice check` for PostgreSQL: sources and targets that lack a
//! prerequisite are reported with the fix; healthy ones are reported Ok.

mod source;
mod target;

use sluice_postgres::{Finding, Severity};
use sluice_testkit::TestDatabase;

/// The findings about `subject` (exact match).
pub fn about<'a>(findings: &'a [Finding], subject: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.subject == subject).collect()
}

/// The one finding about `subject` of `severity`, or a panic showing all findings.
pub fn expect_one<'a>(findings: &'a [Finding], subject: &str, severity: Severity) -> &'a Finding {
    let matching: Vec<&Finding> = about(findings, subject).into_iter().filter(|f| f.severity == severity).collect();
    assert_eq!(matching.len(), 1, "expected one {severity:?} about {subject}, got {findings:#?}");
    matching[0]
}

/// A login role without privileges (trusted on loopback by the testkit's
/// pg_hba.conf), named after the database so tests do not collide; dropped
/// by the returned guard.
pub struct PlainRole {
    pub name: String,
    superuser_url: String,
}

impl PlainRole {
    pub async fn create(database: &TestDatabase) -> PlainRole {
        let name = format!("plain_{}", database.name);
        database.connect().await.batch_execute(&format!("CREATE ROLE \"{name}\" LOGIN")).await.unwrap();
        PlainRole { name, superuser_url: database.url() }
    }

    /// The database URL, logging in as this role.
    pub fn url(&self) -> String {
        self.superuser_url.replacen("postgres@", &format!("{}@", self.name), 1)
    }

    pub async fn drop(self, database: &TestDatabase) {
        let client = database.connect().await;
        client.batch_execute(&format!("DROP OWNED BY \"{0}\"; DROP ROLE \"{0}\"", self.name)).await.unwrap();
    }
}
