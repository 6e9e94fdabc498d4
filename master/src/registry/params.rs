//! The master's parameters: values (JSON text) by key, with limits on their number and
//! size, and who watches which key. A plain value: no IO, no clock.

use pinion::protocol::master_to_node::{MasterError, MasterErrorKind};
use pinion::NodeName;
use std::collections::{BTreeMap, BTreeSet};

/// How much the parameter store holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamLimits {
    /// Parameters.
    pub max_count: usize,
    /// Bytes of all keys and values together.
    pub max_total_bytes: usize,
    /// Bytes of one value (its JSON text).
    pub max_value_bytes: usize,
}

impl Default for ParamLimits {
    /// 10 000 parameters, 8 MiB in all, 1 MiB each: a robot's configuration (a ROS
    /// `robot_description` is some hundred kB) fits many times, and the master stays
    /// small on a Pi even when a tool lists them all.
    fn default() -> Self {
        Self {
            max_count: 10_000,
            max_total_bytes: 8 << 20,
            max_value_bytes: pinion::limits::MAX_PARAM_VALUE,
        }
    }
}

/// Parameters and their watchers.
#[derive(Debug, Clone, Default)]
pub struct ParamStore {
    values: BTreeMap<String, String>,
    /// Bytes of keys and values, kept with `values`.
    bytes: usize,
    watchers: BTreeMap<String, BTreeSet<NodeName>>,
    limits: ParamLimits,
}

fn refuse(kind: MasterErrorKind, message: String) -> MasterError {
    MasterError::new(kind, message)
}

impl ParamStore {
    /// An empty store with these limits.
    pub fn new(limits: ParamLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Sets `key`; returns the nodes watching it. Refused if the key or value is bad or
    /// a limit would be passed, leaving the store as it was.
    pub fn set(&mut self, key: String, value_json: String) -> Result<Vec<NodeName>, MasterError> {
        check_key(&key)?;
        if value_json.len() > self.limits.max_value_bytes {
            return Err(refuse(
                MasterErrorKind::LimitReached,
                format!(
                    "parameter `{key}`: a value of {} bytes is larger than the limit of {} bytes",
                    value_json.len(),
                    self.limits.max_value_bytes
                ),
            ));
        }
        serde_json::from_str::<serde_json::Value>(&value_json).map_err(|e| {
            refuse(
                MasterErrorKind::Invalid,
                format!("parameter `{key}`: the value is not JSON: {e}"),
            )
        })?;
        let old = self.values.get(&key).map(|v| key.len() + v.len());
        if old.is_none() && self.values.len() >= self.limits.max_count {
            return Err(refuse(
                MasterErrorKind::LimitReached,
                format!(
                    "parameter `{key}`: the master holds {} parameters already, its limit; delete some with `pinion param delete KEY`",
                    self.values.len()
                ),
            ));
        }
        let bytes = self.bytes - old.unwrap_or(0) + key.len() + value_json.len();
        if bytes > self.limits.max_total_bytes {
            return Err(refuse(
                MasterErrorKind::LimitReached,
                format!(
                    "parameter `{key}`: the parameters would take {bytes} bytes, over the limit of {} bytes; delete some with `pinion param delete KEY`",
                    self.limits.max_total_bytes
                ),
            ));
        }
        self.bytes = bytes;
        let watchers = self.watchers_of(&key);
        self.values.insert(key, value_json);
        Ok(watchers)
    }

    /// Deletes `key`; returns the nodes watching it. Refused if there is no such key.
    pub fn delete(&mut self, key: &str) -> Result<Vec<NodeName>, MasterError> {
        let Some(value) = self.values.remove(key) else {
            return Err(refuse(
                MasterErrorKind::Invalid,
                format!("no parameter `{key}` to delete"),
            ));
        };
        self.bytes -= key.len() + value.len();
        Ok(self.watchers_of(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.values.get(key)
    }

    /// Every parameter, by key.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// `node` watches `keys` from now on; the current values of those that are set.
    pub fn watch(&mut self, node: &NodeName, keys: Vec<String>) -> Vec<(String, String)> {
        let values = keys
            .iter()
            .filter_map(|k| Some((k.clone(), self.values.get(k)?.clone())))
            .collect();
        for key in keys {
            self.watchers.entry(key).or_default().insert(node.clone());
        }
        values
    }

    /// `node` is gone: it watches nothing any more.
    pub fn forget(&mut self, node: &NodeName) {
        for watchers in self.watchers.values_mut() {
            watchers.remove(node);
        }
        self.watchers.retain(|_, w| !w.is_empty());
    }

    /// Takes values read back from a file, each checked as if set; returns the refusals
    /// of those left out.
    pub fn load(&mut self, values: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        values
            .into_iter()
            .filter_map(|(key, value)| self.set(key, value).err().map(|e| e.message))
            .collect()
    }

    fn watchers_of(&self, key: &str) -> Vec<NodeName> {
        self.watchers
            .get(key)
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// Parameter keys are names like topics.
fn check_key(key: &str) -> Result<(), MasterError> {
    pinion::TopicName::new(key)
        .map(|_| ())
        .map_err(|e| refuse(MasterErrorKind::Invalid, format!("bad parameter key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ParamStore {
        ParamStore::new(ParamLimits {
            max_count: 3,
            max_total_bytes: 40,
            max_value_bytes: 10,
        })
    }

    fn kind(r: Result<Vec<NodeName>, MasterError>) -> MasterErrorKind {
        r.expect_err("refused").kind
    }

    #[test]
    fn limits_on_count_total_and_value_are_kept() {
        let mut p = small();
        p.set("a".into(), "1".into()).expect("a");
        p.set("b".into(), "2".into()).expect("b");
        p.set("c".into(), "3".into()).expect("c");
        assert_eq!(
            kind(p.set("d".into(), "4".into())),
            MasterErrorKind::LimitReached
        );
        // Replacing a value is not a new parameter.
        p.set("a".into(), "\"seven\"".into()).expect("replace");
        assert_eq!(
            kind(p.set("a".into(), "\"eleven chars\"".into())),
            MasterErrorKind::LimitReached
        );
        p.delete("c").expect("delete");
        // 1+7 + 1+1 = 10 bytes so far; a key of 25 and a value of 8 pass 40.
        assert_eq!(
            kind(p.set("k".repeat(25), "12345678".into())),
            MasterErrorKind::LimitReached
        );
        assert_eq!(p.get("a").map(String::as_str), Some("\"seven\""));
        assert_eq!(p.all().len(), 2);
        assert_eq!(
            kind(p.set("x".into(), "{".into())),
            MasterErrorKind::Invalid
        );
        assert_eq!(
            kind(p.set("bad key".into(), "1".into())),
            MasterErrorKind::Invalid
        );
        assert_eq!(kind(p.delete("nothing")), MasterErrorKind::Invalid);
    }

    #[test]
    fn watchers_are_returned_per_key_and_forgotten() {
        let mut p = small();
        let n = NodeName::new("n").expect("name");
        p.set("a".into(), "1".into()).expect("a");
        assert_eq!(
            p.watch(&n, vec!["a".into(), "b".into()]),
            vec![("a".into(), "1".into())]
        );
        assert_eq!(p.set("b".into(), "2".into()).expect("b"), vec![n.clone()]);
        assert_eq!(p.delete("a").expect("a"), vec![n.clone()]);
        p.forget(&n);
        assert!(p.set("b".into(), "3".into()).expect("b").is_empty());
    }

    #[test]
    fn loading_checks_every_value() {
        let mut p = small();
        let refused = p.load([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "not json".to_owned()),
            ("c".to_owned(), "3".to_owned()),
        ]);
        assert_eq!(refused.len(), 1);
        assert_eq!(p.all().len(), 2);
    }
}
