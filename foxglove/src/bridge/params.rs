//! Parameters for Foxglove clients, through the master: get and set as any tool does,
//! and changes (by anyone) sent to subscribed clients, read from the master every
//! discovery period.

use foxglove::websocket::{Parameter, ParameterValue};
use pinion::base::master_link::MasterLink;
use pinion::protocol::node_to_master::{ListParams, SetParam};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// Parameters clients subscribed to, and the values they last saw.
#[derive(Debug, Default)]
pub struct Params {
    subscribed: HashSet<String>,
    seen: BTreeMap<String, String>,
}

impl Params {
    pub fn subscribe(&mut self, names: Vec<String>) {
        self.subscribed.extend(names);
    }

    pub fn unsubscribe(&mut self, names: Vec<String>) {
        for name in names {
            self.subscribed.remove(&name);
            self.seen.remove(&name);
        }
    }

    /// The values of `names` (all when empty), from the master.
    pub async fn get(master: &MasterLink, names: &[String]) -> pinion::Result<Vec<Parameter>> {
        let all = master.ask(ListParams).await?;
        Ok(all
            .into_iter()
            .filter(|(k, _)| names.is_empty() || names.contains(k))
            .map(|(k, v)| parameter(k, &v))
            .collect())
    }

    /// Sets each parameter at the master; returns those that were set, and why the
    /// others were not.
    pub async fn set(
        master: &MasterLink,
        parameters: Vec<Parameter>,
    ) -> (Vec<Parameter>, Vec<String>) {
        let (mut set, mut refused) = (Vec::new(), Vec::new());
        for p in parameters {
            let Some(value) = p.value.as_ref() else {
                refused.push(format!(
                    "`{}`: deleting a parameter is `pinion param delete`",
                    p.name
                ));
                continue;
            };
            let value_json = to_json(value).to_string();
            match master
                .ask(SetParam {
                    key: p.name.clone(),
                    value_json,
                })
                .await
            {
                Ok(()) => set.push(p),
                Err(e) => refused.push(format!("`{}`: {e}", p.name)),
            }
        }
        (set, refused)
    }

    /// What changed among the subscribed parameters since the last look.
    pub async fn changes(&mut self, master: &MasterLink) -> pinion::Result<Vec<Parameter>> {
        if self.subscribed.is_empty() {
            return Ok(Vec::new());
        }
        let all = master.ask(ListParams).await?;
        let mut changed = Vec::new();
        for (k, v) in all {
            if self.subscribed.contains(&k) && self.seen.get(&k) != Some(&v) {
                changed.push(parameter(k.clone(), &v));
                self.seen.insert(k, v);
            }
        }
        Ok(changed)
    }
}

fn parameter(name: String, value_json: &str) -> Parameter {
    let value = serde_json::from_str::<Value>(value_json)
        .ok()
        .and_then(|v| from_json(&v));
    Parameter {
        name,
        r#type: None,
        value,
    }
}

fn from_json(value: &Value) -> Option<ParameterValue> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => ParameterValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ParameterValue::Integer(i),
            None => ParameterValue::Float64(n.as_f64()?),
        },
        Value::String(s) => ParameterValue::String(s.clone()),
        Value::Array(items) => ParameterValue::Array(items.iter().filter_map(from_json).collect()),
        Value::Object(map) => ParameterValue::Dict(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), from_json(v)?)))
                .collect(),
        ),
    })
}

fn to_json(value: &ParameterValue) -> Value {
    match value {
        ParameterValue::Integer(i) => Value::from(*i),
        ParameterValue::Float64(f) => Value::from(*f),
        ParameterValue::Bool(b) => Value::from(*b),
        ParameterValue::String(s) => Value::from(s.clone()),
        ParameterValue::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        ParameterValue::Dict(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}
