//! JSON with every raw figure: commands, exit codes, raw stdout/stderr, the
//! parsed values in base units, and the settings used.

use crate::results::Results;

/// Pretty-printed JSON of the whole result model.
pub fn render(results: &Results) -> String {
    // Serialising plain data (no maps with non-string keys) cannot fail;
    // fall back to an error object rather than panic.
    serde_json::to_string_pretty(results)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}
