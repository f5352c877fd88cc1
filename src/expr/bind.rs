//! Binding: a parsed tree meets a source schema and the config's maps.
//! Every column reference becomes an index into the row images (through
//! the engine's resolver) and every `map(name, …)` / `lookup(name, …)`
//! whose name is a map becomes that map, shared. Errors name the column or
//! map and say what to do; a `lookup` whose name is not a map is a
//! crosswalk lookup, which only the target writer resolves, so it is
//! refused here.

use std::sync::Arc;

use super::tree::{BoundNode, MapName, Parsed, Slot};
use super::{ColumnRef, ExprError, MapSet, ValueMap};

pub(crate) fn bind(
    root: &Parsed,
    column: &dyn Fn(&ColumnRef) -> Option<usize>,
    maps: &MapSet,
) -> Result<BoundNode, ExprError> {
    root.try_convert(
        &mut |c: &ColumnRef| match column(c) {
            Some(index) => Ok(Slot { image: c.image, index, display: c.to_string().into_boxed_str() }),
            None => Err(ExprError::UnknownColumn { column: c.to_string() }),
        },
        &mut |m: &MapName| -> Result<Arc<ValueMap>, ExprError> {
            match maps.get(&m.name) {
                Some(map) => Ok(Arc::clone(map)),
                None if m.via_lookup => Err(ExprError::CrosswalkLookup { name: m.name.clone() }),
                None => Err(ExprError::UnknownMap { name: m.name.clone() }),
            }
        },
    )
}
