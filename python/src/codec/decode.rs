//! Postcard bytes to a Python value: postcard's deserializer reads, the plan says what
//! each place is and which class to build it as.

use super::plan::{Body, Enum, Plan, Struct};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde::de::{
    DeserializeSeed, EnumAccess, Error as _, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use std::cell::RefCell;
use std::fmt;

/// Decodes one message of `plan` (type `name`) from the frames it arrived in, all of
/// them. Bytes that do not decode raise `ValueError` saying so and why.
pub fn decode<'py>(
    py: Python<'py>,
    name: &str,
    plan: &Plan,
    frames: &[Bytes],
) -> PyResult<Bound<'py, PyAny>> {
    let failure = RefCell::new(None);
    let seed = Seed {
        py,
        plan,
        failure: &failure,
    };
    let value = pinion::segments::decode_seed("message payload", frames, seed);
    if let Some(err) = failure.into_inner() {
        return Err(err);
    }
    value.map_err(|e| PyValueError::new_err(format!("a payload that is not a {name}: {e}")))
}

/// What to read next, and where a Python error goes (postcard keeps no message).
#[derive(Clone, Copy)]
struct Seed<'a, 'py> {
    py: Python<'py>,
    plan: &'a Plan,
    failure: &'a RefCell<Option<PyErr>>,
}

impl<'py> Seed<'_, 'py> {
    fn fail<E: serde::de::Error>(&self, err: PyErr) -> E {
        let mut slot = self.failure.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
        E::custom("a Python error")
    }

    fn ok<E: serde::de::Error, T: IntoPyObject<'py>>(
        &self,
        value: T,
    ) -> Result<Bound<'py, PyAny>, E> {
        value.into_bound_py_any(self.py).map_err(|e| self.fail(e))
    }

    fn with<'b>(&self, plan: &'b Plan) -> Seed<'b, 'py>
    where
        Self: 'b,
    {
        Seed {
            py: self.py,
            plan,
            failure: self.failure,
        }
    }

    /// A struct's fields as a dict, or as the class built of them.
    fn build<E: serde::de::Error>(
        &self,
        class: Option<&Py<PyAny>>,
        fields: Bound<'py, PyDict>,
    ) -> Result<Bound<'py, PyAny>, E> {
        match class {
            Some(class) => class
                .bind(self.py)
                .call((), Some(&fields))
                .map_err(|e| self.fail(e)),
            None => Ok(fields.into_any()),
        }
    }

    fn fields<'de, A: SeqAccess<'de>>(
        &self,
        fields: &[(Py<PyString>, Plan)],
        mut seq: A,
    ) -> Result<Bound<'py, PyDict>, A::Error> {
        let dict = PyDict::new(self.py);
        for (name, plan) in fields {
            let value = seq
                .next_element_seed(self.with(plan))?
                .ok_or_else(|| A::Error::custom("a struct ends early"))?;
            dict.set_item(name.bind(self.py), value)
                .map_err(|e| self.fail(e))?;
        }
        Ok(dict)
    }

    fn items<'de, A: SeqAccess<'de>>(
        &self,
        plans: &[Plan],
        mut seq: A,
    ) -> Result<Bound<'py, PyAny>, A::Error> {
        let mut items = Vec::with_capacity(plans.len());
        for plan in plans {
            items.push(
                seq.next_element_seed(self.with(plan))?
                    .ok_or_else(|| A::Error::custom("a tuple ends early"))?,
            );
        }
        self.ok(PyTuple::new(self.py, items).map_err(|e| self.fail::<A::Error>(e))?)
    }
}

impl<'de, 'py> DeserializeSeed<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.plan {
            Plan::Bool => d.deserialize_bool(self),
            Plan::Int {
                signed: false,
                bits: 8,
            } => d.deserialize_u8(self),
            Plan::Int {
                signed: false,
                bits: 16,
            } => d.deserialize_u16(self),
            Plan::Int {
                signed: false,
                bits: 32,
            } => d.deserialize_u32(self),
            Plan::Int {
                signed: false,
                bits: 64,
            } => d.deserialize_u64(self),
            Plan::Int { signed: false, .. } => d.deserialize_u128(self),
            Plan::Int {
                signed: true,
                bits: 8,
            } => d.deserialize_i8(self),
            Plan::Int {
                signed: true,
                bits: 16,
            } => d.deserialize_i16(self),
            Plan::Int {
                signed: true,
                bits: 32,
            } => d.deserialize_i32(self),
            Plan::Int {
                signed: true,
                bits: 64,
            } => d.deserialize_i64(self),
            Plan::Int { signed: true, .. } => d.deserialize_i128(self),
            Plan::F32 => d.deserialize_f32(self),
            Plan::F64 => d.deserialize_f64(self),
            Plan::Char => d.deserialize_char(self),
            Plan::Str => d.deserialize_str(self),
            Plan::Bytes => d.deserialize_bytes(self),
            Plan::Unit => d.deserialize_unit(self),
            Plan::Option(_) => d.deserialize_option(self),
            Plan::Seq(_) => d.deserialize_seq(self),
            Plan::Tuple(plans) => d.deserialize_tuple(plans.len(), self),
            Plan::Map(..) => d.deserialize_map(self),
            Plan::Struct(st) => d.deserialize_tuple(st.fields.len(), self),
            Plan::Enum(_) => d.deserialize_enum("", &[], self),
        }
    }
}

impl<'de, 'py> Visitor<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of the message's schema")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.ok(v)
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(PyBytes::new(self.py, v).into_any())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.plan {
            Plan::Option(inner) => self.with(inner).deserialize(d),
            _ => Err(D::Error::custom("an option where the schema has none")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        match self.plan {
            Plan::Seq(inner) => {
                // The length came from the wire: the list grows as items arrive, and
                // items that are not there end the decoding.
                let list = PyList::empty(self.py);
                while let Some(item) = seq.next_element_seed(self.with(inner))? {
                    list.append(item).map_err(|e| self.fail::<A::Error>(e))?;
                }
                Ok(list.into_any())
            }
            Plan::Tuple(plans) => self.items(plans, seq),
            Plan::Struct(Struct { class, fields, .. }) => {
                let dict = self.fields(fields, seq)?;
                self.build(class.as_ref(), dict)
            }
            _ => Err(A::Error::custom("a sequence where the schema has none")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Plan::Map(key, val) = self.plan else {
            return Err(A::Error::custom("a map where the schema has none"));
        };
        let dict = PyDict::new(self.py);
        while let Some(k) = map.next_key_seed(self.with(key))? {
            let v = map.next_value_seed(self.with(val))?;
            dict.set_item(k, v).map_err(|e| self.fail::<A::Error>(e))?;
        }
        Ok(dict.into_any())
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let Plan::Enum(Enum {
            class,
            variants,
            name,
        }) = self.plan
        else {
            return Err(A::Error::custom("an enum where the schema has none"));
        };
        let (index, access): (u32, _) = data.variant()?;
        let variant = variants
            .get(index as usize)
            .ok_or_else(|| A::Error::custom(format!("{name} has no variant {index}")))?;
        let vname = variant.name.bind(self.py);
        let body = match &variant.body {
            Body::Unit => {
                access.unit_variant()?;
                return match class {
                    Some(class) => class
                        .bind(self.py)
                        .get_item(vname)
                        .map_err(|e| self.fail(e)),
                    None => Ok(vname.clone().into_any()),
                };
            }
            Body::Newtype(plan) => access.newtype_variant_seed(self.with(plan))?,
            Body::Tuple(plans) => {
                access.tuple_variant(plans.len(), Variant(self, VariantBody::Tuple(plans)))?
            }
            Body::Struct(fields) => {
                access.tuple_variant(fields.len(), Variant(self, VariantBody::Struct(fields)))?
            }
        };
        let dict = PyDict::new(self.py);
        dict.set_item(vname, body)
            .map_err(|e| self.fail::<A::Error>(e))?;
        Ok(dict.into_any())
    }
}

/// What a variant with several items carries.
enum VariantBody<'a> {
    Tuple(&'a [Plan]),
    Struct(&'a [(Py<PyString>, Plan)]),
}

/// Reads the items of a tuple or struct variant.
struct Variant<'a, 'py>(Seed<'a, 'py>, VariantBody<'a>);

impl<'de, 'py> Visitor<'de> for Variant<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the items of an enum variant")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        match self.1 {
            VariantBody::Tuple(plans) => self.0.items(plans, seq),
            VariantBody::Struct(fields) => Ok(self.0.fields(fields, seq)?.into_any()),
        }
    }
}
