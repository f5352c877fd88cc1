//! Value maps (`[maps.NAME]` in the config, `map(NAME, x)` in an
//! expression): a source value's canonical text ([`text_of`](super::text_of)) → a target
//! value. Keys are compared as text, so `Int(5)`, `UInt(5)`, `Decimal("5")`
//! and `Text("5")` all find the entry `"5"` (but `Decimal("5.0")` looks for
//! `"5.0"`: a decimal keeps its scale). NULL maps to NULL whatever the
//! policy; a value without an entry follows [`Unmapped`].

use std::borrow::Cow;

use sluice_api::Value;

use super::text::text_cow;
use super::{EvalError, Unmapped, ValueMap};

impl ValueMap {
    /// Entries are keyed by the canonical text of the source value ([`text_of`](super::text_of)).
    pub fn new(name: impl Into<String>, entries: Vec<(String, Value)>, unmapped: Unmapped) -> ValueMap {
        ValueMap { name: name.into(), entries: entries.into_iter().collect(), unmapped }
    }

    /// The mapped value; NULL maps to NULL.
    pub fn get(&self, value: &Value) -> Result<Value, EvalError> {
        self.lookup(value).map(Cow::into_owned)
    }

    /// [`ValueMap::get`], borrowing the result.
    pub(crate) fn lookup<'a>(&'a self, value: &'a Value) -> Result<Cow<'a, Value>, EvalError> {
        let key = match value {
            Value::Null => return Ok(Cow::Borrowed(value)),
            Value::Unchanged => {
                return Err(EvalError::invalid(format!("map {}", self.name), "an uncaptured value cannot be mapped"));
            }
            other => text_cow(other).unwrap_or_default(),
        };
        if let Some(mapped) = self.entries.get(key.as_ref()) {
            return Ok(Cow::Borrowed(mapped));
        }
        match &self.unmapped {
            Unmapped::Error => Err(EvalError::Unmapped { map: self.name.clone() }),
            Unmapped::Keep => Ok(Cow::Borrowed(value)),
            Unmapped::Default(default) => Ok(Cow::Borrowed(default)),
        }
    }
}
