//! Durations as people write them: `250ms`, `2s`, `1.5s`, `1m`, or a number of seconds.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number where one should be.
    #[error("`{0}` is not a duration; write for example \"500ms\", \"2s\" or \"1m\"")]
    NotANumber(String),
    /// A unit that is not ms, s, m or h.
    #[error("unknown time unit `{unit}` in `{text}`; use ms, s, m or h")]
    UnknownUnit {
        /// The unit.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// Longer than a year.
    #[error("`{0}` is too long a duration (at most a year)")]
    TooLong(String),
}

/// Parses `"250ms"`, `"2s"`, `"1.5s"`, `"1m"`, `"1h"`; refuses negative, empty and unknown units.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError::NotANumber(text.to_owned()))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(DurationError::UnknownUnit {
                unit: other.to_owned(),
                text: text.to_owned(),
            })
        }
    };
    if !seconds.is_finite() || seconds > 86_400.0 * 365.0 {
        return Err(DurationError::TooLong(text.to_owned()));
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
