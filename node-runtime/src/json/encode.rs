//! JSON to postcard bytes by a schema, checking as it goes: the first value that does
//! not fit is named by its path, its type and what was found.

use super::JsonError;
use crate::message::TypeInfo;
use base64::Engine;
use postcard_schema::schema::owned::{
    OwnedDataModelType as T, OwnedDataModelVariant as V, OwnedNamedType,
};
use serde_json::Value;

/// Encodes `value` (in the JSON form of the module documentation) as one postcard
/// message of `schema`. A byte string may also be given as a list of numbers 0 to 255.
pub fn encode(type_info: &TypeInfo, value: &Value) -> Result<Vec<u8>, JsonError> {
    let mut out = Vec::new();
    Writer { out: &mut out }.value(&type_info.schema, value, &mut type_info.name.clone())?;
    Ok(out)
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn varint(&mut self, mut v: u128) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(byte);
                return;
            }
            self.out.push(byte | 0x80);
        }
    }

    fn value(
        &mut self,
        schema: &OwnedNamedType,
        value: &Value,
        path: &mut String,
    ) -> Result<(), JsonError> {
        let wrong = |want: &str, path: &str| {
            JsonError::new(
                path,
                format!(
                    "must be {want} (type {}), got {}",
                    schema.name,
                    short(value)
                ),
            )
        };
        match &schema.ty {
            T::Bool => {
                let b = value
                    .as_bool()
                    .ok_or_else(|| wrong("true or false", path))?;
                self.out.push(u8::from(b));
            }
            T::U8 => {
                let v = unsigned(value, 8).ok_or_else(|| wrong("a whole number 0 to 255", path))?;
                self.out.push(v as u8);
            }
            T::U16 | T::U32 | T::U64 | T::Usize | T::U128 => {
                let bits = bits_of(&schema.ty);
                let v = unsigned(value, bits).ok_or_else(|| {
                    wrong(&format!("a whole number, 0 or more, of {bits} bits"), path)
                })?;
                self.varint(v);
            }
            T::I8 => {
                let v =
                    signed(value, 8).ok_or_else(|| wrong("a whole number -128 to 127", path))?;
                self.out.push(v as i8 as u8);
            }
            T::I16 | T::I32 | T::I64 | T::Isize | T::I128 => {
                let bits = bits_of(&schema.ty);
                let v = signed(value, bits)
                    .ok_or_else(|| wrong(&format!("a whole number of {bits} bits"), path))?;
                self.varint(((v << 1) ^ (v >> 127)) as u128);
            }
            T::F32 => {
                let v = float(value).ok_or_else(|| wrong("a number", path))?;
                self.out.extend_from_slice(&(v as f32).to_le_bytes());
            }
            T::F64 => {
                let v = float(value).ok_or_else(|| wrong("a number", path))?;
                self.out.extend_from_slice(&v.to_le_bytes());
            }
            T::Char => match value.as_str() {
                Some(s) if s.chars().count() == 1 => self.text(s),
                _ => return Err(wrong("a one-character string", path)),
            },
            T::String => self.text(value.as_str().ok_or_else(|| wrong("a string", path))?),
            T::ByteArray => {
                let bytes = byte_string(value)
                    .ok_or_else(|| wrong("a base64 string (or a list of bytes 0 to 255)", path))?;
                self.varint(bytes.len() as u128);
                self.out.extend_from_slice(&bytes);
            }
            T::Option(inner) => match value {
                Value::Null => self.out.push(0),
                v => {
                    self.out.push(1);
                    self.value(inner, v, path)?;
                }
            },
            T::Unit | T::UnitStruct => {
                if !value.is_null() {
                    return Err(wrong("null", path));
                }
            }
            T::NewtypeStruct(inner) => self.value(inner, value, path)?,
            T::Seq(inner) => {
                let items = value.as_array().ok_or_else(|| wrong("a list", path))?;
                self.varint(items.len() as u128);
                for (i, item) in items.iter().enumerate() {
                    self.nested(path, &format!("[{i}]"), inner, item)?;
                }
            }
            T::Tuple(types) | T::TupleStruct(types) => match value.as_array() {
                Some(items) if items.len() == types.len() => {
                    for (i, (t, item)) in types.iter().zip(items).enumerate() {
                        self.nested(path, &format!("[{i}]"), t, item)?;
                    }
                }
                _ => return Err(wrong(&format!("a list of {} items", types.len()), path)),
            },
            T::Map { key, val } => {
                let map = value.as_object().ok_or_else(|| wrong("an object", path))?;
                self.varint(map.len() as u128);
                for (k, v) in map {
                    let k_value = match key.ty {
                        T::String | T::Char => Value::String(k.clone()),
                        _ => serde_json::from_str(k).unwrap_or(Value::String(k.clone())),
                    };
                    self.nested(path, ".<key>", key, &k_value)?;
                    self.nested(path, &format!(".{k}"), val, v)?;
                }
            }
            T::Struct(fields) => {
                let map = value.as_object().ok_or_else(|| wrong("an object", path))?;
                if let Some(extra) = map.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
                    return Err(JsonError::new(
                        &format!("{path}.{extra}"),
                        format!(
                            "is not a field of {}; its fields are {}",
                            schema.name,
                            fields
                                .iter()
                                .map(|f| f.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                for field in fields {
                    let here = format!(".{}", field.name);
                    match map.get(&field.name) {
                        Some(v) => self.nested(path, &here, &field.ty, v)?,
                        None if matches!(field.ty.ty, T::Option(_)) => self.out.push(0),
                        None => {
                            path.push_str(&here);
                            let e = JsonError::new(
                                path,
                                format!("is missing (type {})", field.ty.name),
                            );
                            return Err(e);
                        }
                    }
                }
            }
            T::Enum(variants) => {
                let (name, inner) = match value {
                    Value::String(s) => (s.as_str(), None),
                    Value::Object(m) if m.len() == 1 => {
                        let (k, v) = m.iter().next().ok_or_else(|| wrong("a variant", path))?;
                        (k.as_str(), Some(v))
                    }
                    _ => return Err(wrong("a variant name, or {\"Variant\": value}", path)),
                };
                let Some((index, variant)) =
                    variants.iter().enumerate().find(|(_, v)| v.name == name)
                else {
                    return Err(JsonError::new(
                        &format!("{path}::{name}"),
                        format!(
                            "is not a variant of {}; variants: {}",
                            schema.name,
                            variants
                                .iter()
                                .map(|v| v.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                };
                self.varint(index as u128);
                let here = format!("::{name}");
                let inner_type = |ty: T| OwnedNamedType {
                    name: name.to_owned(),
                    ty,
                };
                match (&variant.ty, inner) {
                    (V::UnitVariant, None) => {}
                    (V::NewtypeVariant(t), Some(v)) => self.nested(path, &here, t, v)?,
                    (V::TupleVariant(ts), Some(v)) => {
                        self.nested(path, &here, &inner_type(T::Tuple(ts.clone())), v)?
                    }
                    (V::StructVariant(fs), Some(v)) => {
                        self.nested(path, &here, &inner_type(T::Struct(fs.clone())), v)?
                    }
                    _ => {
                        path.push_str(&here);
                        return Err(JsonError::new(path, "has the wrong shape for its variant"));
                    }
                }
            }
            T::Schema => return Err(JsonError::new(path, "a schema value cannot be encoded")),
        }
        Ok(())
    }

    fn nested(
        &mut self,
        path: &mut String,
        more: &str,
        schema: &OwnedNamedType,
        value: &Value,
    ) -> Result<(), JsonError> {
        let len = path.len();
        path.push_str(more);
        let out = self.value(schema, value, path);
        path.truncate(len);
        out
    }

    fn text(&mut self, s: &str) {
        self.varint(s.len() as u128);
        self.out.extend_from_slice(s.as_bytes());
    }
}

fn bits_of(ty: &T) -> u32 {
    match ty {
        T::U8 | T::I8 => 8,
        T::U16 | T::I16 => 16,
        T::U32 | T::I32 => 32,
        T::U128 | T::I128 => 128,
        _ => 64,
    }
}

fn unsigned(value: &Value, bits: u32) -> Option<u128> {
    let v = match value {
        Value::Number(n) => u128::from(n.as_u64()?),
        Value::String(s) if bits == 128 => s.parse().ok()?,
        _ => return None,
    };
    (bits == 128 || v >> bits == 0).then_some(v)
}

fn signed(value: &Value, bits: u32) -> Option<i128> {
    let v = match value {
        Value::Number(n) => i128::from(n.as_i64()?),
        Value::String(s) if bits == 128 => s.parse().ok()?,
        _ => return None,
    };
    let limit = 1i128.checked_shl(bits - 1);
    match limit {
        Some(limit) if bits < 128 => (-limit..limit).contains(&v).then_some(v),
        _ => Some(v),
    }
}

/// A number, or `null` for a float that was not finite.
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Null => Some(f64::NAN),
        _ => None,
    }
}

fn byte_string(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => base64::engine::general_purpose::STANDARD.decode(s).ok(),
        Value::Array(items) => items
            .iter()
            .map(|b| b.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect(),
        _ => None,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}
