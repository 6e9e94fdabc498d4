//! Messages of any topic as JSON, through the schema the master holds: decoding for
//! `echo`, checking and encoding for `pub`.

use pinion::TypeInfo;
use postcard_schema::schema::owned::{
    OwnedDataModelType as T, OwnedDataModelVariant as V, OwnedNamedType,
};
use serde_json::Value;

/// Decodes postcard bytes of `type_info` into JSON.
pub fn to_json(type_info: &TypeInfo, bytes: &[u8]) -> Result<Value, String> {
    postcard_dyn::from_slice_dyn(&type_info.schema, bytes)
        .map_err(|e| format!("does not decode as {}: {e:?}", type_info.name))
}

/// Checks `value` against the schema, naming the first field that does not fit, then encodes it.
pub fn from_json(type_info: &TypeInfo, value: &Value) -> Result<Vec<u8>, String> {
    check(&type_info.schema, value, &type_info.name)?;
    postcard_dyn::to_stdvec_dyn(&type_info.schema, value)
        .map_err(|e| format!("cannot encode as {}: {e:?}", type_info.name))
}

fn check(schema: &OwnedNamedType, value: &Value, path: &str) -> Result<(), String> {
    let wrong = |want: &str| {
        Err(format!(
            "`{path}` must be {want} (type {}), got {}",
            schema.name,
            short(value)
        ))
    };
    match &schema.ty {
        T::Bool => value
            .as_bool()
            .map(|_| ())
            .map_or_else(|| wrong("true or false"), Ok),
        T::I8 | T::I16 | T::I32 | T::I64 | T::I128 | T::Isize => {
            integer(value, path, &schema.name, true)
        }
        T::U8 | T::U16 | T::U32 | T::U64 | T::U128 | T::Usize => {
            integer(value, path, &schema.name, false)
        }
        T::F32 | T::F64 => value
            .as_f64()
            .map(|_| ())
            .map_or_else(|| wrong("a number"), Ok),
        T::Char => value
            .as_str()
            .filter(|s| s.chars().count() == 1)
            .map(|_| ())
            .map_or_else(|| wrong("a one-character string"), Ok),
        T::String => value
            .as_str()
            .map(|_| ())
            .map_or_else(|| wrong("a string"), Ok),
        T::ByteArray => match value.as_array() {
            Some(items) if items.iter().all(|b| b.as_u64().is_some_and(|n| n <= 255)) => Ok(()),
            _ => wrong("a list of bytes (0 to 255)"),
        },
        T::Option(inner) => match value {
            Value::Null => Ok(()),
            v => check(inner, v, path),
        },
        T::Unit | T::UnitStruct => match value {
            Value::Null => Ok(()),
            _ => wrong("null"),
        },
        T::NewtypeStruct(inner) => check(inner, value, path),
        T::Seq(inner) => match value.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| check(inner, v, &format!("{path}[{i}]"))),
            None => wrong("a list"),
        },
        T::Tuple(items) | T::TupleStruct(items) => match value.as_array() {
            Some(values) if values.len() == items.len() => items
                .iter()
                .zip(values)
                .enumerate()
                .try_for_each(|(i, (t, v))| check(t, v, &format!("{path}[{i}]"))),
            _ => wrong(&format!("a list of {} items", items.len())),
        },
        T::Map { key, val } => match value.as_object() {
            Some(map) => map.iter().try_for_each(|(k, v)| {
                check(key, &Value::String(k.clone()), &format!("{path}.<key>"))?;
                check(val, v, &format!("{path}.{k}"))
            }),
            None => wrong("an object"),
        },
        T::Struct(fields) => {
            let Some(map) = value.as_object() else {
                return wrong("an object");
            };
            for field in fields {
                let v = map.get(&field.name).unwrap_or(&Value::Null);
                if !map.contains_key(&field.name) && !matches!(field.ty.ty, T::Option(_)) {
                    return Err(format!(
                        "`{path}.{}` is missing (type {})",
                        field.name, field.ty.name
                    ));
                }
                check(&field.ty, v, &format!("{path}.{}", field.name))?;
            }
            match map.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
                Some(extra) => Err(format!(
                    "`{path}.{extra}` is not a field of {}; its fields are {}",
                    schema.name,
                    fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None => Ok(()),
            }
        }
        T::Enum(variants) => {
            let (name, inner) = match value {
                Value::String(s) => (s.as_str(), None),
                Value::Object(m) if m.len() == 1 => m
                    .iter()
                    .next()
                    .map(|(k, v)| (k.as_str(), Some(v)))
                    .unwrap_or(("", None)),
                _ => return wrong("a variant name, or {\"Variant\": value}"),
            };
            let Some(variant) = variants.iter().find(|v| v.name == name) else {
                return Err(format!(
                    "`{path}`: `{name}` is not a variant of {}; variants: {}",
                    schema.name,
                    variants
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            let here = format!("{path}::{name}");
            match (&variant.ty, inner) {
                (V::UnitVariant, None) => Ok(()),
                (V::NewtypeVariant(t), Some(v)) => check(t, v, &here),
                (V::TupleVariant(ts), Some(v)) => check(
                    &OwnedNamedType {
                        name: name.to_owned(),
                        ty: T::Tuple(ts.clone()),
                    },
                    v,
                    &here,
                ),
                (V::StructVariant(fs), Some(v)) => check(
                    &OwnedNamedType {
                        name: name.to_owned(),
                        ty: T::Struct(fs.clone()),
                    },
                    v,
                    &here,
                ),
                _ => Err(format!("`{here}` has the wrong shape for its variant")),
            }
        }
        T::Schema => Ok(()),
    }
}

fn integer(value: &Value, path: &str, ty: &str, signed: bool) -> Result<(), String> {
    let ok = if signed {
        value.as_i64().is_some()
    } else {
        value.as_u64().is_some()
    };
    if ok {
        return Ok(());
    }
    let kind = if signed {
        "a whole number"
    } else {
        "a whole number, 0 or more"
    };
    Err(format!(
        "`{path}` must be {kind} (type {ty}), got {}",
        short(value)
    ))
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}
