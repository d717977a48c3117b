//! Reads an ONNX file's graph without reading its weights, so that tract can load each weight
//! straight from the file into its tensor.
//!
//! Decoding a whole `ModelProto` copies every initializer's `raw_data` into memory, and tract
//! then copies each one again into its tensors: two full copies of the weights at once. This
//! module walks the protobuf wire format of the file instead: everything except the
//! initializers' `raw_data` payloads is read (the graph's nodes, shapes and names: a few hundred
//! kilobytes), and each initializer is turned into an ONNX *external data* reference to its own
//! bytes inside the model file (`location` = the file's name, `offset`, `length`). tract's
//! parser then reads the initializers one at a time through its external-data resolver, so at
//! most one weight tensor exists twice while loading.
//!
//! Only the file's structure is trusted to the degree the protobuf decoder trusts it: every
//! length is checked against the enclosing message, and any surprise (a group field, a second
//! graph, a payload past the end) is an error, after which the caller falls back to decoding
//! the file the ordinary way (and reports that decoder's error if there is one).

use crate::error::{Error, ErrorCode, Result};
use prost::Message;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use tract_onnx::pb;

/// A model decoded without its weights: `proto`'s initializers point at their bytes in `file`.
pub struct StreamedModel {
    /// The graph; initializers with data carry `data_location = EXTERNAL`.
    pub proto: pb::ModelProto,
    /// The directory to resolve external data in (the model file's canonical directory).
    pub model_dir: String,
    /// The file's size in bytes.
    pub file_bytes: u64,
    /// Initializers turned into references to the file.
    pub streamed_initializers: usize,
}

fn malformed(detail: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::ModelDecode, format!("decoding the ONNX protobuf: {detail}"))
}

/// Sequential reader over the file with skipping, tracking the absolute position.
struct Wire {
    reader: BufReader<File>,
    pos: u64,
}

impl Wire {
    fn byte(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.reader.read_exact(&mut b).map_err(|e| malformed(format!("truncated file: {e}")))?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("varint longer than 10 bytes"))
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        let mut v = vec![0u8; usize::try_from(n).map_err(|_| malformed("field too large"))?];
        self.reader.read_exact(&mut v).map_err(|e| malformed(format!("truncated file: {e}")))?;
        self.pos += n;
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        let n = i64::try_from(n).map_err(|_| malformed("field too large"))?;
        self.reader.seek_relative(n).map_err(malformed)?;
        self.pos += n as u64;
        Ok(())
    }

    /// A field's key: the raw varint, the field number and the wire type.
    fn key(&mut self) -> Result<(u64, u64, u8)> {
        let key = self.varint()?;
        Ok((key, key >> 3, (key & 7) as u8))
    }

    /// A length prefix, checked to end within `end`; returns the field's end.
    fn length(&mut self, end: u64) -> Result<u64> {
        let len = self.varint()?;
        let field_end = self.pos.checked_add(len).ok_or_else(|| malformed("length overflows"))?;
        if field_end > end {
            return Err(malformed(format!("a field of {len} bytes runs past its message")));
        }
        Ok(field_end)
    }

    /// Copies the value of a field with wire type `wire_type` (its tag already read and
    /// re-encoded into `out`).
    fn copy_value(&mut self, wire_type: u8, end: u64, out: &mut Vec<u8>) -> Result<()> {
        match wire_type {
            0 => encode_varint(self.varint()?, out),
            1 => out.extend(self.bytes(8)?),
            5 => out.extend(self.bytes(4)?),
            2 => {
                let field_end = self.length(end)?;
                let len = field_end - self.pos;
                encode_varint(len, out);
                out.extend(self.bytes(len)?);
            }
            other => return Err(malformed(format!("unsupported wire type {other}"))),
        }
        Ok(())
    }
}

fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(field: u64, wire_type: u8) -> u64 {
    (field << 3) | u64::from(wire_type)
}

// Field numbers (onnx.proto).
const MODEL_GRAPH: u64 = 7;
const GRAPH_INITIALIZER: u64 = 5;
const TENSOR_RAW_DATA: u64 = 9;

/// Reads one `TensorProto` ending at `end`: its fields except `raw_data`, and where that
/// payload is in the file.
fn tensor_without_data(w: &mut Wire, end: u64) -> Result<(pb::TensorProto, Option<(u64, u64)>)> {
    let mut fields = Vec::new();
    let mut data = None;
    while w.pos < end {
        let (key, field, wire_type) = w.key()?;
        if field == TENSOR_RAW_DATA && wire_type == 2 {
            let field_end = w.length(end)?;
            let len = field_end - w.pos;
            data = Some((w.pos, len));
            w.skip(len)?;
        } else {
            encode_varint(key, &mut fields);
            w.copy_value(wire_type, end, &mut fields)?;
        }
    }
    let tensor = pb::TensorProto::decode(fields.as_slice()).map_err(malformed)?;
    Ok((tensor, data))
}

/// Reads the `GraphProto` ending at `end` without its initializers' payloads: returns the
/// encoded graph minus its initializers, and the initializers.
fn graph_without_data(
    w: &mut Wire,
    end: u64,
    location: &str,
) -> Result<(Vec<u8>, Vec<pb::TensorProto>, usize)> {
    let mut graph = Vec::new();
    let mut initializers = Vec::new();
    let mut streamed = 0;
    while w.pos < end {
        let (key, field, wire_type) = w.key()?;
        if field == GRAPH_INITIALIZER && wire_type == 2 {
            let tensor_end = w.length(end)?;
            let (mut tensor, data) = tensor_without_data(w, tensor_end)?;
            if !tensor.external_data.is_empty() {
                // A model that already keeps weights in other files is left to the ordinary
                // path, which resolves them next to the path the caller gave.
                return Err(Error::new(
                    ErrorCode::ModelUnsupported,
                    format!("initializer '{}' already uses external data", tensor.name),
                ));
            }
            if let Some((offset, length)) = data.filter(|(_, len)| *len > 0) {
                tensor.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
                tensor.external_data = [
                    ("location", location.to_string()),
                    ("offset", offset.to_string()),
                    ("length", length.to_string()),
                ]
                .into_iter()
                .map(|(key, value)| pb::StringStringEntryProto { key: key.into(), value })
                .collect();
                streamed += 1;
            }
            initializers.push(tensor);
        } else {
            encode_varint(key, &mut graph);
            w.copy_value(wire_type, end, &mut graph)?;
        }
    }
    Ok((graph, initializers, streamed))
}

/// Decodes the ONNX file at `path` without reading its initializers' data (see the module
/// documentation). Fails with [`ErrorCode::LimitExceeded`] over `max_bytes`, and with
/// [`ErrorCode::ModelDecode`] or [`ErrorCode::Io`] for anything the walk cannot handle.
pub fn read_without_weights(path: &Path, max_bytes: u64) -> Result<StreamedModel> {
    let io = |e: std::io::Error| Error::new(ErrorCode::Io, format!("{}: {e}", path.display()));
    // tract resolves external data inside the model's canonical directory, by a relative name.
    let canonical: PathBuf = path.canonicalize().map_err(io)?;
    let (Some(dir), Some(name)) =
        (canonical.parent().and_then(Path::to_str), canonical.file_name().and_then(|n| n.to_str()))
    else {
        return Err(Error::invalid(format!("{}: not a UTF-8 file path", path.display())));
    };
    let file = File::open(&canonical).map_err(io)?;
    let file_bytes = file.metadata().map_err(io)?.len();
    if file_bytes > max_bytes {
        return Err(Error::new(
            ErrorCode::LimitExceeded,
            format!("the model is {file_bytes} bytes, over the limit of {max_bytes} bytes"),
        ));
    }
    let mut w = Wire { reader: BufReader::with_capacity(64 << 10, file), pos: 0 };
    let mut model = Vec::new();
    let mut graph = None;
    while w.pos < file_bytes {
        let (key, field, wire_type) = w.key()?;
        if field == MODEL_GRAPH && wire_type == 2 {
            if graph.is_some() {
                return Err(malformed("two graph fields"));
            }
            let graph_end = w.length(file_bytes)?;
            graph = Some(graph_without_data(&mut w, graph_end, name)?);
        } else {
            encode_varint(key, &mut model);
            w.copy_value(wire_type, file_bytes, &mut model)?;
        }
    }
    let Some((graph, initializers, streamed)) = graph else {
        return Err(malformed("the model has no graph"));
    };
    encode_varint(tag(MODEL_GRAPH, 2), &mut model);
    encode_varint(graph.len() as u64, &mut model);
    model.extend(graph);
    let mut proto = pb::ModelProto::decode(model.as_slice()).map_err(malformed)?;
    if let Some(g) = proto.graph.as_mut() {
        g.initializer = initializers;
    }
    Ok(StreamedModel {
        proto,
        model_dir: dir.to_string(),
        file_bytes,
        streamed_initializers: streamed,
    })
}

/// Reads a streamed initializer's bytes back into `raw_data` (from `model_dir` joined with its
/// `location`, at its `offset`, `length` bytes) and makes it an ordinary inline tensor, for a
/// rewrite that needs its values (an FP16 model's tensors that are widened at load). A tensor
/// without external data is left as it is. [`ErrorCode::Io`] when the file cannot be read
/// (changed or truncated since it was walked), [`ErrorCode::ModelDecode`] for a reference
/// this module did not write (a location with a directory part, a missing offset or length).
pub fn read_back(t: &mut pb::TensorProto, model_dir: &str) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    if t.external_data.is_empty() {
        return Ok(());
    }
    let field = |key: &str| t.external_data.iter().find(|e| e.key == key).map(|e| &e.value);
    let location = field("location").filter(|l| Path::new(l.as_str()).file_name().is_some());
    let location = location.filter(|l| Path::new(l.as_str()).components().count() == 1);
    let number = |key: &str| field(key).and_then(|v| v.parse::<u64>().ok());
    let (Some(location), Some(offset), Some(length)) =
        (location, number("offset"), number("length"))
    else {
        return Err(malformed(format!("initializer '{}': bad external data reference", t.name)));
    };
    let path = Path::new(model_dir).join(location);
    let io = |e: std::io::Error| {
        Error::new(ErrorCode::Io, format!("reading '{}' from {}: {e}", t.name, path.display()))
    };
    let len = usize::try_from(length).map_err(|_| malformed("external data too long"))?;
    let mut file = File::open(&path).map_err(io)?;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut bytes = vec![0u8; len];
    file.read_exact(&mut bytes).map_err(io)?;
    t.raw_data = bytes;
    t.external_data.clear();
    t.data_location = None;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with(initializers: Vec<pb::TensorProto>) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 8,
            producer_name: "test".into(),
            graph: Some(pb::GraphProto {
                name: "g".into(),
                node: vec![pb::NodeProto {
                    op_type: "Add".into(),
                    input: vec!["x".into(), "w".into()],
                    output: vec!["y".into()],
                    ..Default::default()
                }],
                initializer: initializers,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn initializers_become_references_to_their_bytes_in_the_file() {
        let weights: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        let original = model_with(vec![
            pb::TensorProto {
                name: "w".into(),
                dims: vec![1000],
                data_type: pb::tensor_proto::DataType::Float as i32,
                raw_data: weights.clone(),
                ..Default::default()
            },
            pb::TensorProto {
                name: "inline".into(),
                dims: vec![2],
                data_type: pb::tensor_proto::DataType::Float as i32,
                float_data: vec![1.0, 2.0],
                ..Default::default()
            },
        ]);
        let bytes = original.encode_to_vec();
        let dir = std::env::temp_dir().join(format!("resnext-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = write(&dir, "model.onnx", &bytes);

        let streamed = read_without_weights(&path, u64::MAX).unwrap();
        assert_eq!(streamed.streamed_initializers, 1);
        assert_eq!(streamed.file_bytes, bytes.len() as u64);
        let graph = streamed.proto.graph.as_ref().unwrap();
        let w = &graph.initializer[0];
        assert!(w.raw_data.is_empty());
        assert_eq!(w.data_location, Some(pb::tensor_proto::DataLocation::External as i32));
        let get = |k: &str| w.external_data.iter().find(|e| e.key == k).unwrap().value.clone();
        assert_eq!(get("location"), "model.onnx");
        let (offset, length): (usize, usize) =
            (get("offset").parse().unwrap(), get("length").parse().unwrap());
        assert_eq!(&bytes[offset..offset + length], &weights[..]);
        // Everything else is as it was.
        let mut expected = original.clone();
        let g = expected.graph.as_mut().unwrap();
        g.initializer[0].raw_data.clear();
        g.initializer[0].data_location = w.data_location;
        g.initializer[0].external_data = w.external_data.clone();
        assert_eq!(streamed.proto, expected);
        // Read back, the tensor is the original again; an inline one is left alone.
        let mut back = streamed.proto.graph.clone().unwrap().initializer;
        for t in &mut back {
            read_back(t, streamed.model_dir.as_str()).unwrap();
        }
        assert_eq!(back, original.graph.as_ref().unwrap().initializer);
        // A reference it did not write, or past the end of the file, is an error.
        let mut foreign = w.clone();
        foreign.external_data[0].value = "../model.onnx".into();
        let e = read_back(&mut foreign, &streamed.model_dir).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ModelDecode, "{e}");
        let mut past = w.clone();
        past.external_data[1].value = (bytes.len() - 10).to_string();
        let e = read_back(&mut past, &streamed.model_dir).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Io, "{e}");
        assert!(past.raw_data.is_empty() && !past.external_data.is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn truncated_and_foreign_files_are_decode_errors() {
        let bytes = model_with(vec![pb::TensorProto {
            name: "w".into(),
            dims: vec![4],
            data_type: pb::tensor_proto::DataType::Float as i32,
            raw_data: vec![0; 16],
            ..Default::default()
        }])
        .encode_to_vec();
        let dir = std::env::temp_dir().join(format!("resnext-stream-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in [
            ("truncated.onnx", &bytes[..bytes.len() - 5]),
            ("text.onnx", &b"this is not a protobuf at all"[..]),
            ("empty.onnx", &b""[..]),
        ] {
            let path = write(&dir, name, content);
            let err = read_without_weights(&path, u64::MAX).err().unwrap_or_else(|| {
                panic!("{name} was accepted");
            });
            assert_eq!(err.code(), ErrorCode::ModelDecode, "{name}: {err}");
        }
        let path = write(&dir, "big.onnx", &bytes);
        let err = read_without_weights(&path, 10).err().unwrap();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        std::fs::remove_dir_all(&dir).ok();
    }
}
