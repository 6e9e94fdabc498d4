//! A Python value to postcard bytes: the value is read beside the plan and handed to
//! postcard's serializer; the first value that does not fit is named by its place.
//! A large `bytes` value is not copied: it goes out as a frame of its own that holds
//! the Python object (immutable) until the message is sent, as a Rust `Blob` does.

use super::plan::{Body, Enum, Plan, Struct};
use super::At;
use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde::Serialize;
use std::cell::RefCell;

/// Encodes `value` as one message of `plan` (type `name`), in frames whose
/// concatenation is its postcard bytes. A value that does not fit raises `TypeError`
/// saying where, what the type wants and what was found.
pub fn encode(name: &str, plan: &Plan, value: &Bound<'_, PyAny>) -> PyResult<Vec<Bytes>> {
    let failure = RefCell::new(None);
    let root = At::Root(name);
    let item = Item {
        plan,
        value: value.clone(),
        at: &root,
        failure: &failure,
    };
    match pinion::segments::encode("message payload", &item) {
        Ok(frames) => Ok(frames),
        Err(e) => Err(failure
            .into_inner()
            .unwrap_or_else(|| PyTypeError::new_err(format!("{name}: cannot encode: {e}")))),
    }
}

/// One value at one place of the message.
struct Item<'a, 'py> {
    plan: &'a Plan,
    value: Bound<'py, PyAny>,
    at: &'a At<'a>,
    failure: &'a RefCell<Option<PyErr>>,
}

impl<'py> Item<'_, 'py> {
    /// Keeps the first failure (postcard keeps no message of its own) and stops.
    fn fail<E: serde::ser::Error>(&self, err: PyErr) -> E {
        let mut slot = self.failure.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
        E::custom("")
    }

    fn wrong<E: serde::ser::Error>(&self, want: &str) -> E {
        let found = self
            .value
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "a value".to_owned());
        let found: String = found.chars().take(60).collect();
        let kind = self
            .value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        self.fail(PyTypeError::new_err(format!(
            "{}: must be {want}, got {kind} {found}",
            self.at
        )))
    }

    fn child<'b>(
        &'b self,
        plan: &'b Plan,
        value: Bound<'py, PyAny>,
        at: &'b At<'b>,
    ) -> Item<'b, 'py> {
        Item {
            plan,
            value,
            at,
            failure: self.failure,
        }
    }

    fn int<S: Serializer>(&self, s: S, signed: bool, bits: u32) -> Result<S::Ok, S::Error> {
        let range = if signed {
            format!("a whole number of {bits} bits")
        } else {
            format!("a whole number, 0 or more, of {bits} bits")
        };
        if self.value.is_instance_of::<pyo3::types::PyBool>()
            || !self.value.is_instance_of::<pyo3::types::PyInt>()
        {
            return Err(self.wrong(&range));
        }
        if signed {
            let v: i128 = self.value.extract().map_err(|_| self.wrong(&range))?;
            let ok = bits == 128 || (v >= -(1i128 << (bits - 1)) && v < (1i128 << (bits - 1)));
            if !ok {
                return Err(self.wrong(&range));
            }
            match bits {
                8 => s.serialize_i8(v as i8),
                16 => s.serialize_i16(v as i16),
                32 => s.serialize_i32(v as i32),
                64 => s.serialize_i64(v as i64),
                _ => s.serialize_i128(v),
            }
        } else {
            let v: u128 = self.value.extract().map_err(|_| self.wrong(&range))?;
            if bits < 128 && v >> bits != 0 {
                return Err(self.wrong(&range));
            }
            match bits {
                8 => s.serialize_u8(v as u8),
                16 => s.serialize_u16(v as u16),
                32 => s.serialize_u32(v as u32),
                64 => s.serialize_u64(v as u64),
                _ => s.serialize_u128(v),
            }
        }
    }

    fn bytes<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Ok(b) = self.value.cast::<PyBytes>() {
            if b.as_bytes().len() < pinion::segments::SPLIT_AT {
                return s.serialize_bytes(b.as_bytes());
            }
            let shared = Bytes::from_owner(PyBackedBytes::from(b.clone()));
            return pinion::Blob::from(shared).serialize(s);
        }
        // bytearray, memoryview, numpy arrays: anything `bytes()` takes, one copy.
        let py = self.value.py();
        let copied = py
            .get_type::<PyBytes>()
            .call1((&self.value,))
            .ok()
            .filter(|_| !self.value.is_instance_of::<PyString>());
        match copied.as_ref().and_then(|c| c.cast::<PyBytes>().ok()) {
            Some(b) => s.serialize_bytes(b.as_bytes()),
            None => Err(self.wrong("bytes (or a bytearray, memoryview or buffer)")),
        }
    }

    fn field<E: serde::ser::Error>(
        &self,
        name: &Bound<'py, PyString>,
    ) -> Result<Bound<'py, PyAny>, E> {
        let found = match self.value.cast::<PyDict>() {
            Ok(dict) => dict.get_item(name).ok().flatten(),
            Err(_) => self.value.getattr(name).ok(),
        };
        found.ok_or_else(|| {
            let field = name.to_cow().map(|c| c.into_owned()).unwrap_or_default();
            self.fail(PyTypeError::new_err(format!(
                "{}: has no field `{field}` (a {} needs it)",
                self.at,
                match self.plan {
                    Plan::Struct(s) => s.name.as_str(),
                    _ => "struct",
                }
            )))
        })
    }

    fn structure<S: Serializer>(&self, s: S, st: &Struct) -> Result<S::Ok, S::Error> {
        let py = self.value.py();
        let mut out = s.serialize_tuple(st.fields.len())?;
        for (name, plan) in &st.fields {
            let name = name.bind(py);
            let value = self.field(name)?;
            let text = name.to_cow().map_err(|e| self.fail(e))?;
            let at = At::Field(self.at, &text);
            out.serialize_element(&self.child(plan, value, &at))?;
        }
        out.end()
    }

    fn items<S: Serializer>(&self, s: S, plans: &[Plan]) -> Result<S::Ok, S::Error> {
        let items: Vec<Bound<'py, PyAny>> = match self.sequence() {
            Some(items) if items.len() == plans.len() => items,
            _ => return Err(self.wrong(&format!("a tuple or list of {} items", plans.len()))),
        };
        let mut out = s.serialize_tuple(plans.len())?;
        for (i, (plan, value)) in plans.iter().zip(items).enumerate() {
            let at = At::Index(self.at, i);
            out.serialize_element(&self.child(plan, value, &at))?;
        }
        out.end()
    }

    /// The items of a list or tuple (any iterable with a length).
    fn sequence(&self) -> Option<Vec<Bound<'py, PyAny>>> {
        if let Ok(list) = self.value.cast::<PyList>() {
            return Some(list.iter().collect());
        }
        if let Ok(tuple) = self.value.cast::<PyTuple>() {
            return Some(tuple.iter().collect());
        }
        if self.value.is_instance_of::<PyString>() || self.value.is_instance_of::<PyDict>() {
            return None;
        }
        self.value.len().ok()?;
        self.value
            .try_iter()
            .ok()?
            .collect::<PyResult<Vec<_>>>()
            .ok()
    }

    fn enumeration<S: Serializer>(&self, s: S, en: &Enum) -> Result<S::Ok, S::Error> {
        let py = self.value.py();
        let want = || {
            let names: Vec<String> = en
                .variants
                .iter()
                .map(|v| v.name.bind(py).to_string())
                .collect();
            format!("a variant of {} ({})", en.name, names.join(", "))
        };
        // A variant name, an enum.Enum member (its name), or {name: value}.
        let (name, body) = if let Ok(text) = self.value.cast::<PyString>() {
            (text.clone(), None)
        } else if let Ok(dict) = self.value.cast::<PyDict>() {
            match dict.iter().next() {
                Some((k, v)) if dict.len() == 1 => match k.cast_into::<PyString>() {
                    Ok(k) => (k, Some(v)),
                    Err(_) => return Err(self.wrong(&want())),
                },
                _ => return Err(self.wrong(&want())),
            }
        } else {
            match self
                .value
                .getattr("name")
                .and_then(|n| Ok(n.cast_into::<PyString>()?))
            {
                Ok(name) => (name, None),
                Err(_) => return Err(self.wrong(&want())),
            }
        };
        let found = en
            .variants
            .iter()
            .enumerate()
            .find(|(_, v)| v.name.bind(py).as_any().eq(&name).unwrap_or(false));
        let Some((index, variant)) = found else {
            return Err(self.wrong(&want()));
        };
        let text = name.to_cow().map_err(|e| self.fail(e))?;
        let at = At::Variant(self.at, &text);
        let index = index as u32;
        match (&variant.body, body) {
            (Body::Unit, _) => s.serialize_unit_variant("", index, ""),
            (Body::Newtype(plan), Some(value)) => {
                s.serialize_newtype_variant("", index, "", &self.child(plan, value, &at))
            }
            (Body::Tuple(plans), Some(value)) => {
                let item = self.child(&Plan::Unit, value, &at);
                s.serialize_newtype_variant("", index, "", &Items { item: &item, plans })
            }
            (Body::Struct(fields), Some(value)) => {
                let item = self.child(&Plan::Unit, value, &at);
                s.serialize_newtype_variant(
                    "",
                    index,
                    "",
                    &Fields {
                        item: &item,
                        fields,
                    },
                )
            }
            (_, None) => {
                Err(self.wrong(&format!("{{\"{text}\": value}} (the variant carries data)")))
            }
        }
    }
}

/// The items of a tuple variant.
struct Items<'a, 'b, 'py> {
    item: &'a Item<'b, 'py>,
    plans: &'a [Plan],
}

impl Serialize for Items<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.item.items(s, self.plans)
    }
}

/// The fields of a struct variant.
struct Fields<'a, 'b, 'py> {
    item: &'a Item<'b, 'py>,
    fields: &'a [(Py<PyString>, Plan)],
}

impl Serialize for Fields<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let py = self.item.value.py();
        let mut out = s.serialize_tuple(self.fields.len())?;
        for (name, plan) in self.fields {
            let name = name.bind(py);
            let value = self.item.field(name)?;
            let text = name.to_cow().map_err(|e| self.item.fail(e))?;
            let at = At::Field(self.item.at, &text);
            out.serialize_element(&self.item.child(plan, value, &at))?;
        }
        out.end()
    }
}

impl Serialize for Item<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.plan {
            Plan::Bool => match self.value.cast::<pyo3::types::PyBool>() {
                Ok(b) => s.serialize_bool(b.is_true()),
                Err(_) => Err(self.wrong("True or False")),
            },
            Plan::Int { signed, bits } => self.int(s, *signed, *bits),
            Plan::F32 | Plan::F64 => {
                if self.value.is_instance_of::<pyo3::types::PyBool>() {
                    return Err(self.wrong("a number"));
                }
                let v: f64 = self.value.extract().map_err(|_| self.wrong("a number"))?;
                match self.plan {
                    Plan::F32 => s.serialize_f32(v as f32),
                    _ => s.serialize_f64(v),
                }
            }
            Plan::Char => {
                let text = self
                    .value
                    .cast::<PyString>()
                    .ok()
                    .and_then(|t| t.to_cow().ok());
                let mut chars = text.as_deref().unwrap_or("").chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => s.serialize_char(c),
                    _ => Err(self.wrong("a one-character str")),
                }
            }
            Plan::Str => match self.value.cast::<PyString>() {
                Ok(text) => s.serialize_str(&text.to_cow().map_err(|e| self.fail(e))?),
                Err(_) => Err(self.wrong("a str")),
            },
            Plan::Bytes => self.bytes(s),
            Plan::Unit => s.serialize_unit(),
            Plan::Option(inner) => {
                if self.value.is_none() {
                    s.serialize_none()
                } else {
                    s.serialize_some(&self.child(inner, self.value.clone(), self.at))
                }
            }
            Plan::Seq(inner) => {
                let Some(items) = self.sequence() else {
                    return Err(self.wrong("a list"));
                };
                let mut out = s.serialize_seq(Some(items.len()))?;
                for (i, value) in items.into_iter().enumerate() {
                    let at = At::Index(self.at, i);
                    out.serialize_element(&self.child(inner, value, &at))?;
                }
                out.end()
            }
            Plan::Tuple(plans) => self.items(s, plans),
            Plan::Map(key, val) => {
                let Ok(dict) = self.value.cast::<PyDict>() else {
                    return Err(self.wrong("a dict"));
                };
                let mut out = s.serialize_map(Some(dict.len()))?;
                for (k, v) in dict.iter() {
                    let text = k.str().map(|t| t.to_string()).unwrap_or_default();
                    let at = At::Field(self.at, &text);
                    out.serialize_entry(&self.child(key, k, &at), &self.child(val, v, &at))?;
                }
                out.end()
            }
            Plan::Struct(st) => {
                if let (Some(class), false) = (&st.class, self.value.is_instance_of::<PyDict>()) {
                    if !self
                        .value
                        .is_instance(class.bind(self.value.py()))
                        .unwrap_or(false)
                    {
                        return Err(self.wrong(&format!("a {} (or a dict of its fields)", st.name)));
                    }
                }
                self.structure(s, st)
            }
            Plan::Enum(en) => self.enumeration(s, en),
        }
    }
}
