//! What one topic's messages become for Foxglove: JSON by a JSON Schema, under a schema
//! name Foxglove knows where there is one.

use crate::wellknown::WellKnown;
use pinion::message::TypeInfo;

/// Why a message could not be turned into its Foxglove form.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The bytes (or the JSON) are not a message of the topic's type.
    #[error("a message of {type_name} does not fit its type: {source}")]
    Decode {
        /// The topic's type.
        type_name: String,
        /// Where and why.
        #[source]
        source: pinion::json::JsonError,
    },
    /// Text that is not JSON (reading a recording back).
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Turns the postcard messages of one type into JSON that Foxglove decodes, and says
/// under which schema.
#[derive(Debug, Clone)]
pub struct Transcoder {
    source: TypeInfo,
    well_known: Option<WellKnown>,
    schema_name: String,
    schema: Vec<u8>,
}

impl Transcoder {
    /// The transcoder of `type_info`: a well-known schema when the type is one of the
    /// standard messages Foxglove draws (same schema hash), else the type's own JSON form.
    pub fn new(type_info: &TypeInfo) -> Self {
        let well_known = WellKnown::of(type_info);
        let (schema_name, schema) = match &well_known {
            Some(known) => {
                let target = known.target();
                (target.name.clone(), pinion::json::json_schema(&target))
            }
            None => (type_info.name.clone(), pinion::json::json_schema(type_info)),
        };
        Self {
            source: type_info.clone(),
            well_known,
            schema_name,
            schema: schema.to_string().into_bytes(),
        }
    }

    /// The schema's name: `foxglove.RawImage` and the like, or the Pinion type's name.
    pub fn schema_name(&self) -> &str {
        &self.schema_name
    }

    /// The JSON Schema, as bytes (schema encoding `jsonschema`).
    pub fn schema(&self) -> &[u8] {
        &self.schema
    }

    /// Whether messages become one of Foxglove's well-known schemas.
    pub fn is_well_known(&self) -> bool {
        self.well_known.is_some()
    }

    /// The Pinion type messages come from.
    pub fn source(&self) -> &TypeInfo {
        &self.source
    }

    /// The other way: one message's JSON back to the Pinion message (postcard), for
    /// playing a recording. Well-known forms lose what Foxglove's schema has no field
    /// for (see [`WellKnown::back`]).
    pub fn from_json(&self, json: &[u8]) -> Result<Vec<u8>, TranscodeError> {
        let value: serde_json::Value = serde_json::from_slice(json)?;
        let decode_error = |source| TranscodeError::Decode {
            type_name: self.source.name.clone(),
            source,
        };
        match &self.well_known {
            Some(known) => known.back(&self.source, &value).map_err(decode_error),
            None => pinion::json::encode(&self.source, &value).map_err(decode_error),
        }
    }

    /// The JSON of one message (message encoding `json`).
    pub fn to_json(&self, bytes: &[u8]) -> Result<Vec<u8>, TranscodeError> {
        let decode_error = |source| TranscodeError::Decode {
            type_name: self.source.name.clone(),
            source,
        };
        let value = match &self.well_known {
            Some(known) => known.convert(&self.source, bytes).map_err(decode_error)?,
            None => pinion::json::decode(&self.source, bytes).map_err(decode_error)?,
        };
        Ok(serde_json::to_vec(&value)?)
    }
}
