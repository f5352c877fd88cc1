//! What a Query event's statement means for the stream.
//!
//! With `binlog_format=ROW`, row changes arrive as rows events, and Query
//! events carry transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`,
//! savepoints, XA) and DDL. Sluice recognises the statements that matter:
//!
//! - `TRUNCATE [TABLE] t` → a Truncate change for a routed table;
//! - `ALTER TABLE`, `RENAME TABLE`, `DROP TABLE`, `CREATE TABLE`, `CREATE`/
//!   `DROP INDEX`: the next table map of the table carries its new columns
//!   (and information_schema its new extras and key), so the cached
//!   description is dropped and nothing else is needed;
//! - `ALTER TABLE … TRUNCATE/DROP/EXCHANGE/CONVERT PARTITION`, `CONVERT
//!   TABLE … TO PARTITION`, `IMPORT/DISCARD TABLESPACE`: these add or remove
//!   rows without rows events, so they cannot be mirrored ([`Statement::Unmappable`]);
//! - `INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `LOAD DATA` as statements: a
//!   session wrote with statement-based logging; the caller refuses them
//!   when they mention a routed table.
//!
//! The parser is a tokenizer, not a SQL grammar: it skips comments (but
//! reads the code inside `/*! … */` and `/*M! … */` versioned comments),
//! understands backtick-quoted and `schema.table` names, and looks at
//! leading keywords. Anything unrecognised is [`Statement::Other`].

use sluice_api::TableName;

/// A statement from a Query event, as far as the stream cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Statement {
    Begin,
    Commit,
    /// `ROLLBACK` of the whole transaction: the group ends (its
    /// non-transactional changes stay applied).
    Rollback,
    /// `ROLLBACK TO SAVEPOINT`: undoes part of the open transaction.
    RollbackToSavepoint,
    /// `SAVEPOINT` / `RELEASE SAVEPOINT`.
    Savepoint,
    XaStart,
    /// `XA END`, `XA PREPARE`, `XA COMMIT`, `XA ROLLBACK`.
    XaOther,
    Truncate(TableName),
    /// DDL after which the tables' next table maps describe them.
    SchemaChange(Vec<TableName>),
    /// `DROP TABLE`: the tables and their rows are gone, without row events.
    DropTables(Vec<TableName>),
    /// `DROP DATABASE`: every table of the schema is gone.
    DropSchema(String),
    /// DDL that adds or removes rows of the table without rows events.
    Unmappable {
        table: TableName,
        operation: &'static str,
    },
    /// Statement-based DML and every name it mentions, unqualified ones in
    /// the default schema (column names too: the check errs on the safe side).
    Dml(Vec<TableName>),
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Punct(char),
}

fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '-' && next == Some('-') && chars.get(i + 2).is_none_or(|c| c.is_whitespace())) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let versioned =
                chars.get(i + 2) == Some(&'!') || (chars.get(i + 2) == Some(&'M') && chars.get(i + 3) == Some(&'!'));
            if versioned {
                // Executable comment: drop the marker and version, keep the code.
                i += if chars[i + 2] == 'M' { 4 } else { 3 };
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            } else {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
        } else if c == '*' && next == Some('/') {
            i += 2; // the end of a versioned comment
        } else if c == '`' {
            let mut name = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '`' {
                    if chars.get(i + 1) == Some(&'`') {
                        name.push('`');
                        i += 2;
                        continue;
                    }
                    break;
                }
                name.push(chars[i]);
                i += 1;
            }
            i += 1;
            tokens.push(Token::Quoted(name));
        } else if c == '\'' || c == '"' {
            // String literal: skipped (its content is data, never a name).
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            tokens.push(Token::Punct('\''));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    default_schema: String,
}

impl Parser {
    fn peek_keyword(&self, offset: usize) -> Option<String> {
        match self.tokens.get(self.at + offset) {
            Some(Token::Word(word)) => Some(word.to_ascii_uppercase()),
            _ => None,
        }
    }

    /// Consumes the keyword if it is next.
    fn eat(&mut self, keyword: &str) -> bool {
        if self.peek_keyword(0).as_deref() == Some(keyword) {
            self.at += 1;
            return true;
        }
        false
    }

    fn eat_all(&mut self, keywords: &[&str]) -> bool {
        let matches = keywords.iter().enumerate().all(|(i, k)| self.peek_keyword(i).as_deref() == Some(*k));
        if matches {
            self.at += keywords.len();
        }
        matches
    }

    fn identifier(&mut self) -> Option<String> {
        let name = match self.tokens.get(self.at)? {
            Token::Word(word) | Token::Quoted(word) => word.clone(),
            Token::Punct(_) => return None,
        };
        self.at += 1;
        Some(name)
    }

    /// `name` or `schema.name`.
    fn table(&mut self) -> Option<TableName> {
        let first = self.identifier()?;
        if self.tokens.get(self.at) == Some(&Token::Punct('.')) {
            self.at += 1;
            let name = self.identifier()?;
            return Some(TableName::new(first, name));
        }
        Some(TableName::new(self.default_schema.clone(), first))
    }

    /// Comma-separated tables.
    fn tables(&mut self) -> Vec<TableName> {
        let mut tables = Vec::new();
        while let Some(table) = self.table() {
            tables.push(table);
            if self.tokens.get(self.at) != Some(&Token::Punct(',')) {
                break;
            }
            self.at += 1;
        }
        tables
    }

    fn rest_has(&self, keywords: &[&str]) -> bool {
        (self.at..self.tokens.len()).any(|start| {
            keywords
                .iter()
                .enumerate()
                .all(|(i, k)| matches!(self.tokens.get(start + i), Some(Token::Word(w)) if w.eq_ignore_ascii_case(k)))
        })
    }

    /// Every identifier reference from here on.
    fn mentions(&mut self) -> Vec<TableName> {
        let mut names = Vec::new();
        while self.at < self.tokens.len() {
            match self.table() {
                Some(table) => names.push(table),
                None => self.at += 1,
            }
        }
        names
    }
}

/// Classifies a statement; unqualified names belong to `default_schema`.
pub(crate) fn classify(sql: &str, default_schema: &str) -> Statement {
    let mut p = Parser { tokens: tokenize(sql), at: 0, default_schema: default_schema.to_owned() };
    let Some(first) = p.peek_keyword(0) else { return Statement::Other };
    p.at += 1;
    match first.as_str() {
        "BEGIN" => Statement::Begin,
        "START" if p.eat("TRANSACTION") => Statement::Begin,
        "COMMIT" => Statement::Commit,
        "ROLLBACK" => {
            p.eat("WORK");
            if p.eat("TO") { Statement::RollbackToSavepoint } else { Statement::Rollback }
        }
        "SAVEPOINT" | "RELEASE" => Statement::Savepoint,
        "XA" if p.eat("START") || p.eat("BEGIN") => Statement::XaStart,
        "XA" => Statement::XaOther,
        "TRUNCATE" => {
            p.eat("TABLE");
            p.table().map_or(Statement::Other, Statement::Truncate)
        }
        "ALTER" => {
            p.eat("ONLINE");
            p.eat("IGNORE");
            if !p.eat("TABLE") {
                return Statement::Other;
            }
            p.eat_all(&["IF", "EXISTS"]);
            let Some(table) = p.table() else { return Statement::Other };
            let losses: [(&[&str], &'static str); 7] = [
                (&["TRUNCATE", "PARTITION"], "TRUNCATE PARTITION"),
                (&["DROP", "PARTITION"], "DROP PARTITION"),
                (&["EXCHANGE", "PARTITION"], "EXCHANGE PARTITION"),
                (&["CONVERT", "PARTITION"], "CONVERT PARTITION"),
                (&["CONVERT", "TABLE"], "CONVERT TABLE … TO PARTITION"),
                (&["IMPORT", "TABLESPACE"], "IMPORT TABLESPACE"),
                (&["DISCARD", "TABLESPACE"], "DISCARD TABLESPACE"),
            ];
            if let Some((_, operation)) = losses.iter().find(|(words, _)| p.rest_has(words)) {
                return Statement::Unmappable { table, operation };
            }
            let mut tables = vec![table];
            while p.at < p.tokens.len() {
                let renames_table =
                    p.eat("RENAME") && !matches!(p.peek_keyword(0).as_deref(), Some("COLUMN" | "INDEX" | "KEY"));
                if renames_table {
                    let _ = p.eat("TO") || p.eat("AS");
                    tables.extend(p.table());
                } else {
                    p.at += 1;
                }
            }
            Statement::SchemaChange(tables)
        }
        "RENAME" if p.eat("TABLE") || p.eat("TABLES") => {
            let mut tables = Vec::new();
            while let Some(from) = p.table() {
                tables.push(from);
                if !p.eat("TO") {
                    break;
                }
                tables.extend(p.table());
                if p.tokens.get(p.at) != Some(&Token::Punct(',')) {
                    break;
                }
                p.at += 1;
            }
            Statement::SchemaChange(tables)
        }
        "DROP" => {
            if p.eat("TEMPORARY") {
                return Statement::Other;
            }
            if p.eat("DATABASE") || p.eat("SCHEMA") {
                p.eat_all(&["IF", "EXISTS"]);
                return p.identifier().map_or(Statement::Other, Statement::DropSchema);
            }
            if p.eat("TABLE") || p.eat("TABLES") {
                p.eat_all(&["IF", "EXISTS"]);
                return Statement::DropTables(p.tables());
            }
            index_target(&mut p)
        }
        "CREATE" => {
            p.eat_all(&["OR", "REPLACE"]);
            if p.eat("TEMPORARY") {
                return Statement::Other;
            }
            if p.eat("TABLE") {
                p.eat_all(&["IF", "NOT", "EXISTS"]);
                return p.table().map_or(Statement::Other, |t| Statement::SchemaChange(vec![t]));
            }
            index_target(&mut p)
        }
        "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "LOAD" => Statement::Dml(p.mentions()),
        _ => Statement::Other,
    }
}

/// `[UNIQUE|FULLTEXT|SPATIAL] INDEX name ON table` (CREATE or DROP).
fn index_target(p: &mut Parser) -> Statement {
    for modifier in ["ONLINE", "UNIQUE", "FULLTEXT", "SPATIAL"] {
        p.eat(modifier);
    }
    if !(p.eat("INDEX") || p.eat("KEY")) {
        return Statement::Other;
    }
    p.eat_all(&["IF", "NOT", "EXISTS"]);
    p.eat_all(&["IF", "EXISTS"]);
    if p.identifier().is_none() || !p.eat("ON") {
        return Statement::Other;
    }
    p.table().map_or(Statement::Other, |t| Statement::SchemaChange(vec![t]))
}

#[cfg(test)]
#[path = "ddl/tests.rs"]
mod tests;
