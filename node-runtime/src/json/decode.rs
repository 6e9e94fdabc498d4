//! Postcard bytes to JSON by a schema. Every length is checked against what is left of
//! the input before anything is allocated, so a hostile message costs no more memory
//! than its own size (times a small factor for the JSON values).

use super::JsonError;
use crate::message::TypeInfo;
use base64::Engine;
use postcard_schema::schema::owned::{OwnedDataModelType as T, OwnedDataModelVariant as V};
use serde_json::{Map, Number, Value};

/// Decodes one message of `schema` from `bytes` (all of them: trailing bytes are an
/// error) into its JSON form (see the module documentation).
pub fn decode(type_info: &TypeInfo, bytes: &[u8]) -> Result<Value, JsonError> {
    let schema = &type_info.schema;
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.value(&schema.ty, &mut type_info.name.clone())?;
    if reader.at != bytes.len() {
        return Err(JsonError::new(
            &type_info.name,
            format!(
                "{} bytes left over after a whole {} ({} bytes)",
                bytes.len() - reader.at,
                schema.name,
                reader.at
            ),
        ));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The most elements of a sequence whose elements take no bytes (a `Vec<()>`): the
/// input's length cannot bound those.
const MAX_EMPTY_ELEMENTS: usize = 1 << 16;

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize, path: &str) -> Result<&'a [u8], JsonError> {
        if n > self.left() {
            return Err(JsonError::new(
                path,
                format!("needs {n} bytes, {} left", self.left()),
            ));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn varint(&mut self, path: &str) -> Result<u128, JsonError> {
        let mut value: u128 = 0;
        for i in 0..19 {
            let byte = self.take(1, path)?[0];
            value |= u128::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(JsonError::new(path, "a variable-length number runs on"))
    }

    fn unsigned(&mut self, bits: u32, path: &str) -> Result<u128, JsonError> {
        let v = if bits == 8 {
            u128::from(self.take(1, path)?[0])
        } else {
            self.varint(path)?
        };
        if bits < 128 && v >> bits != 0 {
            return Err(JsonError::new(
                path,
                format!("{v} does not fit in {bits} bits"),
            ));
        }
        Ok(v)
    }

    fn signed(&mut self, bits: u32, path: &str) -> Result<i128, JsonError> {
        if bits == 8 {
            return Ok(i128::from(self.take(1, path)?[0] as i8));
        }
        let z = self.unsigned(bits, path)?;
        Ok(((z >> 1) as i128) ^ -((z & 1) as i128))
    }

    fn len(&mut self, path: &str) -> Result<usize, JsonError> {
        let n = self.varint(path)?;
        usize::try_from(n).map_err(|_| JsonError::new(path, format!("length {n} is too large")))
    }

    /// A length of elements of `ty`, checked against what is left.
    fn count(&mut self, ty: &T, path: &str) -> Result<usize, JsonError> {
        let n = self.len(path)?;
        let most = self
            .left()
            .checked_div(min_size(ty))
            .unwrap_or(MAX_EMPTY_ELEMENTS);
        if n > most {
            return Err(JsonError::new(
                path,
                format!("announces {n} elements, at most {most} can follow"),
            ));
        }
        Ok(n)
    }

    fn value(&mut self, ty: &T, path: &mut String) -> Result<Value, JsonError> {
        Ok(match ty {
            T::Bool => match self.take(1, path)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(JsonError::new(path, format!("{b} is not a bool"))),
            },
            T::U8 => integer_u(self.unsigned(8, path)?),
            T::U16 => integer_u(self.unsigned(16, path)?),
            T::U32 => integer_u(self.unsigned(32, path)?),
            T::U64 | T::Usize => integer_u(self.unsigned(64, path)?),
            T::U128 => integer_u(self.unsigned(128, path)?),
            T::I8 => integer_i(self.signed(8, path)?),
            T::I16 => integer_i(self.signed(16, path)?),
            T::I32 => integer_i(self.signed(32, path)?),
            T::I64 | T::Isize => integer_i(self.signed(64, path)?),
            T::I128 => integer_i(self.signed(128, path)?),
            T::F32 => {
                let b = self.take(4, path)?;
                float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            T::F64 => {
                let b = self.take(8, path)?;
                let mut a = [0; 8];
                a.copy_from_slice(b);
                float(f64::from_le_bytes(a))
            }
            T::Char | T::String => {
                let n = self.len(path)?;
                let text = std::str::from_utf8(self.take(n, path)?)
                    .map_err(|e| JsonError::new(path, format!("not UTF-8: {e}")))?;
                Value::String(text.to_owned())
            }
            T::ByteArray => {
                let n = self.len(path)?;
                let bytes = self.take(n, path)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            T::Option(inner) => match self.take(1, path)?[0] {
                0 => Value::Null,
                1 => self.value(&inner.ty, path)?,
                b => return Err(JsonError::new(path, format!("{b} is not an option tag"))),
            },
            T::Unit | T::UnitStruct => Value::Null,
            T::NewtypeStruct(inner) => self.value(&inner.ty, path)?,
            T::Seq(inner) => {
                let n = self.count(&inner.ty, path)?;
                let mut items = Vec::with_capacity(n);
                for i in 0..n {
                    items.push(nested(path, &format!("[{i}]"), |p| {
                        self.value(&inner.ty, p)
                    })?);
                }
                Value::Array(items)
            }
            T::Tuple(items) | T::TupleStruct(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(nested(path, &format!("[{i}]"), |p| {
                        self.value(&item.ty, p)
                    })?);
                }
                Value::Array(out)
            }
            T::Map { key, val } => {
                let n = self.count(&T::Tuple(vec![(**key).clone(), (**val).clone()]), path)?;
                let mut map = Map::new();
                for _ in 0..n {
                    let k = nested(path, ".<key>", |p| self.value(&key.ty, p))?;
                    let k = match k {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(JsonError::new(
                                path,
                                format!("map keys of type {} have no JSON form", key.name),
                            ))
                        }
                    };
                    let v = nested(path, &format!(".{k}"), |p| self.value(&val.ty, p))?;
                    map.insert(k, v);
                }
                Value::Object(map)
            }
            T::Struct(fields) => {
                let mut map = Map::new();
                for field in fields {
                    let v = nested(path, &format!(".{}", field.name), |p| {
                        self.value(&field.ty.ty, p)
                    })?;
                    map.insert(field.name.clone(), v);
                }
                Value::Object(map)
            }
            T::Enum(variants) => {
                let index = self.len(path)?;
                let Some(variant) = variants.get(index) else {
                    return Err(JsonError::new(
                        path,
                        format!("variant {index} of {} does not exist", variants.len()),
                    ));
                };
                let inner = match &variant.ty {
                    V::UnitVariant => return Ok(Value::String(variant.name.clone())),
                    V::NewtypeVariant(t) => T::NewtypeStruct(Box::new((**t).clone())),
                    V::TupleVariant(ts) => T::Tuple(ts.clone()),
                    V::StructVariant(fs) => T::Struct(fs.clone()),
                };
                let v = nested(path, &format!("::{}", variant.name), |p| {
                    self.value(&inner, p)
                })?;
                let mut map = Map::new();
                map.insert(variant.name.clone(), v);
                Value::Object(map)
            }
            T::Schema => return Err(JsonError::new(path, "a schema value has no JSON form")),
        })
    }
}

/// Runs `f` with `more` appended to the path, and takes it off again.
fn nested<R>(
    path: &mut String,
    more: &str,
    f: impl FnOnce(&mut String) -> Result<R, JsonError>,
) -> Result<R, JsonError> {
    let len = path.len();
    path.push_str(more);
    let out = f(path);
    path.truncate(len);
    out
}

/// The fewest bytes one value of `ty` takes in postcard.
pub(crate) fn min_size(ty: &T) -> usize {
    match ty {
        T::Unit | T::UnitStruct => 0,
        T::F32 => 4,
        T::F64 => 8,
        T::NewtypeStruct(inner) => min_size(&inner.ty),
        T::Tuple(items) | T::TupleStruct(items) => items.iter().map(|i| min_size(&i.ty)).sum(),
        T::Struct(fields) => fields.iter().map(|f| min_size(&f.ty.ty)).sum(),
        // Every other value starts with at least one byte: a number, a length, a tag.
        _ => 1,
    }
}

fn integer_u(v: u128) -> Value {
    match u64::try_from(v) {
        Ok(v) => Value::Number(v.into()),
        Err(_) => Value::String(v.to_string()),
    }
}

fn integer_i(v: i128) -> Value {
    match i64::try_from(v) {
        Ok(v) => Value::Number(v.into()),
        Err(_) => Value::String(v.to_string()),
    }
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}
