//! Statements and commits sent ahead: the target executes one request
//! while Sluice prepares the next.
//!
//! mysql_async has no pipelining, and its futures drive the connection's
//! I/O themselves: a statement awaited in place leaves the writer idle while
//! the server executes it, and the server idle while the writer encodes the
//! next one. So the sink moves its connection into a spawned task that
//! executes the request and hands the connection back with the outcome
//! ([`Landed`]), and returns at once. Every later sink call first awaits that
//! task ([`MySqlSink::settle`]) — taking the connection back — and returns
//! its error if it failed, before it sends anything. At most one statement
//! is executing while the engine prepares the next, so memory holds one
//! statement's parameters in flight and one being built.
//!
//! Sent ahead: the multi-row upserts and deletes of `apply` (outside
//! savepoints), and commits ([`MySqlSink::commit_ahead`]): the offsets write
//! and `COMMIT` in one multi-statement query, run by a task that first
//! awaits the statement in flight, so the writer goes on with the next
//! transaction while the server finishes this one. `START TRANSACTION` goes
//! out with the first request of a transaction, in its task. A pipeline
//! runs on a single-threaded runtime, where a spawned task only runs while
//! the others wait: the sink yields once after spawning, so the request is
//! on the wire before the writer goes back to encoding, and the server
//! executes it meanwhile (the answer is read at the next wait). Everything else — reads (`select_text`,
//! descriptions, offsets), `insert_returning`, savepoints and every
//! statement inside one (dead-letter isolation needs each write's own
//! answer), partial updates and patches (their matched-row counts matter),
//! truncates, snapshot bulk inserts (a duplicate-key refusal switches the
//! chunk to upserts), DDL — settles first and runs in place.
//!
//! Why nothing is sent behind a statement whose outcome is unknown: unlike
//! PostgreSQL, a failed statement does not abort a MySQL transaction. InnoDB
//! rolls back that statement alone — a deadlock (1213) rolls back the whole
//! transaction, a lock wait timeout (1205) only the statement unless
//! `innodb_rollback_on_timeout` — and the transaction goes on, so a `COMMIT`
//! sent behind a refused statement would commit the rest of the transaction
//! and its position, and the refused rows would be lost for good (the
//! engine never replays a position the target holds). Hence:
//! - a statement is sent only once the one before it has succeeded
//!   ([`MySqlSink::send_ahead`] settles first);
//! - a commit's task sends neither the offsets write nor `COMMIT` unless
//!   the statement before it succeeded; after any failure it sends
//!   `ROLLBACK` (the sink already counts that transaction as over, and a
//!   later `START TRANSACTION` would commit it implicitly), and if that does
//!   not go through it drops the connection (the server rolls back the
//!   transaction of a closed session);
//! - once a statement sent ahead has failed, the sink refuses to send
//!   anything more in that transaction until the engine rolls it back
//!   (`failed`), even if the caller goes on after the error.
//!
//! A task that panics or is cancelled takes the connection with it (dropped:
//! the server rolls back its open transaction) and settles to an error; the
//! sink then fails every call but `rollback`, and the engine reconnects. A
//! sink dropped with a task in flight leaves the task to finish on its own:
//! a statement's transaction is rolled back when the task drops the
//! connection, and a commit lands whole or not at all — the offsets table
//! says which after a restart, and the engine never published it.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, Params};
use sluice_api::{Position, TableName};
use tokio::task::{JoinError, JoinHandle};

use super::MySqlSink;
use super::offsets;
use super::refusals::write_error;
use super::resolve::ResolvedTable;
use crate::error::MySqlError;

/// The sink's connection: at hand, or with the task of a request sent ahead.
pub(super) enum Link {
    Idle(Conn),
    Busy(InFlight),
    /// Gone with a task that panicked or was cancelled, or closed after a
    /// failed commit whose `ROLLBACK` did not go through.
    Lost,
}

/// The request sent ahead and not settled yet.
pub(super) struct InFlight {
    task: JoinHandle<Landed>,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A statement of the open transaction.
    Statement,
    /// A transaction's offsets write and `COMMIT`, behind the statement
    /// that was in flight when it was sent.
    Commit,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Statement => "statement sent ahead",
            Kind::Commit => "commit sent ahead",
        }
    }
}

/// What the task of a request hands back.
pub(super) struct Landed {
    /// `None` when the connection was closed (see [`Link::Lost`]).
    conn: Option<Conn>,
    /// A commit was confirmed: its `COMMIT` answered OK and everything
    /// before it succeeded.
    committed: bool,
    outcome: Result<(), MySqlError>,
}

/// A statement to send ahead.
pub(super) struct Statement {
    pub(super) sql: String,
    pub(super) params: Params,
    /// What it does, for its error: `upsert into d.t`.
    pub(super) what: String,
    /// The table whose refusals `refusals` translates (errors that quote
    /// row values); `None` keeps the driver error as it is.
    pub(super) refusals: Option<Arc<ResolvedTable>>,
}

impl Statement {
    pub(super) async fn execute(self, conn: &mut Conn) -> Result<(), MySqlError> {
        let Statement { sql, params, what, refusals } = self;
        match conn.exec_drop(sql, params).await {
            Ok(()) => Ok(()),
            Err(error) => Err(match refusals {
                Some(table) => write_error(&table, what, error),
                None => MySqlError::driver(what, error),
            }),
        }
    }
}

/// A commit's query (see `offsets::commit_sql`) and the offsets table it writes.
struct Recording {
    sql: String,
    offsets_table: TableName,
}

/// What a commit's task starts from.
enum After {
    /// Nothing in flight: the connection.
    Nothing(Conn),
    /// The statement in flight, awaited first.
    Statement(JoinHandle<Landed>),
}

impl Link {
    /// The connection, once nothing is in flight.
    pub(super) fn conn(&mut self) -> Result<&mut Conn, MySqlError> {
        match self {
            Link::Idle(conn) => Ok(conn),
            Link::Busy(_) => Err(MySqlError::Config {
                setting: "sink".into(),
                message: "The target connection was used while a request sent ahead was in flight; this is a \
                          Sluice bug"
                    .into(),
            }),
            Link::Lost => Err(lost()),
        }
    }

    /// The kind of the request in flight, if any.
    pub(super) fn in_flight(&self) -> Option<Kind> {
        match self {
            Link::Busy(in_flight) => Some(in_flight.kind),
            Link::Idle(_) | Link::Lost => None,
        }
    }
}

impl MySqlSink {
    /// See [`Sink::settle`](sluice_api::Sink::settle): awaits the request in
    /// flight, takes the connection back and returns the request's error if
    /// it failed. Cancel-safe: the task's handle leaves the sink only once
    /// the task has completed, and nothing after that awaits.
    pub async fn settle(&mut self) -> Result<(), MySqlError> {
        let Link::Busy(in_flight) = &mut self.link else { return Ok(()) };
        let joined = (&mut in_flight.task).await;
        let kind = in_flight.kind;
        let landed = landed(kind, joined);
        self.link = landed.conn.map_or(Link::Lost, Link::Idle);
        if landed.committed {
            self.confirmed += 1;
        }
        if landed.outcome.is_err() && kind == Kind::Statement {
            // The open transaction lost a statement: nothing more goes out
            // in it (see the module docs).
            self.failed = true;
        }
        landed.outcome
    }

    /// Settles, and refuses to go on in a transaction in which a statement
    /// sent ahead failed: every call that sends something starts here.
    pub(super) async fn ready(&mut self) -> Result<(), MySqlError> {
        self.settle().await?;
        self.check_not_failed()
    }

    pub(super) fn check_not_failed(&self) -> Result<(), MySqlError> {
        if !self.failed {
            return Ok(());
        }
        Err(MySqlError::Config {
            setting: "sink".into(),
            message: "A statement of the open target transaction failed (its error was returned); the transaction \
                      must be rolled back before anything else is written; this is a Sluice bug"
                .into(),
        })
    }

    /// The connection for a statement run in place inside the open
    /// transaction (opened if needed, its `START TRANSACTION` sent now).
    pub(super) async fn ready_in_transaction(&mut self) -> Result<&mut Conn, MySqlError> {
        self.ready().await?;
        self.begin();
        let conn = self.link.conn()?;
        if self.begin_pending {
            start_transaction(conn).await?;
            self.begin_pending = false;
        }
        Ok(conn)
    }

    /// Sends a statement of the open transaction (opened if needed) ahead,
    /// once the one before it has succeeded; inside a savepoint it runs in
    /// place and returns its own outcome.
    pub(super) async fn send_ahead(&mut self, statement: Statement) -> Result<(), MySqlError> {
        // Never behind a statement whose outcome is unknown or failed: a
        // MySQL transaction survives a failed statement (module docs).
        self.ready().await?;
        if self.savepoints > 0 {
            let conn = self.ready_in_transaction().await?;
            return statement.execute(conn).await;
        }
        self.begin();
        let conn = match std::mem::replace(&mut self.link, Link::Lost) {
            Link::Idle(conn) => conn,
            other => {
                self.link = other;
                return Err(self.link.conn().err().unwrap_or_else(lost));
            }
        };
        let begin = std::mem::take(&mut self.begin_pending);
        let task = tokio::spawn(async move {
            let mut conn = conn;
            let outcome = async {
                if begin {
                    // Not the statement without its transaction: in
                    // autocommit it would commit on its own.
                    start_transaction(&mut conn).await?;
                }
                statement.execute(&mut conn).await
            }
            .await;
            Landed { conn: Some(conn), committed: false, outcome }
        });
        self.link = Link::Busy(InFlight { task, kind: Kind::Statement });
        let_it_send().await;
        Ok(())
    }

    /// See [`Sink::commit_ahead`](sluice_api::Sink::commit_ahead): sends the
    /// offsets write and `COMMIT` behind the statement in flight and returns
    /// `false` (confirmed later, see [`Sink::confirmed_commits`](sluice_api::Sink::confirmed_commits)).
    /// At most one commit is in flight: an earlier one is settled first.
    pub async fn commit_ahead(&mut self, pipeline: &str, position: &Position) -> Result<bool, MySqlError> {
        if self.link.in_flight() == Some(Kind::Commit) {
            self.settle().await?;
        }
        self.check_not_failed()?;
        self.begin();
        let after = match std::mem::replace(&mut self.link, Link::Lost) {
            Link::Idle(conn) => After::Nothing(conn),
            Link::Busy(InFlight { task, .. }) => After::Statement(task),
            Link::Lost => return Err(lost()),
        };
        let begin = std::mem::take(&mut self.begin_pending);
        let sql = offsets::commit_sql(&self.offsets_table, self.incoming(), pipeline, &position.encode(), begin);
        let recording = Recording { sql, offsets_table: self.offsets_table.clone() };
        let task = tokio::spawn(commit_after(after, recording));
        self.link = Link::Busy(InFlight { task, kind: Kind::Commit });
        // Whatever COMMIT answers, the transaction is over: committed, rolled
        // back (by the server, or by the task after a failure), or unknown
        // with the connection gone (the offsets table tells which after a
        // restart).
        self.in_transaction = false;
        self.savepoints = 0;
        let_it_send().await;
        tracing::debug!(pipeline, position = %position, "target commit sent");
        Ok(false)
    }
}

/// The task of a commit: awaits the statement in flight, then — only if it
/// succeeded — writes the position and commits, in one round trip.
async fn commit_after(after: After, recording: Recording) -> Landed {
    let mut conn = match after {
        After::Nothing(conn) => conn,
        After::Statement(task) => match landed(Kind::Statement, task.await) {
            Landed { conn: Some(conn), outcome: Ok(()), .. } => conn,
            // InnoDB rolled back the failed statement alone and the
            // transaction is still open: committing it would commit the
            // rest without the refused rows.
            Landed { conn: Some(conn), outcome: Err(error), .. } => return abandon(conn, error).await,
            lost => return lost,
        },
    };
    let Recording { sql, offsets_table } = recording;
    // One query: the server runs none of its statements after one that
    // fails, so a refused position write is never followed by COMMIT.
    let outcome = conn
        .query_drop(sql)
        .await
        .map_err(|e| MySqlError::driver(format!("recording the position in {offsets_table} and committing"), e));
    match outcome {
        Ok(()) => Landed { conn: Some(conn), committed: true, outcome: Ok(()) },
        Err(error) => abandon(conn, error).await,
    }
}

/// Ends a transaction the sink counts as over after `error`: `ROLLBACK`,
/// or — if that does not go through — closes the connection, whose
/// transaction the server then rolls back.
async fn abandon(mut conn: Conn, error: MySqlError) -> Landed {
    match conn.query_drop("ROLLBACK").await {
        Ok(()) => Landed { conn: Some(conn), committed: false, outcome: Err(error) },
        Err(rollback) => {
            tracing::debug!(error = %rollback, "rollback after a failed commit did not go through; closing the connection");
            drop(conn);
            Landed { conn: None, committed: false, outcome: Err(error) }
        }
    }
}

/// Lets the task just spawned run up to its first wait, so its request is
/// on the wire before the caller goes back to preparing the next one. A
/// pipeline runs on a single-threaded runtime (`src/pipeline/mod.rs`),
/// where a spawned task runs only when the running one waits; the engine's
/// encoding of the next statement does not wait.
async fn let_it_send() {
    tokio::task::yield_now().await;
}

pub(super) async fn start_transaction(conn: &mut Conn) -> Result<(), MySqlError> {
    conn.query_drop("START TRANSACTION").await.map_err(|e| MySqlError::driver("begin", e))
}

/// A task's result; a task that panicked or was cancelled lost the
/// connection and becomes an error.
fn landed(kind: Kind, joined: Result<Landed, JoinError>) -> Landed {
    let error = match joined {
        Ok(landed) => return landed,
        Err(error) => error,
    };
    let outcome = if error.is_panic() {
        tracing::error!(request = kind.what(), "the task of a request sent ahead panicked; its connection is closed");
        MySqlError::Protocol {
            what: kind.what(),
            reason: "its task panicked (a Sluice bug); the connection is closed".into(),
        }
    } else {
        MySqlError::driver(
            format!("{} (its task was cancelled; the connection is closed)", kind.what()),
            mysql_async::Error::Driver(DriverError::ConnectionClosed),
        )
    };
    Landed { conn: None, committed: false, outcome: Err(outcome) }
}

/// The error of every call once the connection is lost.
fn lost() -> MySqlError {
    MySqlError::driver(
        "using the target connection, closed after an earlier failure",
        mysql_async::Error::Driver(DriverError::ConnectionClosed),
    )
}

#[cfg(test)]
mod tests {
    use sluice_api::{ErrorKind, HasErrorKind};

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_settles_to_an_error_without_a_connection() {
        let task: JoinHandle<Landed> = tokio::spawn(async { panic!("a bug") });
        let landed = landed(Kind::Statement, task.await);
        assert!(landed.conn.is_none() && !landed.committed);
        let error = landed.outcome.expect_err("an error");
        assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
        assert!(error.to_string().contains("statement sent ahead"), "{error}");
    }

    #[tokio::test]
    async fn a_cancelled_task_settles_to_a_connection_error() {
        let task: JoinHandle<Landed> = tokio::spawn(std::future::pending());
        task.abort();
        let landed = landed(Kind::Commit, task.await);
        assert!(landed.conn.is_none() && !landed.committed);
        let error = landed.outcome.expect_err("an error");
        assert_eq!(error.kind(), ErrorKind::Connection, "{error}");
        assert!(error.to_string().contains("commit sent ahead"), "{error}");
    }
}
