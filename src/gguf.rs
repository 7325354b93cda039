//! GGUF header reader: magic, version, metadata and the tensor table, from any `Read` (a local file, or the
//! first bytes of a remote file fetched by Range). Hostile input is the norm here (a truncated download, an
//! HTML error page saved as `.gguf`), so every count and length is bounded and nothing is allocated from a
//! count before the bytes behind it have arrived: bad input gives an error, never a panic or a huge allocation.
//!
//! Format: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md> (little-endian, versions 2 and 3).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

pub const MAGIC: &[u8; 4] = b"GGUF";
/// The spec's limit for a metadata key.
const MAX_KEY_LEN: u64 = 65_535;
/// Strings larger than this are not metadata anyone writes (chat templates are tens of KiB).
const MAX_STRING_LEN: u64 = 16 << 20;
const MAX_KV_COUNT: u64 = 1 << 20;
const MAX_TENSOR_COUNT: u64 = 1 << 20;
/// Vocabularies and merge lists reach a few hundred thousand entries.
const MAX_ARRAY_LEN: u64 = 1 << 26;
/// Numeric arrays up to this length are kept (per-layer head counts, sliding-window patterns); longer ones
/// (token scores and types) are read past and only their length is kept.
const KEPT_ARRAY_LEN: u64 = 4096;
/// GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;
const DEFAULT_ALIGNMENT: u64 = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Uint(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// `len` elements of GGUF type `elem_type`; numbers (and bools as 0/1) are kept when the array is short.
    Array {
        elem_type: u32,
        len: u64,
        numbers: Option<Vec<f64>>,
    },
}

/// A metadata value as a person reads it (in errors): `64`, `-1`, `0.5`, `true`, `"text"`, `an array of 3`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Uint(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Array { len, .. } => write!(f, "an array of {len}"),
        }
    }
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Uint(v) => Some(v),
            Value::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    /// From the start of the tensor data section.
    pub offset: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
    /// Bytes in the file; None for a type this reader does not know.
    pub fn bytes(&self) -> Option<u64> {
        let (block, size) = ggml_type_size(self.ggml_type)?;
        let rows = self.dims.iter().skip(1).product::<u64>();
        let row = self.dims.first().copied().unwrap_or(1).div_ceil(block).checked_mul(size)?;
        row.checked_mul(rows)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    /// Where tensor data starts (the header, padded to `general.alignment`).
    pub data_offset: u64,
    /// The smallest file size that holds every tensor; None when a tensor type is unknown.
    pub min_file_size: Option<u64>,
}

/// Why a byte stream is not a GGUF header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file (it starts with {0:?}, not \"GGUF\")")]
    NotGguf(String),
    #[error("GGUF version {0} is not supported (2 and 3 are)")]
    Version(u32),
    #[error("the header ends early, at byte {0} (the file is truncated)")]
    Truncated(u64),
    #[error("bad header at byte {at}: {what}")]
    Invalid { at: u64, what: String },
}

impl Header {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }
    pub fn architecture(&self) -> Option<&str> {
        self.get("general.architecture").and_then(Value::as_str)
    }
    /// `<architecture>.<key>` as an integer; for a per-layer array, its largest element.
    pub fn arch_u64(&self, key: &str) -> Option<u64> {
        let v = self.get(&format!("{}.{key}", self.architecture()?))?;
        match v {
            Value::Array { numbers: Some(n), .. } => n.iter().copied().reduce(f64::max).map(|x| x as u64),
            _ => v.as_u64(),
        }
    }
    pub fn arch_array(&self, key: &str) -> Option<&[f64]> {
        match self.get(&format!("{}.{key}", self.architecture()?))? {
            Value::Array { numbers: Some(n), .. } => Some(n),
            _ => None,
        }
    }
    pub fn array_len(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Value::Array { len, .. } => Some(*len),
            _ => None,
        }
    }
    pub fn context_length(&self) -> Option<u64> {
        self.arch_u64("context_length")
    }
    pub fn file_type(&self) -> Option<&'static str> {
        self.get("general.file_type").and_then(Value::as_u64).and_then(file_type_name)
    }
    pub fn params(&self) -> u64 {
        self.tensors.iter().map(TensorInfo::elements).fold(0, u64::saturating_add)
    }
    /// A file of `len` bytes holds every tensor this header describes.
    pub fn check_complete(&self, len: u64) -> std::result::Result<(), GgufError> {
        let need = self.min_file_size.unwrap_or(self.data_offset);
        if len < need {
            return Err(GgufError::Invalid {
                at: len,
                what: format!("the file is {len} bytes but its tensors need {need} (it is truncated)"),
            });
        }
        Ok(())
    }
}

/// Read and check a GGUF file's header, and that the file is long enough for its tensors.
pub fn read_file(path: &Path) -> Result<Header> {
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| Error::io(format!("cannot open {name}"), &e))?;
    let len = file.metadata().map_err(|e| Error::io(format!("cannot stat {name}"), &e))?.len();
    from_file(file, len).map_err(|e| Error::failure(format!("{name}: {e}")))
}

/// Parse an open file's header and check that its `len` bytes hold every tensor.
pub fn from_file(file: std::fs::File, len: u64) -> std::result::Result<Header, GgufError> {
    let header = parse(std::io::BufReader::with_capacity(1 << 20, file))?;
    header.check_complete(len)?;
    Ok(header)
}

/// Parse the header from the start of a stream; reads no further than the end of the tensor table.
pub fn parse(reader: impl Read) -> std::result::Result<Header, GgufError> {
    let mut r = Cursor { inner: reader, pos: 0 };
    let mut magic = [0u8; 4];
    r.exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(GgufError::NotGguf(String::from_utf8_lossy(&magic).into_owned()));
    }
    let version = r.u32()?;
    if version != 2 && version != 3 {
        return Err(GgufError::Version(version));
    }
    let tensor_count = r.count(MAX_TENSOR_COUNT, "tensor count")?;
    let kv_count = r.count(MAX_KV_COUNT, "metadata count")?;
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let at = r.pos;
        let key = r.string(MAX_KEY_LEN)?;
        let elem = r.u32()?;
        let value = r.value(elem)?;
        if metadata.insert(key.clone(), value).is_some() {
            return Err(GgufError::Invalid { at, what: format!("duplicate metadata key `{key}`") });
        }
    }
    let mut tensors = Vec::new();
    for _ in 0..tensor_count {
        let at = r.pos;
        let name = r.string(MAX_KEY_LEN)?;
        let n_dims = r.u32()?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::Invalid { at, what: format!("tensor `{name}` has {n_dims} dimensions") });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(r.u64()?);
        }
        if dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d)).is_none() {
            return Err(GgufError::Invalid { at, what: format!("tensor `{name}` has an impossible shape {dims:?}") });
        }
        let ggml_type = r.u32()?;
        let offset = r.u64()?;
        tensors.push(TensorInfo { name, dims, ggml_type, offset });
    }
    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => match v.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
            _ => {
                return Err(GgufError::Invalid {
                    at: r.pos,
                    what: format!("general.alignment {v} is not a power of two up to 1 MiB"),
                });
            }
        },
    };
    let data_offset = r.pos.next_multiple_of(alignment);
    let mut end = data_offset;
    let mut known = true;
    for t in &tensors {
        if t.offset % alignment != 0 {
            return Err(GgufError::Invalid { at: data_offset, what: format!("tensor `{}` is not aligned", t.name) });
        }
        match t.bytes().and_then(|b| t.offset.checked_add(b)).and_then(|e| e.checked_add(data_offset)) {
            Some(e) => end = end.max(e),
            None if ggml_type_size(t.ggml_type).is_none() => known = false,
            None => return Err(GgufError::Invalid { at: data_offset, what: format!("tensor `{}` overflows", t.name) }),
        }
    }
    Ok(Header { version, metadata, tensors, data_offset, min_file_size: known.then_some(end) })
}

struct Cursor<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Cursor<R> {
    fn exact(&mut self, buf: &mut [u8]) -> std::result::Result<(), GgufError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => return Err(GgufError::Truncated(self.pos + filled as u64)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(GgufError::Invalid { at: self.pos + filled as u64, what: format!("read error: {e}") });
                }
            }
        }
        self.pos += buf.len() as u64;
        Ok(())
    }
    fn skip(&mut self, mut n: u64) -> std::result::Result<(), GgufError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let step = n.min(buf.len() as u64) as usize;
            self.exact(&mut buf[..step])?;
            n -= step as u64;
        }
        Ok(())
    }
    fn u32(&mut self) -> std::result::Result<u32, GgufError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> std::result::Result<u64, GgufError> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn count(&mut self, max: u64, what: &str) -> std::result::Result<u64, GgufError> {
        let at = self.pos;
        let n = self.u64()?;
        if n > max {
            return Err(GgufError::Invalid { at, what: format!("{what} {n} is larger than {max}") });
        }
        Ok(n)
    }
    fn string(&mut self, max: u64) -> std::result::Result<String, GgufError> {
        let at = self.pos;
        let len = self.count(max, "string length")?;
        // Grows only as bytes arrive, so a lying length cannot allocate more than the input holds.
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut left = len;
        while left > 0 {
            let step = left.min(chunk.len() as u64) as usize;
            self.exact(&mut chunk[..step])?;
            bytes.extend_from_slice(&chunk[..step]);
            left -= step as u64;
        }
        String::from_utf8(bytes).map_err(|_| GgufError::Invalid { at, what: "a string is not UTF-8".into() })
    }
    fn number(&mut self, elem: u32) -> std::result::Result<Option<Value>, GgufError> {
        let mut b = [0u8; 8];
        let width = match elem {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            _ => return Ok(None),
        };
        self.exact(&mut b[..width])?;
        Ok(Some(match elem {
            0 => Value::Uint(u64::from(b[0])),
            1 => Value::Int(i64::from(b[0] as i8)),
            2 => Value::Uint(u64::from(u16::from_le_bytes([b[0], b[1]]))),
            3 => Value::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))),
            4 => Value::Uint(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            5 => Value::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            6 => Value::Float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            7 => Value::Bool(b[0] != 0),
            10 => Value::Uint(u64::from_le_bytes(b)),
            11 => Value::Int(i64::from_le_bytes(b)),
            _ => Value::Float(f64::from_le_bytes(b)),
        }))
    }
    fn value(&mut self, elem: u32) -> std::result::Result<Value, GgufError> {
        let at = self.pos;
        if let Some(v) = self.number(elem)? {
            return Ok(v);
        }
        match elem {
            8 => Ok(Value::Str(self.string(MAX_STRING_LEN)?)),
            9 => {
                let elem_type = self.u32()?;
                let len = self.count(MAX_ARRAY_LEN, "array length")?;
                if elem_type == 8 {
                    for _ in 0..len {
                        let n = self.count(MAX_STRING_LEN, "string length")?;
                        self.skip(n)?;
                    }
                    return Ok(Value::Array { elem_type, len, numbers: None });
                }
                if elem_type == 9 {
                    return Err(GgufError::Invalid { at, what: "nested arrays are not supported".into() });
                }
                let keep = len <= KEPT_ARRAY_LEN;
                let mut numbers = Vec::new();
                for _ in 0..len {
                    let v = self.number(elem_type)?.ok_or_else(|| GgufError::Invalid {
                        at,
                        what: format!("unknown array element type {elem_type}"),
                    })?;
                    if keep {
                        numbers.push(match v {
                            Value::Uint(x) => x as f64,
                            Value::Int(x) => x as f64,
                            Value::Float(x) => x,
                            Value::Bool(x) => f64::from(u8::from(x)),
                            _ => unreachable!("number() returns numbers"),
                        });
                    }
                }
                Ok(Value::Array { elem_type, len, numbers: keep.then_some(numbers) })
            }
            _ => Err(GgufError::Invalid { at, what: format!("unknown value type {elem}") }),
        }
    }
}

/// (elements per block, bytes per block) of a ggml tensor type (ggml.c `type_traits`).
pub fn ggml_type_size(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),     // F32
        1 => (1, 2),     // F16
        2 => (32, 18),   // Q4_0
        3 => (32, 20),   // Q4_1
        6 => (32, 22),   // Q5_0
        7 => (32, 24),   // Q5_1
        8 => (32, 34),   // Q8_0
        9 => (32, 36),   // Q8_1
        10 => (256, 84), // Q2_K
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66), // IQ2_XXS
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        20 => (32, 18), // IQ4_NL
        21 => (256, 110),
        22 => (256, 82),
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),
        26 => (1, 4),
        27 => (1, 8),
        28 => (1, 8),    // F64
        29 => (256, 56), // IQ1_M
        30 => (1, 2),    // BF16
        34 => (256, 54), // TQ1_0
        35 => (256, 66),
        39 => (32, 17), // MXFP4
        _ => return None,
    })
}

/// llama.cpp's `general.file_type` (enum llama_ftype) as the quant names the catalog uses.
pub fn file_type_name(ftype: u64) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small but complete GGUF: every value type, a vocabulary, two tensors and their data.
    fn sample() -> Vec<u8> {
        fn s(out: &mut Vec<u8>, text: &str) {
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes()); // tensors
        b.extend_from_slice(&7u64.to_le_bytes()); // kv
        s(&mut b, "general.architecture");
        b.extend_from_slice(&8u32.to_le_bytes());
        s(&mut b, "llama");
        s(&mut b, "llama.context_length");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&32768u32.to_le_bytes());
        s(&mut b, "llama.block_count");
        b.extend_from_slice(&10u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        s(&mut b, "llama.rope.freq_base");
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&10000f32.to_le_bytes());
        s(&mut b, "general.file_type");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        s(&mut b, "llama.attention.head_count_kv");
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&5u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&[4, 0, 0, 0, 2, 0, 0, 0]);
        s(&mut b, "tokenizer.ggml.tokens");
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&3u64.to_le_bytes());
        for t in ["<s>", "a", "b"] {
            s(&mut b, t);
        }
        for (name, offset) in [("token_embd.weight", 0u64), ("output_norm.weight", 64)] {
            s(&mut b, name);
            b.extend_from_slice(&2u32.to_le_bytes());
            b.extend_from_slice(&4u64.to_le_bytes());
            b.extend_from_slice(&3u64.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes()); // F16: 12 elements, 24 bytes
            b.extend_from_slice(&offset.to_le_bytes());
        }
        let data = b.len().next_multiple_of(32);
        b.resize(data + 64 + 24, 0x11);
        b
    }

    #[test]
    fn reads_metadata_tensors_and_the_size_the_tensors_need() {
        let bytes = sample();
        let h = parse(&bytes[..]).unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.context_length(), Some(32768));
        assert_eq!(h.arch_u64("block_count"), Some(2), "a u64 value");
        assert_eq!(h.arch_u64("attention.head_count_kv"), Some(4), "largest of a per-layer array");
        assert_eq!(h.arch_array("attention.head_count_kv"), Some(&[4.0, 2.0][..]));
        assert_eq!(h.array_len("tokenizer.ggml.tokens"), Some(3));
        assert_eq!(h.file_type(), Some("F16"));
        assert_eq!(h.get("llama.rope.freq_base"), Some(&Value::Float(10000.0)));
        assert_eq!(h.tensors.len(), 2);
        assert_eq!(h.tensors[1].bytes(), Some(24));
        assert_eq!(h.params(), 24);
        assert_eq!(h.data_offset % 32, 0);
        assert_eq!(h.min_file_size, Some(bytes.len() as u64));
        h.check_complete(bytes.len() as u64).unwrap();
        assert!(h.check_complete(bytes.len() as u64 - 1).unwrap_err().to_string().contains("truncated"));
    }

    #[test]
    fn every_truncation_of_the_header_is_an_error_naming_the_byte() {
        let bytes = sample();
        let header_len = parse(&bytes[..]).unwrap().data_offset as usize;
        // The last bytes before data_offset are alignment padding the reader never needs.
        let table_end = (0..header_len).rev().find(|&n| parse(&bytes[..n]).is_err()).unwrap() + 1;
        for n in 0..table_end {
            match parse(&bytes[..n]) {
                Err(GgufError::Truncated(at)) => assert!(at <= n as u64),
                other => panic!("{n} bytes: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_and_foreign_files_are_refused_by_name() {
        assert!(matches!(parse(&b"<!DOCTYPE html><html>"[..]), Err(GgufError::NotGguf(s)) if s == "<!DO"));
        assert_eq!(parse(&b"GGUF\x01\0\0\0"[..]), Err(GgufError::Version(1)));
        assert_eq!(parse(&b"GGUF\0\0\0\x03"[..]), Err(GgufError::Version(0x0300_0000)), "big-endian");
    }

    #[test]
    fn huge_counts_and_lengths_fail_without_allocating() {
        let mut b = b"GGUF\x03\0\0\0".to_vec();
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(parse(&b[..]), Err(GgufError::Invalid { what, .. }) if what.contains("tensor count")));

        // A plausible count but a key length of 2^60: refused before reading.
        let mut b = b"GGUF\x03\0\0\0".to_vec();
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(matches!(parse(&b[..]), Err(GgufError::Invalid { what, .. }) if what.contains("string length")));

        // An array that claims 2^25 strings but holds none: runs out of bytes, no allocation of that size.
        let mut b = b"GGUF\x03\0\0\0".to_vec();
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.push(b'k');
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(1u64 << 25).to_le_bytes());
        assert!(matches!(parse(&b[..]), Err(GgufError::Truncated(_))));
    }

    /// Property test: random mutations of a valid header (xorshift, fixed seed) never panic; whatever parses
    /// has bounded tensors and sizes.
    #[test]
    fn random_mutations_never_panic() {
        let base = sample();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut b = base.clone();
            for _ in 0..=(next() % 4) {
                let i = (next() % b.len() as u64) as usize;
                b[i] = match next() % 3 {
                    0 => next() as u8,
                    1 => 0xff,
                    _ => 0,
                };
            }
            let cut = (next() % (b.len() as u64 + 1)) as usize;
            if let Ok(h) = parse(&b[..cut]) {
                assert!(h.tensors.len() <= 2 && h.metadata.len() <= 7);
                let _ = h.check_complete(cut as u64);
            }
        }
    }
}
