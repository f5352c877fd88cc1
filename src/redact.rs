//! Error text without row values.
//!
//! Sluice's own messages never carry values, but a database's error that is
//! attached as a cause can: PostgreSQL puts the failing row or key in DETAIL
//! (`Key (id)=(42) already exists`, `Failing row contains (…)`) and some
//! messages end with the offending input (`invalid input syntax for type
//! integer: "abc"`). Every error chain Sluice prints or logs goes through
//! [`describe`], which keeps the server's message, SQLSTATE and the names of
//! the table, column and constraint, and drops the values.

use std::error::Error;

/// One error's text, value-free.
pub(crate) fn describe(error: &(dyn Error + 'static)) -> String {
    let database = match error.downcast_ref::<tokio_postgres::Error>() {
        Some(postgres) => postgres.as_db_error(),
        None => error.downcast_ref::<tokio_postgres::error::DbError>(),
    };
    if let Some(db) = database {
        let mut text = format!("{} {}: {}", db.severity(), db.code().code(), redact_message(db.message()));
        let names: Vec<String> = [("table", db.table()), ("column", db.column()), ("constraint", db.constraint())]
            .into_iter()
            .filter_map(|(what, name)| name.map(|n| format!("{what} {n}")))
            .collect();
        if !names.is_empty() {
            text.push_str(&format!(" ({})", names.join(", ")));
        }
        return text;
    }
    error.to_string()
}

/// `error: cause: cause…` on one line, value-free. A cause that adds
/// nothing (tokio-postgres's server error below its wrapper) is left out.
pub(crate) fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = describe(error);
    let mut source = error.source();
    while let Some(cause) = source {
        let described = describe(cause);
        if !text.ends_with(&described) {
            text.push_str(": ");
            text.push_str(&described);
        }
        source = cause.source();
    }
    text
}

/// Drops a quoted input value at the end of a server message
/// (`…: "abc"` → `…: "…"`); names of constraints are kept.
fn redact_message(message: &str) -> String {
    if let Some((head, tail)) = message.rsplit_once(": ")
        && (tail.starts_with('"') || tail.starts_with('\''))
        && !head.ends_with("constraint")
    {
        return format!("{head}: \"…\"");
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::redact_message;

    #[test]
    fn quoted_input_values_are_dropped() {
        assert_eq!(
            redact_message("invalid input syntax for type integer: \"abc\""),
            "invalid input syntax for type integer: \"…\""
        );
        assert_eq!(
            redact_message("invalid input value for enum mood: \"x\""),
            "invalid input value for enum mood: \"…\""
        );
    }

    #[test]
    fn messages_without_values_are_kept() {
        let unique = "duplicate key value violates unique constraint \"items_pkey\"";
        assert_eq!(redact_message(unique), unique);
        assert_eq!(
            redact_message("value too long for type character varying(3)"),
            "value too long for type character varying(3)"
        );
    }
}
