//! `${ENV_VAR}` interpolation in the config text, so no password needs to
//! sit in the file. Done on the raw text before TOML parsing, with the
//! value escaped for a TOML basic (double-quoted) string, so a password with
//! quotes or backslashes cannot break the file. `$${` writes a literal `${`.
//! A variable that is not set is an error naming it and its line.

use super::ConfigError;

/// Replaces every `${NAME}` with `lookup(NAME)`.
pub(super) fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut line = 1;
    while let Some(at) = rest.find('$') {
        let (before, from_dollar) = rest.split_at(at);
        line += before.matches('\n').count();
        out.push_str(before);
        if let Some(after) = from_dollar.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = from_dollar.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or(ConfigError::Interpolation { line, message: "`${` without a closing `}`".into() })?;
            let name = &after[..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ConfigError::Interpolation {
                    line,
                    message: format!("`${{{name}}}` is not a valid environment variable name"),
                });
            }
            let value = lookup(name).ok_or_else(|| ConfigError::Interpolation {
                line,
                message: format!("environment variable {name} is not set; export it before starting sluice"),
            })?;
            escape_basic_string(&value, &mut out);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &from_dollar[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn escape_basic_string(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PW" => Some("s3\"cr\\et".into()),
            "USER" => Some("sluice".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_and_escapes_for_a_basic_string() {
        let text = "url = \"postgres://${USER}:${PW}@h/db\"";
        let out = interpolate(text, env).unwrap();
        assert_eq!(out, "url = \"postgres://sluice:s3\\\"cr\\\\et@h/db\"");
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(parsed["url"].as_str().unwrap(), "postgres://sluice:s3\"cr\\et@h/db");
    }

    #[test]
    fn missing_variable_names_it_and_its_line() {
        let error = interpolate("a = 1\nb = \"${NOPE}\"", env).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("NOPE") && message.contains("line 2"), "{message}");
    }

    #[test]
    fn double_dollar_is_a_literal() {
        assert_eq!(interpolate("x = \"$${USER} costs $5\"", env).unwrap(), "x = \"${USER} costs $5\"");
    }
}
