//! Statements built from clauses at run time (filters of a listing, `IN` lists), numbering the
//! `$n` placeholders as values are bound — the one placeholder style that works on SQLite and
//! PostgreSQL alike (`?` breaks PostgreSQL; sqlx's `QueryBuilder` for `Any` writes `?`).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, FromRow};

/// A value bound to a built statement (the two types the stores use through `sqlx::Any`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// TEXT.
    Text(String),
    /// BIGINT.
    Int(i64),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for Value {
    fn from(int: i64) -> Self {
        Self::Int(int)
    }
}

/// A statement under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// Starts a statement with fixed text.
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Appends fixed text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `clause`, in which `$?` stands for the placeholder of `value`.
    pub fn bind(&mut self, clause: &str, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match clause.split_once("$?") {
            Some((before, after)) => {
                self.text.push_str(before);
                self.placeholder();
                self.text.push_str(after);
            }
            None => self.text.push_str(clause),
        }
        self
    }

    /// Appends the placeholder of the value bound last (`$n`), without allocating.
    fn placeholder(&mut self) {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(self.text, "${}", self.values.len());
    }

    /// Appends one row of a multi-row `VALUES` list, `($n, $m, …)`, preceded by `, ` unless
    /// it is the first (`first`). Multi-row statements keep a batch to one round trip per
    /// table; [`rows_per_statement`] says how many rows fit in one.
    pub fn tuple(&mut self, first: bool, row: impl IntoIterator<Item = Value>) -> &mut Self {
        self.text.push_str(if first { "(" } else { ", (" });
        for (i, value) in row.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.values.push(value);
            self.placeholder();
        }
        self.text.push(')');
        self
    }

    /// Appends the keyset condition of a page that starts after (`key`, `id`) in the order
    /// `key_column, id` ascending: ` AND (key_column, id) > ($n, $m)`.
    ///
    /// Written as a row comparison, not as `key > k OR (key = k AND id > i)`: PostgreSQL and
    /// SQLite turn a row comparison into a bound of the `(key_column, id)` index, so a page
    /// starts where the previous one ended; the `OR` form is a filter, and every page walks the
    /// index from its start (a listing of 100,000 rows in pages of 500 took 15 s instead of 2 s).
    pub fn after(&mut self, key_column: &str, key: impl Into<Value>, id: &str) -> &mut Self {
        self.keyset(key_column, '>', key.into(), id)
    }

    /// As [`Sql::after`] for the order `key_column DESC, id DESC`: the page starts before
    /// (`key`, `id`).
    pub fn before(&mut self, key_column: &str, key: impl Into<Value>, id: &str) -> &mut Self {
        self.keyset(key_column, '<', key.into(), id)
    }

    fn keyset(&mut self, key_column: &str, op: char, key: Value, id: &str) -> &mut Self {
        self.text.push_str(" AND (");
        self.text.push_str(key_column);
        self.text.push_str(", id) ");
        self.text.push(op);
        self.text.push_str(" (");
        self.values.push(key);
        self.placeholder();
        self.text.push_str(", ");
        self.values.push(Value::Text(id.to_owned()));
        self.placeholder();
        self.text.push(')');
        self
    }

    /// Appends ` AND column IN (…)` with one placeholder per value; nothing when `values` is
    /// empty (no filter).
    pub fn and_in<V: Into<Value> + Clone>(&mut self, column: &str, values: &[V]) -> &mut Self {
        if values.is_empty() {
            return self;
        }
        self.text.push_str(&format!(" AND {column} IN ("));
        for (i, value) in values.iter().enumerate() {
            let clause = if i == 0 { "$?" } else { ", $?" };
            self.bind(clause, value.clone());
        }
        self.text.push(')');
        self
    }

    /// Returns the statement text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns the query with every value bound, reading rows into `T`.
    pub fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        self.values
            .iter()
            .fold(sqlx::query_as(&self.text), |query, value| match value {
                Value::Text(text) => query.bind(text.as_str()),
                Value::Int(int) => query.bind(*int),
            })
    }

    /// Returns the query with every value bound, ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.values
            .iter()
            .fold(sqlx::query(&self.text), |query, value| match value {
                Value::Text(text) => query.bind(text.as_str()),
                Value::Int(int) => query.bind(*int),
            })
    }
}

/// How many rows of `columns` values one multi-row statement takes: SQLite allows 32,766
/// bound values per statement and PostgreSQL 65,535; the statements stay well under both.
pub fn rows_per_statement(columns: usize) -> usize {
    (16_000 / columns.max(1)).max(1)
}

/// Returns a LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped (use with
/// `ESCAPE '\'`).
pub fn like_anywhere(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order() {
        let mut sql = Sql::new("SELECT id FROM t WHERE 1 = 1");
        sql.bind(" AND a = $?", "x")
            .and_in("b", &["p", "q"])
            .and_in::<&str>("c", &[])
            .bind(" LIMIT $?", 5_i64);
        assert_eq!(
            sql.text(),
            "SELECT id FROM t WHERE 1 = 1 AND a = $1 AND b IN ($2, $3) LIMIT $4"
        );
        assert_eq!(sql.values.len(), 4);
    }

    #[test]
    fn tuples_number_their_placeholders_after_earlier_values() {
        let mut sql = Sql::new("INSERT INTO t (a, b) VALUES ");
        sql.tuple(true, [Value::from("x"), Value::from(1_i64)])
            .tuple(false, [Value::from("y"), Value::from(2_i64)])
            .bind(" ON CONFLICT DO NOTHING RETURNING a, $?", 3_i64);
        assert_eq!(
            sql.text(),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING RETURNING a, $5"
        );
        assert_eq!(sql.values[2], Value::Text("y".into()));
        assert!(rows_per_statement(14) * 14 <= 32_766);
    }

    #[test]
    fn keyset_conditions_are_row_comparisons() {
        let mut sql = Sql::new("SELECT id FROM t WHERE a = $1");
        sql.values.push(Value::Int(1));
        sql.after("create_time", 7_i64, "x_1")
            .before("due_time", "2027-01-01", "x_2")
            .bind(" LIMIT $?", 5_i64);
        assert_eq!(
            sql.text(),
            "SELECT id FROM t WHERE a = $1 AND (create_time, id) > ($2, $3) \
             AND (due_time, id) < ($4, $5) LIMIT $6"
        );
        assert_eq!(
            sql.values[1..5],
            [
                Value::Int(7),
                Value::Text("x_1".into()),
                Value::Text("2027-01-01".into()),
                Value::Text("x_2".into())
            ]
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_anywhere("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
