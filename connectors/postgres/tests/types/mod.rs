//! `types` against a real server: values encoded by `encode_text`, cast by
//! the server's input functions and printed by its output functions decode
//! back to the same values; built-in type names match `format_type`.

mod catalog;
pub mod samples;
mod server_round_trip;
