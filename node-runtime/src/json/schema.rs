//! The JSON Schema of a message type's JSON form, generated from its postcard schema.

use crate::message::TypeInfo;
use postcard_schema::schema::owned::{
    OwnedDataModelType as T, OwnedDataModelVariant as V, OwnedNamedType,
};
use serde_json::{json, Map, Value};

/// The JSON Schema (draft 2020-12) that every JSON form of a `schema` message
/// validates against: nested structs, enums with data, options, lists, fixed arrays,
/// maps and byte strings (base64, `contentEncoding`). Integers carry their range;
/// floats admit `null` (a value that was not finite).
pub fn json_schema(type_info: &TypeInfo) -> Value {
    let mut root = of(&type_info.schema);
    if let Value::Object(map) = &mut root {
        map.insert(
            "$schema".to_owned(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("title".to_owned(), json!(type_info.name));
    }
    root
}

fn of(schema: &OwnedNamedType) -> Value {
    match &schema.ty {
        T::Bool => json!({"type": "boolean"}),
        T::U8 => range(0, u8::MAX.into()),
        T::U16 => range(0, u16::MAX.into()),
        T::U32 => range(0, u32::MAX.into()),
        T::U64 | T::Usize => json!({"type": "integer", "minimum": 0}),
        T::I8 => range(i8::MIN.into(), i8::MAX.into()),
        T::I16 => range(i16::MIN.into(), i16::MAX.into()),
        T::I32 => range(i32::MIN.into(), i32::MAX.into()),
        T::I64 | T::Isize => json!({"type": "integer"}),
        // Past 64 bits a value is written as a decimal string.
        T::U128 | T::I128 => json!({"type": ["integer", "string"]}),
        T::F32 | T::F64 => json!({"type": ["number", "null"]}),
        T::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        T::String => json!({"type": "string"}),
        T::ByteArray => json!({"type": "string", "contentEncoding": "base64"}),
        T::Option(inner) => json!({"anyOf": [{"type": "null"}, of(inner)]}),
        T::Unit | T::UnitStruct => json!({"type": "null"}),
        T::NewtypeStruct(inner) => of(inner),
        T::Seq(inner) => json!({"type": "array", "items": of(inner)}),
        T::Tuple(items) | T::TupleStruct(items) => tuple(items),
        T::Map { val, .. } => json!({"type": "object", "additionalProperties": of(val)}),
        T::Struct(fields) => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for field in fields {
                properties.insert(field.name.clone(), of(&field.ty));
                if !matches!(field.ty.ty, T::Option(_)) {
                    required.push(json!(field.name));
                }
            }
            json!({
                "title": schema.name,
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            })
        }
        T::Enum(variants) => {
            let one_of: Vec<Value> = variants
                .iter()
                .map(|variant| {
                    let inner = match &variant.ty {
                        V::UnitVariant => return json!({"const": variant.name}),
                        V::NewtypeVariant(t) => of(t),
                        V::TupleVariant(ts) => tuple(ts),
                        V::StructVariant(fs) => of(&OwnedNamedType {
                            name: variant.name.clone(),
                            ty: T::Struct(fs.clone()),
                        }),
                    };
                    json!({
                        "type": "object",
                        "properties": {variant.name.clone(): inner},
                        "required": [variant.name],
                        "additionalProperties": false,
                    })
                })
                .collect();
            json!({"title": schema.name, "oneOf": one_of})
        }
        T::Schema => json!({}),
    }
}

fn range(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

/// A fixed number of items: one schema for all when they share a type (a `[f64; 9]`),
/// else one per place.
fn tuple(items: &[OwnedNamedType]) -> Value {
    let n = items.len();
    match items.first() {
        Some(first) if items.iter().all(|i| i == first) => json!({
            "type": "array", "items": of(first), "minItems": n, "maxItems": n,
        }),
        _ => json!({
            "type": "array",
            "prefixItems": items.iter().map(of).collect::<Vec<_>>(),
            "items": false,
            "minItems": n,
            "maxItems": n,
        }),
    }
}
