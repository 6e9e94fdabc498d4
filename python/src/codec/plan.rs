//! The schema of a topic's type, ready to walk beside Python values.

use postcard_schema::schema::owned::{
    OwnedDataModelType as T, OwnedDataModelVariant as V, OwnedNamedType,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// One place of a message type.
#[derive(Debug)]
pub enum Plan {
    Bool,
    /// A whole number of `bits` bits, signed or not.
    Int {
        signed: bool,
        bits: u32,
    },
    F32,
    F64,
    Char,
    Str,
    Bytes,
    Unit,
    Option(Box<Plan>),
    Seq(Box<Plan>),
    Tuple(Vec<Plan>),
    Map(Box<Plan>, Box<Plan>),
    Struct(Struct),
    Enum(Enum),
}

/// A struct: its fields in order, and the class its values are made of (a dict without).
#[derive(Debug)]
pub struct Struct {
    pub name: String,
    pub class: Option<Py<PyAny>>,
    pub fields: Vec<(Py<PyString>, Plan)>,
}

/// An enum: its variants in order, and its `enum.Enum` class when every variant is a
/// unit (a variant's name, or `{name: value}` for one with data, without).
#[derive(Debug)]
pub struct Enum {
    pub name: String,
    pub class: Option<Py<PyAny>>,
    pub variants: Vec<Variant>,
}

/// One variant of an enum.
#[derive(Debug)]
pub struct Variant {
    pub name: Py<PyString>,
    pub body: Body,
}

/// What a variant carries.
#[derive(Debug)]
pub enum Body {
    Unit,
    Newtype(Plan),
    Tuple(Vec<Plan>),
    Struct(Vec<(Py<PyString>, Plan)>),
}

impl Plan {
    /// The plan of `schema`, with the classes of `classes` (type name to class) at the
    /// structs and enums they name; `None` gives plain values throughout.
    pub fn new(
        py: Python<'_>,
        schema: &OwnedNamedType,
        classes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let class = |name: &str| -> PyResult<Option<Py<PyAny>>> {
            match classes {
                Some(c) => Ok(c.get_item(name)?.map(Bound::unbind)),
                None => Ok(None),
            }
        };
        let fields = |fields: &[postcard_schema::schema::owned::OwnedNamedValue]| {
            fields
                .iter()
                .map(|f| {
                    Ok((
                        PyString::new(py, &f.name).unbind(),
                        Plan::new(py, &f.ty, classes)?,
                    ))
                })
                .collect::<PyResult<Vec<_>>>()
        };
        let many = |items: &[OwnedNamedType]| {
            items
                .iter()
                .map(|t| Plan::new(py, t, classes))
                .collect::<PyResult<Vec<_>>>()
        };
        Ok(match &schema.ty {
            T::Bool => Plan::Bool,
            T::U8 => Plan::Int {
                signed: false,
                bits: 8,
            },
            T::U16 => Plan::Int {
                signed: false,
                bits: 16,
            },
            T::U32 => Plan::Int {
                signed: false,
                bits: 32,
            },
            T::U64 | T::Usize => Plan::Int {
                signed: false,
                bits: 64,
            },
            T::U128 => Plan::Int {
                signed: false,
                bits: 128,
            },
            T::I8 => Plan::Int {
                signed: true,
                bits: 8,
            },
            T::I16 => Plan::Int {
                signed: true,
                bits: 16,
            },
            T::I32 => Plan::Int {
                signed: true,
                bits: 32,
            },
            T::I64 | T::Isize => Plan::Int {
                signed: true,
                bits: 64,
            },
            T::I128 => Plan::Int {
                signed: true,
                bits: 128,
            },
            T::F32 => Plan::F32,
            T::F64 => Plan::F64,
            T::Char => Plan::Char,
            T::String => Plan::Str,
            T::ByteArray => Plan::Bytes,
            T::Unit | T::UnitStruct => Plan::Unit,
            T::Option(inner) => Plan::Option(Box::new(Plan::new(py, inner, classes)?)),
            T::NewtypeStruct(inner) => Plan::new(py, inner, classes)?,
            T::Seq(inner) => Plan::Seq(Box::new(Plan::new(py, inner, classes)?)),
            T::Tuple(items) | T::TupleStruct(items) => Plan::Tuple(many(items)?),
            T::Map { key, val } => Plan::Map(
                Box::new(Plan::new(py, key, classes)?),
                Box::new(Plan::new(py, val, classes)?),
            ),
            T::Struct(f) => Plan::Struct(Struct {
                name: schema.name.clone(),
                class: class(&schema.name)?,
                fields: fields(f)?,
            }),
            T::Enum(variants) => {
                let variants = variants
                    .iter()
                    .map(|v| {
                        let body = match &v.ty {
                            V::UnitVariant => Body::Unit,
                            V::NewtypeVariant(t) => Body::Newtype(Plan::new(py, t, classes)?),
                            V::TupleVariant(items) => Body::Tuple(many(items)?),
                            V::StructVariant(f) => Body::Struct(fields(f)?),
                        };
                        Ok(Variant {
                            name: PyString::new(py, &v.name).unbind(),
                            body,
                        })
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                let all_units = variants.iter().all(|v| matches!(v.body, Body::Unit));
                Plan::Enum(Enum {
                    name: schema.name.clone(),
                    class: if all_units {
                        class(&schema.name)?
                    } else {
                        None
                    },
                    variants,
                })
            }
            T::Schema => {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "{}: a schema field has no Python form",
                    schema.name
                )))
            }
        })
    }
}
