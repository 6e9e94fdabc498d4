//! Limits on what a process accepts from outside, each with a name, a default and a
//! clear error. The transport's guard enforces the message sizes on every accepting
//! tcp socket.

/// The default largest message a node accepts or sends: 64 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

/// Largest request to a node's control socket or to the master: a parameter value
/// (at most [`MAX_PARAM_VALUE`]) with room for its key and signature.
pub const MAX_CONTROL_MESSAGE: usize = 2 << 20;

/// Largest value of one parameter, in bytes of JSON text.
pub const MAX_PARAM_VALUE: usize = 1 << 20;

/// The robot-wide largest message (`PINION_MAX_MESSAGE`, bytes or a size such as
/// `64MiB`; default 64 MiB): a publisher refuses to send more, and a service accepts no
/// larger request.
pub fn max_message() -> usize {
    static READ: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *READ.get_or_init(max_message_from_env)
}

fn max_message_from_env() -> usize {
    std::env::var("PINION_MAX_MESSAGE")
        .ok()
        .and_then(|text| match parse_size(&text) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(
                    "PINION_MAX_MESSAGE={text:?}: {e}; using {DEFAULT_MAX_MESSAGE} bytes"
                );
                None
            }
        })
        .unwrap_or(DEFAULT_MAX_MESSAGE)
}

/// Reads a size: a number of bytes, or one with a unit (`k`, `KiB`, `M`, `MiB`, `G`,
/// `GiB`; `KB`, `MB`, `GB` are powers of ten).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (for example 64MiB or 1048576)"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("unknown unit {other:?} (B, KiB, MiB, GiB)")),
    };
    let bytes = number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes == 0 {
        return Err("a size must be more than 0".to_owned());
    }
    usize::try_from(bytes).map_err(|_| format!("{text:?} is too large for this machine"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64 M"), Ok(64 << 20));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999").is_err());
    }
}
