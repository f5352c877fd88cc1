//! The SQL of chunked reads: key-range predicates and the chunk queries.
//!
//! A bound on a composite key is written expanded, `k1 > ? OR (k1 = ? AND
//! k2 > ?)`, behind a leading `k1 >= ?`: MariaDB's range optimizer turns
//! that into index ranges, while a row constructor `(k1, k2) > (?, ?)` may
//! not use the index at all. Identifiers are backtick-quoted; every value is
//! a parameter; the DBA's filter goes in parentheses on lines of its own,
//! so a trailing `-- comment` in it cannot swallow the rest of the query.

/// Which side of a key a row must be on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// `> key`
    After,
    /// `>= key`
    From,
    /// `<= key`
    Through,
}

/// A comparison of the key columns (`columns`, quoted, with their
/// placeholders) with one key value: the SQL, and for each placeholder in
/// order the index of the key column whose value it takes.
pub(crate) fn key_bound(columns: &[String], placeholders: &[String], bound: Bound) -> (String, Vec<usize>) {
    let n = columns.len();
    let (strict, last, hint) = match bound {
        Bound::After => (">", ">", ">="),
        Bound::From => (">", ">=", ">="),
        Bound::Through => ("<", "<=", "<="),
    };
    if n == 1 {
        return (format!("{} {last} {}", columns[0], placeholders[0]), vec![0]);
    }
    let mut order = vec![0];
    let mut terms = Vec::with_capacity(n);
    for i in 0..n {
        let mut parts = Vec::with_capacity(i + 1);
        for j in 0..i {
            parts.push(format!("{} = {}", columns[j], placeholders[j]));
            order.push(j);
        }
        let op = if i + 1 == n { last } else { strict };
        parts.push(format!("{} {op} {}", columns[i], placeholders[i]));
        order.push(i);
        terms.push(format!("({})", parts.join(" AND ")));
    }
    (format!("{} {hint} {} AND ({})", columns[0], placeholders[0], terms.join(" OR ")), order)
}

/// `WHERE a AND b …` of the non-empty conditions, or nothing.
pub(crate) fn where_clause(conditions: &[String], filter: Option<&str>) -> String {
    let mut all: Vec<String> = conditions.iter().map(|c| format!("({c})")).collect();
    if let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) {
        all.push(format!("(\n{filter}\n)"));
    }
    if all.is_empty() { String::new() } else { format!(" WHERE {}", all.join(" AND ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|c| format!("`{c}`")).collect()
    }

    #[test]
    fn single_column_bounds_are_plain_comparisons() {
        let (sql, order) = key_bound(&names(&["id"]), &["?".into()], Bound::After);
        assert_eq!((sql.as_str(), order), ("`id` > ?", vec![0]));
        let (sql, _) = key_bound(&names(&["id"]), &["?".into()], Bound::Through);
        assert_eq!(sql, "`id` <= ?");
    }

    #[test]
    fn composite_bounds_are_expanded_behind_an_index_hint() {
        let p = vec!["?".to_owned(), "CAST(? AS DECIMAL(5,2))".to_owned()];
        let (sql, order) = key_bound(&names(&["a", "b"]), &p, Bound::After);
        assert_eq!(sql, "`a` >= ? AND ((`a` > ?) OR (`a` = ? AND `b` > CAST(? AS DECIMAL(5,2))))");
        assert_eq!(order, vec![0, 0, 0, 1]);
        let (sql, order) = key_bound(&names(&["a", "b", "c"]), &["?".into(), "?".into(), "?".into()], Bound::Through);
        assert_eq!(sql, "`a` <= ? AND ((`a` < ?) OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ? AND `c` <= ?))");
        assert_eq!(order, vec![0, 0, 0, 1, 0, 1, 2]);
        let (sql, _) = key_bound(&names(&["a", "b"]), &["?".into(), "?".into()], Bound::From);
        assert!(sql.ends_with("(`a` = ? AND `b` >= ?))"), "{sql}");
    }

    #[test]
    fn the_filter_sits_on_lines_of_its_own() {
        assert_eq!(where_clause(&[], None), "");
        assert_eq!(
            where_clause(&["`a` > ?".into()], Some("b = 1 -- note")),
            " WHERE (`a` > ?) AND (\nb = 1 -- note\n)"
        );
    }
}
