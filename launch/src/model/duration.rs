//! Durations as people write them: `250ms`, `2s`, `1.5s`, `1m`, or a number of seconds.

use std::time::Duration;

/// Parses `"250ms"`, `"2s"`, `"1.5s"`, `"1m"`, `"1h"`; refuses negative, empty and unknown units.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; write for example \"500ms\", \"2s\" or \"1m\"")
    })?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown time unit `{other}` in `{text}`; use ms, s, m or h"
            ))
        }
    };
    if !seconds.is_finite() || seconds > 86_400.0 * 365.0 {
        return Err(format!("`{text}` is too long a duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "fast", "-1s", "5 parsecs", "1e999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
