//! Validated names: `NodeName` and `TopicName`.
//!
//! Names follow ROS graph-resource rules: ASCII letters, digits, `_` and `/`
//! separators, no empty segments, not starting with a digit. A leading `/`
//! is accepted and dropped, so `/chatter` and `chatter` are the same topic.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {name:?}: {reason}")]
pub struct NameError {
    kind: &'static str,
    name: String,
    reason: &'static str,
}

const MAX_NAME_LEN: usize = 200;

fn validate(kind: &'static str, raw: &str) -> Result<String, NameError> {
    let err = |reason| NameError {
        kind,
        name: raw.to_owned(),
        reason,
    };
    let name = raw.strip_prefix('/').unwrap_or(raw);
    if name.is_empty() {
        return Err(err("it is empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(err("it is longer than 200 characters"));
    }
    for segment in name.split('/') {
        let first = segment
            .chars()
            .next()
            .ok_or_else(|| err("it has an empty segment (`//` or a trailing `/`)"))?;
        if first.is_ascii_digit() {
            return Err(err("a segment starts with a digit"));
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(err("only ASCII letters, digits, `_` and `/` are allowed"));
        }
    }
    Ok(name.to_owned())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Validates `name` and builds the name.
            pub fn new(name: impl AsRef<str>) -> Result<Self, NameError> {
                validate($kind, name.as_ref()).map(Self)
            }

            /// The name without a leading `/`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, NameError> {
                Self::new(value)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }
    };
}

name_type!(
    /// The name of a node in the graph, unique while the node runs.
    NodeName,
    "node"
);
name_type!(
    /// The name of a topic.
    TopicName,
    "topic"
);

impl TopicName {
    /// Topics under `/pinion/` belong to Pinion itself (the log topic); tools hide them
    /// unless asked.
    pub fn is_system(&self) -> bool {
        self.as_str().starts_with("pinion/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ros_style_names() {
        assert_eq!(
            TopicName::new("/chatter").map(|t| t.to_string()),
            Ok("chatter".to_owned())
        );
        assert!(TopicName::new("robot/cmd_vel").is_ok());
        assert!(NodeName::new("talker_1").is_ok());
    }

    #[test]
    fn refuses_bad_names_with_reason() {
        for bad in [
            "",
            "/",
            "a//b",
            "a/",
            "9lives",
            "caf\u{e9}",
            "with space",
            "a\0b",
        ] {
            let err = TopicName::new(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid topic name"), "{err}");
        }
    }

    #[test]
    fn deserialising_validates() {
        let bytes = postcard::to_stdvec("bad name").expect("encode");
        assert!(postcard::from_bytes::<TopicName>(&bytes).is_err());
    }
}
