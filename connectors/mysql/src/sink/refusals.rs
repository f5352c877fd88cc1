//! What the server refuses while the sink writes, translated into errors
//! that name the table, key or column — and never carry the value.
//!
//! Server messages for these errors quote the offending value
//! (`Duplicate entry 'ann@example.com' for key 'uk_email'`, `Incorrect
//! string value: '\xE2\x82\xAC' for column …`), and row values must not reach
//! logs. So the message is parsed for the key or column name and dropped:
//! - 1062 (duplicate entry) and the conflict guard's 1048 on the first key
//!   column (see `statements`) become [`MySqlError::KeyConflict`]: a row
//!   would collide with a different row on a unique key other than the
//!   route's key;
//! - any other 1048 (`Column 'c' cannot be null`) becomes
//!   [`MySqlError::Value`] naming the column;
//! - strict mode's data errors (1366 incorrect value, 1292 invalid
//!   date/time, 1264 out of range, 1265 truncated, 1406 too long, 1367
//!   illegal value, 3140 invalid JSON, 4025/3819 failed CHECK — MariaDB's
//!   JSON columns are checked with `json_valid`) become [`MySqlError::Value`]
//!   with the column when the message names one.
//!
//! Everything else keeps the driver error as its cause.

use super::resolve::ResolvedTable;
use crate::error::MySqlError;

/// `ER_DUP_ENTRY` and `ER_BAD_NULL_ERROR`.
const DUPLICATE_ENTRY: u16 = 1062;
const COLUMN_CANNOT_BE_NULL: u16 = 1048;

/// Strict mode's refusals of a value, with what each means.
const VALUE_REFUSALS: &[(u16, &str)] = &[
    (1366, "a value the column's type or character set cannot hold"),
    (1292, "an invalid date, time or number"),
    (1264, "a value out of the column's range"),
    (1265, "a value that would be truncated"),
    (1406, "a value too long for the column"),
    (1367, "an illegal value for the column's type"),
    (3140, "invalid JSON"),
    (4025, "a value that fails a CHECK constraint (MariaDB checks JSON columns with json_valid)"),
    (3819, "a value that fails a CHECK constraint"),
];

/// Translates a failed write on `table` (see the module documentation).
pub(super) fn write_error(table: &ResolvedTable, context: String, error: mysql_async::Error) -> MySqlError {
    let mysql_async::Error::Server(server) = &error else {
        return MySqlError::driver(context, error);
    };
    if server.code == DUPLICATE_ENTRY {
        let key = duplicate_key_name(&server.message).unwrap_or_else(|| "(unnamed)".to_owned());
        let key = table.other_unique.iter().find(|label| label.split(' ').next() == Some(&key)).cloned().unwrap_or(key);
        return MySqlError::KeyConflict { table: table.name.to_string(), key };
    }
    let guard_column = table.key.first().map(|&k| format!("'{}'", table.columns[k].name));
    if server.code == COLUMN_CANNOT_BE_NULL
        && table.guarded()
        && guard_column.is_some_and(|column| server.message.contains(&column))
    {
        return MySqlError::KeyConflict { table: table.name.to_string(), key: table.other_unique.join(" or ") };
    }
    if server.code == COLUMN_CANNOT_BE_NULL
        && let Some(name) = null_column_name(&server.message)
    {
        let target = table.columns.iter().find(|c| c.name.eq_ignore_ascii_case(&name));
        return MySqlError::Value {
            table: table.name.to_string(),
            column: target.map_or(name, |c| c.name.clone()),
            type_name: target.map(|c| c.type_name.clone()).unwrap_or_default(),
            reason: format!(
                "the server refused NULL in a NOT NULL column (error {COLUMN_CANNOT_BE_NULL}); fix the value in \
                 the source or allow NULL in the target column"
            ),
        };
    }
    if let Some((code, what)) = VALUE_REFUSALS.iter().find(|(code, _)| *code == server.code) {
        let column = column_name(&server.message);
        let target =
            column.as_deref().and_then(|name| table.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)));
        return MySqlError::Value {
            table: table.name.to_string(),
            column: target.map_or_else(|| column.unwrap_or_else(|| "*".to_owned()), |c| c.name.clone()),
            type_name: target.map(|c| c.type_name.clone()).unwrap_or_default(),
            reason: format!(
                "the server refused {what} (error {code}); fix the value in the source or widen the column"
            ),
        };
    }
    MySqlError::driver(context, error)
}

/// The index name of `Duplicate entry '…' for key 'name'` (MySQL 8 writes `'table.name'`).
fn duplicate_key_name(message: &str) -> Option<String> {
    let (_, quoted) = message.rsplit_once("for key '")?;
    let name = quoted.strip_suffix('\'')?;
    Some(name.rsplit_once('.').map_or(name, |(_, index)| index).to_owned())
}

/// The column of `Column 'c' cannot be null`.
fn null_column_name(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("Column '")?;
    let (name, _) = rest.rsplit_once("' cannot be null")?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// The column of `… for column 'c' at row 1` (MySQL) or
/// `… for column `db`.`t`.`c` at row 1` (MariaDB).
fn column_name(message: &str) -> Option<String> {
    let (_, rest) = message.rsplit_once("for column ")?;
    let named = rest.split(" at row").next()?.trim_end_matches('.');
    let last = match named.rsplit_once("`.`") {
        Some((_, last)) => last,
        None => named,
    };
    let name = last.trim_matches(|c| c == '`' || c == '\'');
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_key_names_come_from_both_flavours_messages() {
        assert_eq!(duplicate_key_name("Duplicate entry 'x' for key 'uk_email'").as_deref(), Some("uk_email"));
        assert_eq!(duplicate_key_name("Duplicate entry 'x' for key 'users.uk_email'").as_deref(), Some("uk_email"));
        assert_eq!(duplicate_key_name("something else"), None);
    }

    #[test]
    fn null_refusals_name_their_column() {
        assert_eq!(null_column_name("Column 'name' cannot be null").as_deref(), Some("name"));
        assert_eq!(null_column_name("Column 'it's' cannot be null").as_deref(), Some("it's"));
        assert_eq!(null_column_name("something else"), None);
    }

    #[test]
    fn columns_come_from_both_flavours_messages() {
        let maria = r"Incorrect string value: '\xE2\x82\xAC' for column `d`.`t`.`label` at row 1";
        assert_eq!(column_name(maria).as_deref(), Some("label"));
        assert_eq!(column_name("Data too long for column 'note' at row 3").as_deref(), Some("note"));
        assert_eq!(column_name("CONSTRAINT `t.j` failed for `d`.`t`"), None);
    }
}
