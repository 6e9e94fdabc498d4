//! Resolving the topic names a node's code uses into graph names: remaps first, then
//! the namespace for relative names (ROS rules: a leading `/` makes a name global).

use crate::names::{NameError, TopicName};
use std::collections::BTreeMap;

/// A node's namespace and remaps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Naming {
    /// Namespace for relative names, without slashes around it.
    pub namespace: Option<String>,
    /// Remaps: name as the code writes it (no leading `/`) -> name in the graph.
    pub remap: BTreeMap<String, String>,
}

impl Naming {
    /// From `PINION_NAMESPACE` and `PINION_REMAP` (a JSON object), as a launcher sets them.
    pub fn from_env() -> Result<Self, String> {
        let namespace = std::env::var("PINION_NAMESPACE")
            .ok()
            .map(|ns| ns.trim_matches('/').to_owned())
            .filter(|ns| !ns.is_empty());
        let remap = match std::env::var("PINION_REMAP") {
            Ok(json) if !json.trim().is_empty() => {
                serde_json::from_str::<BTreeMap<String, String>>(&json)
                    .map_err(|e| format!("PINION_REMAP is not a JSON object of names: {e}"))?
                    .into_iter()
                    .map(|(from, to)| (from.trim_start_matches('/').to_owned(), to))
                    .collect()
            }
            _ => BTreeMap::new(),
        };
        Ok(Self { namespace, remap })
    }

    /// The graph name of `name` as the node's code writes it.
    pub fn resolve(&self, name: &str) -> Result<TopicName, NameError> {
        let target = self
            .remap
            .get(name.trim_start_matches('/'))
            .map(String::as_str)
            .unwrap_or(name);
        match (&self.namespace, target.strip_prefix('/')) {
            (_, Some(global)) => TopicName::new(global),
            (Some(ns), None) => TopicName::new(format!("{ns}/{target}")),
            (None, None) => TopicName::new(target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remap_then_namespace() {
        let naming = Naming {
            namespace: Some("rover".into()),
            remap: BTreeMap::from([
                ("imu".into(), "sensors/imu".into()),
                ("odom".into(), "/odom".into()),
            ]),
        };
        let r = |n: &str| naming.resolve(n).map(|t| t.to_string()).expect("valid");
        assert_eq!(r("cmd_vel"), "rover/cmd_vel");
        assert_eq!(r("/clock"), "clock");
        assert_eq!(r("imu"), "rover/sensors/imu");
        assert_eq!(r("odom"), "odom");
        assert_eq!(
            Naming::default().resolve("chatter").map(|t| t.to_string()),
            Ok("chatter".into())
        );
    }
}
