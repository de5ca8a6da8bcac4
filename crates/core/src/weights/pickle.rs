//! Reads PyTorch checkpoints from their bytes, without PyTorch or Python.
//!
//! Supported containers:
//! - `torch.save` zip archives (the default since PyTorch 1.6): `<archive>/data.pkl` plus one
//!   `<archive>/data/<key>` entry per storage, and an optional `<archive>/byteorder`. The archive
//!   name is whatever the first path component is. This covers open_clip / OpenAI / transformers
//!   state dicts (`.pt`, `.pth`, `.bin`), nested training checkpoints, and whole pickled
//!   `nn.Module`s (flattened like `state_dict()`).
//! - TorchScript archives written by `torch.jit.save`: the same layout, where `data.pkl` builds
//!   `__torch__.…` module objects whose attributes are flattened to the usual state-dict names.
//!   `constants.pkl`, `code/`, `traced_inputs.pkl` etc. are ignored.
//! - Legacy (pre-1.6) `torch.save` files: five pickles in a row (magic number, protocol version,
//!   system info, the object, the storage keys) followed by the raw storages.
//!
//! The pickle is run by a small virtual machine that never executes anything: globals are just
//! names, and only the handful torch needs (`OrderedDict`, tensor rebuilders, ...) have a meaning.
//! Every size, offset and stride is checked against the bytes actually present before anything is
//! allocated, the VM's stack, memo and object count are bounded, and no input can make it panic.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

use half::{bf16, f16};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::raw::RawTensor;

/// Values on the pickle stack (above all marks) at any one time.
const MAX_STACK: usize = 1 << 20;
/// Entries in a pickle's memo.
const MAX_MEMO: usize = 1 << 22;
/// Nested, still open MARKs.
const MAX_MARKS: usize = 1 << 12;
/// Mutable objects (lists, dicts, sets, instances) created across the checkpoint's pickles.
const MAX_OBJECTS: usize = 1 << 22;
/// Nesting of tuples inside tuples while unpickling.
const MAX_TUPLE_DEPTH: u32 = 256;
/// Nesting of containers while flattening the object tree into names.
const MAX_DEPTH: usize = 128;
/// Containers and values visited while flattening (shared sub-trees are walked once per path).
const MAX_VISITS: usize = 1 << 22;
/// Length of a dotted tensor name.
const MAX_NAME_LEN: usize = 4096;
/// Dict keys longer than this are not de-duplicated (hashing them repeatedly could be slow).
const MAX_INDEXED_KEY_LEN: usize = 256;
/// Dimensions of one tensor.
const MAX_DIMS: usize = 64;
/// Size of a pickle (`data.pkl`) after decompression.
const MAX_PICKLE_LEN: usize = 1 << 30;
/// Output elements allowed at least, whatever the input size (stride-0 views can legitimately
/// expand a storage; beyond `max(2 * input bytes, this)` a checkpoint is treated as malicious).
const MIN_ELEMENT_BUDGET: usize = 1 << 26;
/// Bytes that compressed zip entries may inflate to at least (then 16x the input size).
const MIN_INFLATE_BUDGET: usize = 1 << 26;

/// `0x1950a86a20f9469cfc6c`, the legacy torch.save magic number, as LONG1 stores it.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION: i64 = 1001;

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error(
        "not a PyTorch checkpoint: expected a zip archive (torch.save since PyTorch 1.6, or \
         torch.jit.save) or a legacy torch.save file, but the file starts with {head}"
    )]
    NotAZip { head: String },
    #[error("damaged or truncated zip archive: {0}")]
    Zip(String),
    #[error(
        "the zip archive has no `<archive>/data.pkl` entry, so it is not a torch.save or \
         torch.jit.save checkpoint (entries: {entries})"
    )]
    MissingDataPkl { entries: String },
    #[error("zip entry `{entry}`: {reason}")]
    ZipEntry { entry: String, reason: String },
    #[error(
        "legacy (pre-1.6) torch.save file could not be read: {reason}; re-save it with a recent \
         PyTorch: `torch.save(torch.load(f), f2)`"
    )]
    LegacyFormat { reason: String },
    #[error("pickle `{entry}` is truncated: the instruction at byte {at} runs past its end")]
    Truncated { entry: String, at: usize },
    #[error("pickle `{entry}`: unsupported opcode 0x{opcode:02x} at byte {at}")]
    UnsupportedOpcode {
        entry: String,
        opcode: u8,
        at: usize,
    },
    #[error("pickle `{entry}` is malformed at byte {at}: {reason}")]
    Malformed {
        entry: String,
        at: usize,
        reason: String,
    },
    #[error("pickle `{entry}`: {what} exceeds the limit of {limit} at byte {at}")]
    LimitExceeded {
        entry: String,
        at: usize,
        what: &'static str,
        limit: usize,
    },
    #[error("storage `{key}`: {reason}")]
    BadStorage { key: String, reason: String },
    #[error("tensor `{name}`: {reason}")]
    BadTensor { name: String, reason: String },
    #[error("checkpoint object tree at `{name}`: {reason}")]
    BadStructure { name: String, reason: String },
}

type Result<T> = std::result::Result<T, PickleError>;

/// Reads every floating-point tensor of a PyTorch checkpoint (torch.save zip or TorchScript archive),
/// flattened to dotted names, in file order.
///
/// Float32, float16, bfloat16 and float64 tensors are converted to f32; integer, bool, complex and
/// quantized tensors, and anything that is not a tensor (epochs, hyper-parameters, ...), are skipped.
/// Dict keys and object attributes become name components (`image_adapter.lora_adapters.0.lora_A`);
/// int keys and list positions become their decimal string. Legacy (pre-1.6) `torch.save` files
/// are read as well.
pub fn read_torch_checkpoint(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>> {
    if bytes.starts_with(b"PK") {
        read_zip_checkpoint(bytes)
    } else if bytes.first() == Some(&0x80) {
        read_legacy_checkpoint(bytes)
    } else {
        Err(PickleError::NotAZip {
            head: describe_head(bytes),
        })
    }
}

fn describe_head(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (the file is empty)".to_string();
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", head.join(" "))
}

// ---------------------------------------------------------------------------------------------
// Containers: zip and legacy
// ---------------------------------------------------------------------------------------------

fn read_zip_checkpoint(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>> {
    let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| PickleError::Zip(e.to_string()))?;
    let prefix = find_archive_prefix(&zip)?;
    let mut store = ZipStore {
        bytes,
        zip,
        inflate_budget: MIN_INFLATE_BUDGET.max(bytes.len().saturating_mul(16)),
        cache: HashMap::new(),
    };

    let big_endian = match store.read_optional(&format!("{prefix}byteorder"), 64)? {
        None => false,
        Some(order) => match std::str::from_utf8(&order).map(str::trim) {
            Ok("little") => false,
            Ok("big") => true,
            _ => {
                return Err(PickleError::ZipEntry {
                    entry: format!("{prefix}byteorder"),
                    reason: format!(
                        "unknown byte order {:?} (expected \"little\" or \"big\")",
                        String::from_utf8_lossy(&order)
                    ),
                })
            }
        },
    };

    let pkl_name = format!("{prefix}data.pkl");
    let pkl = store.read(&pkl_name, MAX_PICKLE_LEN)?;
    let mut heap = Heap::default();
    let (root, _) = Vm::new(&pkl_name, pkl.as_ref(), 0, &mut heap).run()?;
    let tensors = flatten(&heap, &root)?;

    let mut budget = element_budget(bytes.len());
    let mut out = Vec::with_capacity(tensors.len());
    for (name, spec) in tensors {
        let entry = format!("{prefix}data/{}", spec.storage.key);
        let data = store.storage(&entry, &spec.storage.key)?;
        let tensor = decode_tensor(&name, &spec, data, big_endian, &mut budget)?;
        out.push((name, tensor));
    }
    Ok(out)
}

/// The `<archive>/` prefix of `<archive>/data.pkl` (empty if `data.pkl` sits at the root).
fn find_archive_prefix(zip: &ZipArchive<Cursor<&[u8]>>) -> Result<String> {
    let mut root_level = None;
    for name in zip.file_names() {
        if let Some(dir) = name.strip_suffix("/data.pkl") {
            if !dir.is_empty() && !dir.contains('/') {
                return Ok(format!("{dir}/"));
            }
        } else if name == "data.pkl" {
            root_level = Some(String::new());
        }
    }
    root_level.ok_or_else(|| {
        let mut names: Vec<&str> = zip.file_names().take(6).collect();
        if zip.len() > names.len() {
            names.push("...");
        }
        PickleError::MissingDataPkl {
            entries: if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            },
        }
    })
}

struct ZipStore<'a> {
    bytes: &'a [u8],
    zip: ZipArchive<Cursor<&'a [u8]>>,
    /// Bytes compressed entries may still inflate to.
    inflate_budget: usize,
    /// Storage entries already read (several tensors often share one storage).
    cache: HashMap<String, Cow<'a, [u8]>>,
}

impl<'a> ZipStore<'a> {
    fn read(&mut self, entry: &str, max_len: usize) -> Result<Cow<'a, [u8]>> {
        self.read_optional(entry, max_len)?
            .ok_or_else(|| PickleError::ZipEntry {
                entry: entry.to_string(),
                reason: "missing from the archive".to_string(),
            })
    }

    /// An entry's bytes: borrowed from the input when stored uncompressed (torch's way),
    /// inflated within the budget otherwise.
    fn read_optional(&mut self, entry: &str, max_len: usize) -> Result<Option<Cow<'a, [u8]>>> {
        let bytes: &'a [u8] = self.bytes;
        let entry_err = |reason: String| PickleError::ZipEntry {
            entry: entry.to_string(),
            reason,
        };
        let mut file = match self.zip.by_name(entry) {
            Ok(file) => file,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(entry_err(e.to_string())),
        };
        let size = file.size();
        let size_usize = usize::try_from(size)
            .ok()
            .filter(|&s| s <= max_len)
            .ok_or_else(|| {
                entry_err(format!(
                    "declares {size} bytes, over the limit of {max_len}"
                ))
            })?;
        if file.compression() == CompressionMethod::Stored {
            if file.compressed_size() != size {
                return Err(entry_err(format!(
                    "stored entry declares {} bytes in the archive but {size} bytes of content",
                    file.compressed_size()
                )));
            }
            let start = usize::try_from(file.data_start()).ok();
            let slice = start
                .and_then(|s| Some(s..s.checked_add(size_usize)?))
                .and_then(|range| bytes.get(range))
                .ok_or_else(|| {
                    entry_err(format!(
                        "its {size} bytes extend past the end of the file ({} bytes; truncated?)",
                        bytes.len()
                    ))
                })?;
            return Ok(Some(Cow::Borrowed(slice)));
        }
        if size_usize > self.inflate_budget {
            return Err(entry_err(format!(
                "compressed entry declares {size} bytes, more than the {} bytes allowed to inflate",
                self.inflate_budget
            )));
        }
        let mut buf = Vec::with_capacity(size_usize.min(1 << 20));
        (&mut file)
            .take(size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| entry_err(format!("cannot decompress: {e}")))?;
        if buf.len() != size_usize {
            return Err(entry_err(format!(
                "inflates to {}{} bytes but declares {size}",
                buf.len(),
                if buf.len() > size_usize {
                    " or more"
                } else {
                    ""
                }
            )));
        }
        self.inflate_budget -= size_usize;
        Ok(Some(Cow::Owned(buf)))
    }

    fn storage(&mut self, entry: &str, key: &str) -> Result<&[u8]> {
        if !self.cache.contains_key(entry) {
            let data =
                self.read_optional(entry, usize::MAX)?
                    .ok_or_else(|| PickleError::BadStorage {
                        key: key.to_string(),
                        reason: format!("zip entry `{entry}` is missing"),
                    })?;
            self.cache.insert(entry.to_string(), data);
        }
        self.cache
            .get(entry)
            .map(|c| c.as_ref())
            .ok_or_else(|| PickleError::BadStorage {
                key: key.to_string(),
                reason: "storage cache lookup failed".to_string(),
            })
    }
}

fn element_budget(input_len: usize) -> usize {
    MIN_ELEMENT_BUDGET.max(input_len.saturating_mul(2))
}

fn read_legacy_checkpoint(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>> {
    let mut heap = Heap::default();
    let legacy = |reason: String| PickleError::LegacyFormat { reason };

    // 1. The magic number. Anything else is not a torch file at all (e.g. a plain pickle).
    let not_torch = || PickleError::NotAZip {
        head: format!(
            "{} (a pickle, but not a torch.save file)",
            describe_head(bytes)
        ),
    };
    let (magic, pos) = Vm::new("legacy magic number", bytes, 0, &mut heap)
        .run()
        .map_err(|_| not_torch())?;
    match magic {
        Value::BigInt(ref b) if b.as_ref() == LEGACY_MAGIC => {}
        _ => return Err(not_torch()),
    }
    // 2. Protocol version, 3. system info.
    let (version, pos) = Vm::new("legacy protocol version", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    if !matches!(version, Value::Int(LEGACY_PROTOCOL_VERSION)) {
        return Err(legacy(format!(
            "unsupported protocol version {}",
            version.describe()
        )));
    }
    let (sys_info, pos) = Vm::new("legacy system info", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    let little_endian = match heap.dict_get(&sys_info, "little_endian") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(legacy(format!("little_endian is {}", other.describe()))),
    };
    // 4. The object, 5. the list of storage keys in the order their data follows.
    let (root, pos) = Vm::new("legacy object", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    let (keys, mut pos) = Vm::new("legacy storage key list", bytes, pos, &mut heap)
        .run()
        .map_err(as_legacy)?;
    let keys: Vec<Rc<str>> = match heap.items(&keys) {
        Some(items) => items
            .iter()
            .map(|k| match k {
                Value::Str(s) => Ok(s.clone()),
                other => Err(legacy(format!("storage key is {}", other.describe()))),
            })
            .collect::<Result<_>>()?,
        None => {
            return Err(legacy(format!(
                "the storage key list is {}",
                keys.describe()
            )))
        }
    };

    // Element sizes of the storages the object refers to.
    let mut elem_sizes: HashMap<&str, usize> = HashMap::new();
    for s in &heap.storages {
        if let Some(size) = s.dtype.size() {
            elem_sizes.entry(&s.key).or_insert(size);
        }
    }
    let mut storages: HashMap<Rc<str>, &[u8]> = HashMap::new();
    for key in &keys {
        let header = bytes
            .get(pos..pos.saturating_add(8))
            .and_then(|h| <[u8; 8]>::try_from(h).ok())
            .ok_or_else(|| legacy(format!("the file ends before storage `{key}` (truncated?)")))?;
        let numel = if little_endian {
            u64::from_le_bytes(header)
        } else {
            u64::from_be_bytes(header)
        };
        let elem = *elem_sizes
            .get(key.as_ref())
            .ok_or_else(|| legacy(format!("storage `{key}` has no known element type")))?;
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(elem))
            .filter(|&len| len <= bytes.len())
            .ok_or_else(|| {
                legacy(format!(
                    "storage `{key}` declares {numel} elements, more than the file holds"
                ))
            })?;
        let start = pos + 8;
        let data = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| legacy(format!("storage `{key}` is cut short (truncated file?)")))?;
        storages.insert(key.clone(), data);
        pos = start + len;
    }

    let tensors = flatten(&heap, &root)?;
    let mut budget = element_budget(bytes.len());
    let mut out = Vec::with_capacity(tensors.len());
    for (name, spec) in tensors {
        let data = storages
            .get(&spec.storage.key)
            .ok_or_else(|| PickleError::BadStorage {
                key: spec.storage.key.to_string(),
                reason: format!("tensor `{name}` refers to it, but the file has no such storage"),
            })?;
        out.push((
            name.clone(),
            decode_tensor(&name, &spec, data, !little_endian, &mut budget)?,
        ));
    }
    Ok(out)
}

/// A pickle error inside a legacy file, reported with the advice to re-save it.
fn as_legacy(e: PickleError) -> PickleError {
    PickleError::LegacyFormat {
        reason: e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// Little-endian two's complement, for ints that do not fit an i64.
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<Tuple>),
    Global(Rc<Global>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorSpec>),
    /// A mutable object (list, dict, set, instance) in the [`Heap`].
    Ref(usize),
}

#[derive(Debug)]
struct Tuple {
    items: Vec<Value>,
    /// Nesting of tuples inside this one (bounded so dropping and walking cannot overflow).
    depth: u32,
}

#[derive(Debug)]
struct Global {
    module: Rc<str>,
    name: Rc<str>,
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => format!("bool {b}"),
            Value::Int(i) => format!("int {i}"),
            Value::BigInt(_) => "a big int".into(),
            Value::Float(f) => format!("float {f}"),
            Value::Str(s) => format!("string {:?}", truncate_for_message(s)),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::Tuple(t) => format!("a tuple of {}", t.items.len()),
            Value::Global(g) => format!("global {}.{}", g.module, g.name),
            Value::Storage(s) => format!("storage `{}`", s.key),
            Value::Tensor(_) => "a tensor".into(),
            Value::Ref(_) => "an object".into(),
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    fn tuple_depth(&self) -> u32 {
        match self {
            Value::Tuple(t) => t.depth,
            _ => 0,
        }
    }
}

fn truncate_for_message(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let cut: String = s.chars().take(60).collect();
        format!("{cut}...")
    }
}

/// Element types of storages and tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DType {
    F32,
    F16,
    BF16,
    F64,
    /// Not a float type we convert; the element size when known.
    Other(Option<usize>),
}

impl DType {
    fn size(self) -> Option<usize> {
        match self {
            DType::F32 => Some(4),
            DType::F16 | DType::BF16 => Some(2),
            DType::F64 => Some(8),
            DType::Other(size) => size,
        }
    }

    fn is_float(self) -> bool {
        !matches!(self, DType::Other(_))
    }

    /// From a storage class name (`torch.FloatStorage`, ...).
    fn from_storage_name(name: &str) -> DType {
        match name {
            "FloatStorage" => DType::F32,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "DoubleStorage" => DType::F64,
            "LongStorage" | "ComplexFloatStorage" => DType::Other(Some(8)),
            "IntStorage" | "QInt32Storage" => DType::Other(Some(4)),
            "ShortStorage" => DType::Other(Some(2)),
            "CharStorage" | "ByteStorage" | "BoolStorage" | "QInt8Storage" | "QUInt8Storage"
            | "QUInt4x2Storage" | "QUInt2x4Storage" | "UntypedStorage" => DType::Other(Some(1)),
            "ComplexDoubleStorage" => DType::Other(Some(16)),
            _ => DType::Other(None),
        }
    }

    /// From a dtype global (`torch.float16`, ...), as `_rebuild_tensor_v3` receives it.
    fn from_dtype_name(name: &str) -> DType {
        match name {
            "float32" | "float" => DType::F32,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "float64" | "double" => DType::F64,
            "int64" | "long" | "complex64" | "cfloat" => DType::Other(Some(8)),
            "int32" | "int" | "qint32" => DType::Other(Some(4)),
            "int16" | "short" | "uint16" => DType::Other(Some(2)),
            "int8" | "uint8" | "bool" | "qint8" | "quint8" => DType::Other(Some(1)),
            "complex128" | "cdouble" => DType::Other(Some(16)),
            _ => DType::Other(None),
        }
    }
}

/// A storage as a persistent id names it.
#[derive(Debug)]
struct StorageRef {
    key: Rc<str>,
    dtype: DType,
    /// Elements the storage declares (bytes for `UntypedStorage`).
    numel: usize,
    /// Legacy storage views: (offset, elements) inside the root storage.
    view: Option<(usize, usize)>,
}

/// A tensor as `_rebuild_tensor_v2` describes it; decoded only once its name is known.
#[derive(Debug)]
struct TensorSpec {
    storage: Rc<StorageRef>,
    dtype: DType,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

#[derive(Debug)]
enum Obj {
    List(Vec<Value>),
    Dict(Dict),
    Set(Vec<Value>),
    Instance(Instance),
}

#[derive(Debug)]
struct Instance {
    #[allow(dead_code)] // kept for debugging output
    class: Option<Rc<Global>>,
    /// What BUILD set (usually a dict of attributes).
    state: Option<Value>,
    /// Items set on a dict-like instance (e.g. `collections.defaultdict`).
    items: Dict,
    /// Items appended to a list-like instance.
    list: Vec<Value>,
}

impl Instance {
    fn new(class: Option<Rc<Global>>) -> Self {
        Instance {
            class,
            state: None,
            items: Dict::default(),
            list: Vec::new(),
        }
    }
}

#[derive(Debug, Hash, PartialEq, Eq)]
enum KeyRepr {
    Str(Rc<str>),
    Int(i64),
}

/// An insertion-ordered dict; str/int keys are de-duplicated like Python's.
#[derive(Debug, Default)]
struct Dict {
    entries: Vec<(Value, Value)>,
    index: HashMap<KeyRepr, usize>,
}

impl Dict {
    fn set(&mut self, key: Value, value: Value) {
        let repr = match &key {
            Value::Str(s) if s.len() <= MAX_INDEXED_KEY_LEN => Some(KeyRepr::Str(s.clone())),
            Value::Int(i) => Some(KeyRepr::Int(*i)),
            Value::Bool(b) => Some(KeyRepr::Int(i64::from(*b))),
            _ => None,
        };
        if let Some(repr) = repr {
            if let Some(&i) = self.index.get(&repr) {
                if let Some(entry) = self.entries.get_mut(i) {
                    entry.1 = value;
                    return;
                }
            }
            self.index.insert(repr, self.entries.len());
        }
        self.entries.push((key, value));
    }

    fn get_str(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s.as_ref() == key))
            .map(|(_, v)| v)
    }
}

/// The mutable objects of a checkpoint and the storages it refers to.
#[derive(Debug, Default)]
struct Heap {
    objects: Vec<Obj>,
    storages: Vec<Rc<StorageRef>>,
}

impl Heap {
    fn alloc(&mut self, obj: Obj) -> Option<Value> {
        if self.objects.len() >= MAX_OBJECTS {
            return None;
        }
        self.objects.push(obj);
        Some(Value::Ref(self.objects.len() - 1))
    }

    fn get(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Ref(id) => self.objects.get(*id),
            _ => None,
        }
    }

    fn dict_get(&self, v: &Value, key: &str) -> Option<Value> {
        match self.get(v)? {
            Obj::Dict(d) => d.get_str(key).cloned(),
            _ => None,
        }
    }

    /// Items of a list or tuple.
    fn items<'v>(&'v self, v: &'v Value) -> Option<&'v [Value]> {
        match v {
            Value::Tuple(t) => Some(&t.items),
            Value::Ref(_) => match self.get(v)? {
                Obj::List(items) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pickle virtual machine
// ---------------------------------------------------------------------------------------------

struct Vm<'a, 'h> {
    entry: &'a str,
    data: &'a [u8],
    pos: usize,
    /// Where the current instruction starts (for error messages).
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    heap: &'h mut Heap,
}

impl<'a, 'h> Vm<'a, 'h> {
    fn new(entry: &'a str, data: &'a [u8], pos: usize, heap: &'h mut Heap) -> Self {
        Vm {
            entry,
            data,
            pos,
            at: pos,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            heap,
        }
    }

    // --- errors -------------------------------------------------------------------------------

    fn malformed(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            entry: self.entry.to_string(),
            at: self.at,
            reason: reason.into(),
        }
    }

    fn truncated(&self) -> PickleError {
        PickleError::Truncated {
            entry: self.entry.to_string(),
            at: self.at,
        }
    }

    fn limit(&self, what: &'static str, limit: usize) -> PickleError {
        PickleError::LimitExceeded {
            entry: self.entry.to_string(),
            at: self.at,
            what,
            limit,
        }
    }

    // --- reading the instruction stream -------------------------------------------------------

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let bytes = data.get(self.pos..end).ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.truncated())
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take_array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take_array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    /// A length read from the stream, checked against what is left before anything is allocated.
    fn checked_len(&mut self, n: u64) -> Result<usize> {
        let left = self.data.len().saturating_sub(self.pos);
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => Err(self.truncated()),
        }
    }

    /// A text line (protocol 0 arguments), without its newline.
    fn line(&mut self) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let rest = data.get(self.pos..).ok_or_else(|| self.truncated())?;
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.truncated())?;
        self.pos += n + 1;
        Ok(rest.get(..n).unwrap_or_default())
    }

    fn line_str(&mut self) -> Result<Rc<str>> {
        let line = self.line()?;
        Ok(Rc::from(String::from_utf8_lossy(line).as_ref()))
    }

    fn line_int(&mut self) -> Result<i64> {
        let line = self.line()?;
        let text = std::str::from_utf8(line).map_err(|_| self.malformed("non-ASCII integer"))?;
        let text = text.trim().trim_end_matches('L');
        text.parse::<i64>()
            .map_err(|_| self.malformed(format!("bad integer {:?}", truncate_for_message(text))))
    }

    // --- the stack ----------------------------------------------------------------------------

    fn base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, v: Value) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.limit("pickle stack size", MAX_STACK));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<Value> {
        if self.stack.len() <= self.base() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn top(&self) -> Result<&Value> {
        if self.stack.len() <= self.base() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .last()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn alloc(&mut self, obj: Obj) -> Result<Value> {
        match self.heap.alloc(obj) {
            Some(v) => Ok(v),
            None => Err(self.limit("number of objects", MAX_OBJECTS)),
        }
    }

    fn tuple(&self, items: Vec<Value>) -> Result<Value> {
        let depth = items.iter().map(Value::tuple_depth).max().unwrap_or(0) + 1;
        if depth > MAX_TUPLE_DEPTH {
            return Err(self.limit("tuple nesting", MAX_TUPLE_DEPTH as usize));
        }
        Ok(Value::Tuple(Rc::new(Tuple { items, depth })))
    }

    fn memo_put(&mut self, key: u32) -> Result<()> {
        let v = self.top()?.clone();
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&key) {
            return Err(self.limit("memo size", MAX_MEMO));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<()> {
        let v = u32::try_from(key)
            .ok()
            .and_then(|k| self.memo.get(&k))
            .cloned()
            .ok_or_else(|| self.malformed(format!("memo entry {key} was never stored")))?;
        self.push(v)
    }

    /// The mutable object on top of the stack (the target of APPEND, SETITEM, ...).
    fn target(&mut self, op: &str) -> Result<&mut Obj> {
        let id = match self.top()? {
            Value::Ref(id) => *id,
            other => return Err(self.malformed(format!("{op} on {}", other.describe()))),
        };
        let (entry, at) = (self.entry, self.at);
        self.heap
            .objects
            .get_mut(id)
            .ok_or_else(|| PickleError::Malformed {
                entry: entry.to_string(),
                at,
                reason: format!("{op} on a dangling object"),
            })
    }

    fn append(&mut self, items: Vec<Value>) -> Result<()> {
        match self.target("APPEND")? {
            Obj::List(list) => list.extend(items),
            Obj::Instance(inst) => inst.list.extend(items),
            Obj::Set(_) | Obj::Dict(_) => return Err(self.malformed("APPEND to a dict or set")),
        }
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<()> {
        if !items.len().is_multiple_of(2) {
            return Err(self.malformed("SETITEMS with an odd number of values"));
        }
        let dict = match self.target("SETITEM")? {
            Obj::Dict(d) => d,
            Obj::Instance(inst) => &mut inst.items,
            Obj::List(_) | Obj::Set(_) => return Err(self.malformed("SETITEM on a list or set")),
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dict.set(k, v);
        }
        Ok(())
    }

    // --- the main loop ------------------------------------------------------------------------

    /// Runs the pickle starting at `pos` to its STOP; returns the value and the position after STOP.
    fn run(mut self) -> Result<(Value, usize)> {
        loop {
            self.at = self.pos;
            let op = self.u8()?;
            match op {
                // PROTO
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(self.malformed(format!("unsupported pickle protocol {proto}")));
                    }
                }
                // FRAME: framing is only a hint for buffered readers.
                0x95 => {
                    self.u64()?;
                }
                // STOP
                b'.' => {
                    let v = self.pop()?;
                    return Ok((v, self.pos));
                }
                // MARK
                b'(' => {
                    if self.marks.len() >= MAX_MARKS {
                        return Err(self.limit("MARK nesting", MAX_MARKS));
                    }
                    self.marks.push(self.stack.len());
                }
                // POP: pops the top, or the mark when the current frame is empty (as CPython does)
                b'0' => {
                    if self.stack.len() > self.base() {
                        self.pop()?;
                    } else {
                        self.pop_mark()?;
                    }
                }
                // POP_MARK
                b'1' => {
                    self.pop_mark()?;
                }
                // DUP
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v)?;
                }

                // --- numbers ---
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                // BININT
                b'J' => {
                    let v = i32::from_le_bytes(self.take_array()?);
                    self.push(Value::Int(i64::from(v)))?
                }
                // BININT1
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)))?
                }
                // BININT2
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(i64::from(v)))?
                }
                // LONG1, LONG4
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        u64::from(self.u8()?)
                    } else {
                        let n = i32::from_le_bytes(self.take_array()?);
                        u64::try_from(n)
                            .map_err(|_| self.malformed("LONG4 with a negative length"))?
                    };
                    let n = self.checked_len(n)?;
                    let bytes = self.take(n)?;
                    self.push(long_value(bytes))?
                }
                // INT (protocol 0; "00"/"01" are False/True)
                b'I' => {
                    let line = self.line()?;
                    let v = match line {
                        b"00" => Value::Bool(false),
                        b"01" => Value::Bool(true),
                        _ => {
                            self.pos = self.at + 1;
                            Value::Int(self.line_int()?)
                        }
                    };
                    self.push(v)?
                }
                // LONG (protocol 0)
                b'L' => {
                    let v = self.line_int()?;
                    self.push(Value::Int(v))?
                }
                // BINFLOAT (big-endian)
                b'G' => {
                    let v = f64::from_be_bytes(self.take_array()?);
                    self.push(Value::Float(v))?
                }
                // FLOAT (protocol 0)
                b'F' => {
                    let line = self.line()?;
                    let v = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.malformed("bad float"))?;
                    self.push(Value::Float(v))?
                }

                // --- strings and bytes ---
                // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, SHORT_BINSTRING, BINSTRING
                0x8c | b'X' | 0x8d | b'U' | b'T' => {
                    let n = match op {
                        0x8c | b'U' => u64::from(self.u8()?),
                        b'X' => u64::from(self.u32()?),
                        b'T' => {
                            let n = i32::from_le_bytes(self.take_array()?);
                            u64::try_from(n)
                                .map_err(|_| self.malformed("BINSTRING with a negative length"))?
                        }
                        _ => self.u64()?,
                    };
                    let n = self.checked_len(n)?;
                    let bytes = self.take(n)?;
                    self.push(Value::Str(Rc::from(
                        String::from_utf8_lossy(bytes).as_ref(),
                    )))?
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8
                b'C' | b'B' | 0x8e | 0x96 => {
                    let n = match op {
                        b'C' => u64::from(self.u8()?),
                        b'B' => u64::from(self.u32()?),
                        _ => self.u64()?,
                    };
                    let n = self.checked_len(n)?;
                    let bytes = self.take(n)?;
                    self.push(Value::Bytes(Rc::from(bytes)))?
                }

                // --- tuples ---
                b')' => {
                    let t = self.tuple(Vec::new())?;
                    self.push(t)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let t = self.tuple(items)?;
                    self.push(t)?
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < self.base() + n {
                        return Err(self.malformed("stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let t = self.tuple(items)?;
                    self.push(t)?
                }

                // --- lists ---
                b']' => {
                    let l = self.alloc(Obj::List(Vec::new()))?;
                    self.push(l)?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let l = self.alloc(Obj::List(items))?;
                    self.push(l)?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?
                }

                // --- dicts ---
                b'}' => {
                    let d = self.alloc(Obj::Dict(Dict::default()))?;
                    self.push(d)?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    if !items.len().is_multiple_of(2) {
                        return Err(self.malformed("DICT with an odd number of values"));
                    }
                    let mut dict = Dict::default();
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        dict.set(k, v);
                    }
                    let d = self.alloc(Obj::Dict(dict))?;
                    self.push(d)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?
                }

                // --- sets ---
                0x8f => {
                    let s = self.alloc(Obj::Set(Vec::new()))?;
                    self.push(s)?
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    match self.target("ADDITEMS")? {
                        Obj::Set(set) => set.extend(items),
                        _ => return Err(self.malformed("ADDITEMS on a non-set")),
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let s = self.alloc(Obj::Set(items))?;
                    self.push(s)?
                }

                // --- memo ---
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(u32::from(k))?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?
                }
                b'p' => {
                    let k = self.line_int()?;
                    let k = u32::try_from(k).map_err(|_| self.malformed("negative memo key"))?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = u32::try_from(self.memo.len())
                        .map_err(|_| self.limit("memo size", MAX_MEMO))?;
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(u64::from(k))?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(u64::from(k))?
                }
                b'g' => {
                    let k = self.line_int()?;
                    let k = u64::try_from(k).map_err(|_| self.malformed("negative memo key"))?;
                    self.memo_get(k)?
                }

                // --- globals and objects ---
                // GLOBAL
                b'c' => {
                    let module = self.line_str()?;
                    let name = self.line_str()?;
                    self.push(Value::Global(Rc::new(Global { module, name })))?
                }
                // STACK_GLOBAL
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(module), Value::Str(name)) => {
                            self.push(Value::Global(Rc::new(Global { module, name })))?
                        }
                        _ => return Err(self.malformed("STACK_GLOBAL needs two strings")),
                    }
                }
                // REDUCE
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(&callable, &args, 0)?;
                    self.push(v)?
                }
                // NEWOBJ
                0x81 => {
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.new_object(&cls)?;
                    self.push(v)?
                }
                // NEWOBJ_EX
                0x92 => {
                    let _kwargs = self.pop()?;
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.new_object(&cls)?;
                    self.push(v)?
                }
                // INST (protocol 0)
                b'i' => {
                    let module = self.line_str()?;
                    let name = self.line_str()?;
                    self.pop_mark()?;
                    let cls = Value::Global(Rc::new(Global { module, name }));
                    let v = self.new_object(&cls)?;
                    self.push(v)?
                }
                // OBJ (protocol 1)
                b'o' => {
                    let items = self.pop_mark()?;
                    let cls = items
                        .into_iter()
                        .next()
                        .ok_or_else(|| self.malformed("OBJ without a class"))?;
                    let v = self.new_object(&cls)?;
                    self.push(v)?
                }
                // BUILD
                b'b' => {
                    let state = self.pop()?;
                    if let Value::Ref(id) = *self.top()? {
                        if let Some(Obj::Instance(inst)) = self.heap.objects.get_mut(id) {
                            inst.state = Some(state);
                        }
                        // BUILD on a dict (OrderedDict's `_metadata`) sets attributes, not items.
                    }
                }
                // BINPERSID
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = self.persistent_load(&pid)?;
                    self.push(storage)?
                }

                // PERSID (text ids), EXT1/2/4, NEXT_BUFFER, READONLY_BUFFER, STRING, UNICODE, ...
                _ => {
                    return Err(PickleError::UnsupportedOpcode {
                        entry: self.entry.to_string(),
                        opcode: op,
                        at: self.at,
                    })
                }
            }
        }
    }

    /// NEWOBJ / INST / OBJ: a new, empty object of class `cls`.
    fn new_object(&mut self, cls: &Value) -> Result<Value> {
        let global = match cls {
            Value::Global(g) => Some(g.clone()),
            _ => None,
        };
        let obj = match global
            .as_ref()
            .map(|g| (module_name(&g.module), g.name.as_ref()))
        {
            Some(("collections", "OrderedDict" | "defaultdict")) | Some(("builtins", "dict")) => {
                Obj::Dict(Dict::default())
            }
            Some(("builtins", "list")) => Obj::List(Vec::new()),
            Some(("builtins", "set" | "frozenset")) => Obj::Set(Vec::new()),
            _ => Obj::Instance(Instance::new(global)),
        };
        self.alloc(obj)
    }

    /// REDUCE: what calling `callable(*args)` means for the few callables torch pickles use.
    /// Anything else becomes a generic object.
    fn call(&mut self, callable: &Value, args: &Value, depth: u32) -> Result<Value> {
        let global = match callable {
            Value::Global(g) => g.clone(),
            _ => return self.alloc(Obj::Instance(Instance::new(None))),
        };
        let empty: &[Value] = &[];
        let args_items: &[Value] = match args {
            Value::Tuple(t) => &t.items,
            _ => empty,
        };
        let module = module_name(&global.module);
        match (module, global.name.as_ref()) {
            ("torch._utils", "_rebuild_tensor" | "_rebuild_tensor_v2") => {
                self.rebuild_tensor(args_items, None)
            }
            ("torch._utils", "_rebuild_tensor_v3") => {
                let dtype = match args_items.get(6) {
                    Some(Value::Global(g)) => DType::from_dtype_name(&g.name),
                    _ => return Err(self.malformed("_rebuild_tensor_v3 without a dtype")),
                };
                self.rebuild_tensor(args_items, Some(dtype))
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
            | ("torch.jit._pickle", "restore_type_tag")
            | (
                "torch.jit._pickle",
                "build_intlist" | "build_tensorlist" | "build_doublelist" | "build_boollist"
                | "build_genericlist",
            ) => Ok(args_items.first().cloned().unwrap_or(Value::None)),
            // _rebuild_from_type_v2(func, new_type, args, state): tensor subclasses
            ("torch._tensor", "_rebuild_from_type_v2") | ("torch._utils", "_rebuild_from_type") => {
                match (args_items.first(), args_items.get(2)) {
                    (Some(func), Some(inner)) if depth < 4 => self.call(func, inner, depth + 1),
                    _ => self.alloc(Obj::Instance(Instance::new(Some(global)))),
                }
            }
            ("collections", "OrderedDict") | ("builtins", "dict") => {
                let mut dict = Dict::default();
                if let Some(arg) = args_items.first() {
                    match self.heap.get(arg) {
                        Some(Obj::Dict(d)) => {
                            for (k, v) in &d.entries {
                                dict.set(k.clone(), v.clone());
                            }
                        }
                        _ => {
                            if let Some(pairs) = self.heap.items(arg) {
                                for pair in pairs {
                                    if let Some([k, v]) = self.heap.items(pair) {
                                        dict.set(k.clone(), v.clone());
                                    }
                                }
                            }
                        }
                    }
                }
                self.alloc(Obj::Dict(dict))
            }
            ("builtins", "set" | "frozenset" | "list") => {
                let items = args_items
                    .first()
                    .and_then(|a| self.heap.items(a))
                    .map(<[Value]>::to_vec);
                let items = items.unwrap_or_default();
                let obj = if global.name.as_ref() == "list" {
                    Obj::List(items)
                } else {
                    Obj::Set(items)
                };
                self.alloc(obj)
            }
            ("torch", "Size") | ("builtins", "tuple") => {
                let items = args_items
                    .first()
                    .and_then(|a| self.heap.items(a))
                    .map(<[Value]>::to_vec);
                self.tuple(items.unwrap_or_default())
            }
            // copyreg._reconstructor(cls, base, state): an instance of cls
            ("copyreg", "_reconstructor") => {
                let cls = args_items.first().cloned().unwrap_or(Value::None);
                self.new_object(&cls)
            }
            _ => self.alloc(Obj::Instance(Instance::new(Some(global)))),
        }
    }

    /// `_rebuild_tensor[_v2|_v3](storage, storage_offset, size, stride, ...)`.
    fn rebuild_tensor(&mut self, args: &[Value], dtype: Option<DType>) -> Result<Value> {
        let storage = match args.first() {
            Some(Value::Storage(s)) => s.clone(),
            Some(other) => {
                return Err(self.malformed(format!(
                    "tensor rebuilt from {} instead of a storage",
                    other.describe()
                )))
            }
            None => return Err(self.malformed("tensor rebuilt without arguments")),
        };
        let offset = args
            .get(1)
            .and_then(Value::as_int)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(|| self.malformed("tensor storage offset is not a non-negative int"))?;
        let size = self.dims(args.get(2), "size")?;
        let stride = self.dims(args.get(3), "stride")?;
        if size.len() != stride.len() {
            return Err(self.malformed(format!(
                "tensor size has {} dimensions but its stride {}",
                size.len(),
                stride.len()
            )));
        }
        let dtype = dtype.unwrap_or(storage.dtype);
        Ok(Value::Tensor(Rc::new(TensorSpec {
            storage,
            dtype,
            offset,
            size,
            stride,
        })))
    }

    fn dims(&self, v: Option<&Value>, what: &str) -> Result<Vec<usize>> {
        let items = v
            .and_then(|v| self.heap.items(v))
            .ok_or_else(|| self.malformed(format!("tensor {what} is not a tuple")))?;
        if items.len() > MAX_DIMS {
            return Err(self.malformed(format!(
                "tensor {what} has {} dimensions (at most {MAX_DIMS})",
                items.len()
            )));
        }
        items
            .iter()
            .map(|d| {
                d.as_int()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| self.malformed(format!("tensor {what} holds {}", d.describe())))
            })
            .collect()
    }

    /// BINPERSID: `('storage', storage_type, key, location, numel[, view_metadata])`.
    fn persistent_load(&mut self, pid: &Value) -> Result<Value> {
        let items = match pid {
            Value::Tuple(t) => &t.items,
            other => {
                return Err(self.malformed(format!(
                    "persistent id is {}, not a tuple",
                    other.describe()
                )))
            }
        };
        match items.first() {
            Some(Value::Str(s)) if s.as_ref() == "storage" => {}
            _ => return Err(self.malformed("persistent id is not a ('storage', ...) tuple")),
        }
        if items.len() < 5 {
            return Err(self.malformed(format!(
                "storage persistent id has {} fields, expected 5",
                items.len()
            )));
        }
        let dtype = match items.get(1) {
            Some(Value::Global(g)) => DType::from_storage_name(&g.name),
            Some(other) => {
                return Err(self.malformed(format!("storage type is {}", other.describe())))
            }
            None => DType::Other(None),
        };
        let key: Rc<str> = match items.get(2) {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Int(i)) => Rc::from(i.to_string().as_str()),
            Some(other) => {
                return Err(self.malformed(format!("storage key is {}", other.describe())))
            }
            None => return Err(self.malformed("storage without a key")),
        };
        let numel = items
            .get(4)
            .and_then(Value::as_int)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                self.malformed(format!(
                    "storage `{key}` element count is not a non-negative int"
                ))
            })?;
        // Legacy storage views: (view_key, offset, view_size).
        let view = match items.get(5) {
            None | Some(Value::None) => None,
            Some(Value::Tuple(t)) => {
                let get = |i: usize| {
                    t.items
                        .get(i)
                        .and_then(Value::as_int)
                        .and_then(|n| usize::try_from(n).ok())
                };
                match (get(1), get(2)) {
                    (Some(off), Some(n)) => Some((off, n)),
                    _ => {
                        return Err(self.malformed(format!("storage `{key}` has a malformed view")))
                    }
                }
            }
            Some(other) => {
                return Err(self.malformed(format!("storage `{key}` view is {}", other.describe())))
            }
        };
        let storage = Rc::new(StorageRef {
            key,
            dtype,
            numel,
            view,
        });
        if self.heap.storages.len() < MAX_OBJECTS {
            self.heap.storages.push(storage.clone());
        }
        Ok(Value::Storage(storage))
    }
}

/// Python 2 module names as Python 3's unpickler maps them (`fix_imports`).
fn module_name(module: &str) -> &str {
    match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        other => other,
    }
}

/// LONG1/LONG4 payload: little-endian two's complement.
fn long_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() > 8 {
        return Value::BigInt(Rc::from(bytes));
    }
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
    for (dst, src) in buf.iter_mut().zip(bytes) {
        *dst = *src;
    }
    Value::Int(i64::from_le_bytes(buf))
}

// ---------------------------------------------------------------------------------------------
// Flattening the object tree into names
// ---------------------------------------------------------------------------------------------

fn flatten(heap: &Heap, root: &Value) -> Result<Vec<(String, Rc<TensorSpec>)>> {
    let mut walker = Walker {
        heap,
        visits: 0,
        out: Vec::new(),
    };
    let mut name = String::new();
    walker.walk(root, &mut name, 0)?;
    Ok(walker.out)
}

struct Walker<'h> {
    heap: &'h Heap,
    visits: usize,
    out: Vec<(String, Rc<TensorSpec>)>,
}

impl Walker<'_> {
    fn error(name: &str, reason: impl Into<String>) -> PickleError {
        PickleError::BadStructure {
            name: if name.is_empty() {
                "<root>".to_string()
            } else {
                name.to_string()
            },
            reason: reason.into(),
        }
    }

    fn walk(&mut self, v: &Value, name: &mut String, depth: usize) -> Result<()> {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return Err(Self::error(
                name,
                format!("more than {MAX_VISITS} values to visit (shared sub-trees?)"),
            ));
        }
        if depth > MAX_DEPTH {
            return Err(Self::error(
                name,
                format!("nested deeper than {MAX_DEPTH} levels (a cycle?)"),
            ));
        }
        match v {
            Value::Tensor(t) if t.dtype.is_float() => self.out.push((name.clone(), t.clone())),
            Value::Tuple(t) => self.walk_seq(&t.items, name, depth)?,
            Value::Ref(id) => match self.heap.objects.get(*id) {
                Some(Obj::List(items)) => self.walk_seq(items, name, depth)?,
                Some(Obj::Dict(dict)) => self.walk_dict(dict, name, depth, None)?,
                Some(Obj::Instance(inst)) => {
                    if let Some(state) = &inst.state {
                        self.walk_state(state, name, depth)?;
                    }
                    self.walk_dict(&inst.items, name, depth, None)?;
                    self.walk_seq(&inst.list, name, depth)?;
                }
                Some(Obj::Set(_)) | None => {}
            },
            _ => {}
        }
        Ok(())
    }

    /// An object's BUILD state: its attributes keep the object's own name. A pickled
    /// `nn.Module` (`_parameters`, `_buffers`, `_modules`) is flattened like `state_dict()`.
    fn walk_state(&mut self, state: &Value, name: &mut String, depth: usize) -> Result<()> {
        let dict = match self.heap.get(state) {
            Some(Obj::Dict(d)) => d,
            _ => return self.walk(state, name, depth + 1),
        };
        let is_module = dict.get_str("_modules").is_some() && dict.get_str("_parameters").is_some();
        if !is_module {
            return self.walk_dict(dict, name, depth + 1, None);
        }
        let non_persistent: Vec<&str> = match dict
            .get_str("_non_persistent_buffers_set")
            .and_then(|s| self.heap.get(s))
        {
            Some(Obj::Set(items)) => items
                .iter()
                .filter_map(|v| {
                    if let Value::Str(s) = v {
                        Some(s.as_ref())
                    } else {
                        None
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        for part in ["_parameters", "_buffers", "_modules"] {
            let skip = if part == "_buffers" {
                Some(non_persistent.as_slice())
            } else {
                None
            };
            if let Some(Obj::Dict(d)) = dict.get_str(part).and_then(|v| self.heap.get(v)) {
                self.walk_dict(d, name, depth + 1, skip)?;
            }
        }
        Ok(())
    }

    fn walk_seq(&mut self, items: &[Value], name: &mut String, depth: usize) -> Result<()> {
        for (i, item) in items.iter().enumerate() {
            if can_hold_tensors(item) {
                self.child(&i.to_string(), item, name, depth)?;
            }
        }
        Ok(())
    }

    fn walk_dict(
        &mut self,
        dict: &Dict,
        name: &mut String,
        depth: usize,
        skip: Option<&[&str]>,
    ) -> Result<()> {
        for (k, v) in &dict.entries {
            if !can_hold_tensors(v) {
                continue;
            }
            let key: Cow<str> = match k {
                Value::Str(s) => Cow::Borrowed(s.as_ref()),
                Value::Int(i) => Cow::Owned(i.to_string()),
                Value::Bool(b) => Cow::Borrowed(if *b { "True" } else { "False" }),
                _ => continue,
            };
            if skip.is_some_and(|skip| skip.contains(&key.as_ref())) {
                continue;
            }
            self.child(&key, v, name, depth)?;
        }
        Ok(())
    }

    fn child(&mut self, key: &str, v: &Value, name: &mut String, depth: usize) -> Result<()> {
        let len = name.len();
        if len + 1 + key.len() > MAX_NAME_LEN {
            return Err(Self::error(
                name,
                format!("a name longer than {MAX_NAME_LEN} bytes"),
            ));
        }
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(key);
        let result = self.walk(v, name, depth + 1);
        name.truncate(len);
        result
    }
}

fn can_hold_tensors(v: &Value) -> bool {
    matches!(v, Value::Tensor(_) | Value::Tuple(_) | Value::Ref(_))
}

// ---------------------------------------------------------------------------------------------
// Decoding tensors
// ---------------------------------------------------------------------------------------------

fn decode_tensor(
    name: &str,
    spec: &TensorSpec,
    storage_bytes: &[u8],
    big_endian: bool,
    budget: &mut usize,
) -> Result<RawTensor> {
    let sref = &spec.storage;
    let key = sref.key.as_ref();
    let bad_storage = |reason: String| PickleError::BadStorage {
        key: key.to_string(),
        reason,
    };
    let bad_tensor = |reason: String| PickleError::BadTensor {
        name: name.to_string(),
        reason,
    };

    // The bytes the storage declares, checked against the bytes present.
    let storage_elem = sref.dtype.size().unwrap_or(1);
    let declared = sref.numel.checked_mul(storage_elem).ok_or_else(|| {
        bad_storage(format!(
            "declares {} elements, an impossible size",
            sref.numel
        ))
    })?;
    if storage_bytes.len() < declared {
        return Err(bad_storage(format!(
            "holds {} bytes, but declares {} elements of {storage_elem} bytes ({declared} bytes) for tensor `{name}`",
            storage_bytes.len(),
            sref.numel
        )));
    }
    let mut region = storage_bytes.get(..declared).unwrap_or_default();
    if let Some((off, n)) = sref.view {
        region = off
            .checked_mul(storage_elem)
            .and_then(|start| Some(start..start.checked_add(n.checked_mul(storage_elem)?)?))
            .and_then(|range| region.get(range))
            .ok_or_else(|| {
                bad_storage(format!(
                    "view of {n} elements at {off} lies outside the storage"
                ))
            })?;
    }

    let elem = spec
        .dtype
        .size()
        .ok_or_else(|| bad_tensor("unknown element type".to_string()))?;
    let available = region.len() / elem;
    let numel = spec
        .size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad_tensor(format!("size {:?} overflows", spec.size)))?;
    if numel == 0 {
        return Ok(RawTensor::new(spec.size.clone(), Vec::new()));
    }
    // The last element the view reaches must lie inside the storage.
    let last = spec
        .size
        .iter()
        .zip(&spec.stride)
        .try_fold(spec.offset, |acc, (&d, &s)| {
            acc.checked_add((d - 1).checked_mul(s)?)
        });
    match last {
        Some(last) if last < available => {}
        _ => {
            return Err(bad_tensor(format!(
                "size {:?} with stride {:?} at storage offset {} reaches past the end of storage `{key}`, \
                 which holds {available} elements",
                spec.size, spec.stride, spec.offset
            )))
        }
    }
    if numel > *budget {
        return Err(bad_tensor(format!(
            "{numel} elements, but only {} more are allowed for a checkpoint of this size \
             (stride-0 views of a tampered file?)",
            *budget
        )));
    }
    *budget -= numel;

    let mut data = Vec::with_capacity(numel);
    if is_contiguous(&spec.size, &spec.stride) {
        let bytes = spec
            .offset
            .checked_mul(elem)
            .and_then(|start| region.get(start..start.checked_add(numel.checked_mul(elem)?)?))
            .ok_or_else(|| bad_tensor("contiguous data outside the storage".to_string()))?;
        convert_into(spec.dtype, bytes, big_endian, &mut data);
    } else {
        gather_strided(spec, region, elem, big_endian, &mut data)
            .ok_or_else(|| bad_tensor("strided element outside the storage".to_string()))?;
    }
    if data.len() != numel {
        return Err(bad_tensor(format!(
            "decoded {} elements instead of {numel}",
            data.len()
        )));
    }
    Ok(RawTensor::new(spec.size.clone(), data))
}

fn is_contiguous(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(d);
    }
    true
}

/// Copies a non-contiguous view element by element (bounds already checked; `None` if not).
fn gather_strided(
    spec: &TensorSpec,
    region: &[u8],
    elem: usize,
    be: bool,
    out: &mut Vec<f32>,
) -> Option<()> {
    let dims = spec.size.len();
    let mut index = vec![0usize; dims];
    let mut pos = spec.offset;
    let numel: usize = spec.size.iter().product();
    for _ in 0..numel {
        let start = pos.checked_mul(elem)?;
        let bytes = region.get(start..start.checked_add(elem)?)?;
        out.push(convert_one(spec.dtype, bytes, be));
        // Advance the odometer from the last dimension.
        for d in (0..dims).rev() {
            let (size, stride) = (*spec.size.get(d)?, *spec.stride.get(d)?);
            let i = index.get_mut(d)?;
            *i += 1;
            if *i < size {
                pos = pos.checked_add(stride)?;
                break;
            }
            *i = 0;
            pos = pos.checked_sub((size - 1).checked_mul(stride)?)?;
        }
    }
    Some(())
}

fn convert_into(dtype: DType, bytes: &[u8], be: bool, out: &mut Vec<f32>) {
    match dtype {
        DType::F32 => out.extend(bytes.chunks_exact(4).map(|c| read_f32(c, be))),
        DType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| f16::from_bits(read_u16(c, be)).to_f32()),
        ),
        DType::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| bf16::from_bits(read_u16(c, be)).to_f32()),
        ),
        DType::F64 => out.extend(bytes.chunks_exact(8).map(|c| read_f64(c, be) as f32)),
        DType::Other(_) => {}
    }
}

fn convert_one(dtype: DType, bytes: &[u8], be: bool) -> f32 {
    match dtype {
        DType::F32 => read_f32(bytes, be),
        DType::F16 => f16::from_bits(read_u16(bytes, be)).to_f32(),
        DType::BF16 => bf16::from_bits(read_u16(bytes, be)).to_f32(),
        DType::F64 => read_f64(bytes, be) as f32,
        DType::Other(_) => 0.0,
    }
}

fn read_u16(c: &[u8], be: bool) -> u16 {
    let b: [u8; 2] = c.try_into().unwrap_or_default();
    if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

fn read_f32(c: &[u8], be: bool) -> f32 {
    let b: [u8; 4] = c.try_into().unwrap_or_default();
    if be {
        f32::from_be_bytes(b)
    } else {
        f32::from_le_bytes(b)
    }
}

fn read_f64(c: &[u8], be: bool) -> f64 {
    let b: [u8; 8] = c.try_into().unwrap_or_default();
    if be {
        f64::from_be_bytes(b)
    } else {
        f64::from_le_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Runs a hand-made pickle and flattens its result.
    fn run(pickle: &[u8]) -> Result<Vec<String>> {
        let mut heap = Heap::default();
        let (root, _) = Vm::new("test", pickle, 0, &mut heap).run()?;
        Ok(flatten(&heap, &root)?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    fn short_str(out: &mut Vec<u8>, s: &str) {
        out.push(0x8c);
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }

    fn global(out: &mut Vec<u8>, module: &str, name: &str) {
        out.push(b'c');
        out.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    }

    /// `{name: _rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())}`
    fn tensor_dict(
        name: &str,
        storage: &str,
        numel: u8,
        offset: u8,
        size: &[u8],
        stride: &[u8],
    ) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}'];
        short_str(&mut p, name);
        global(&mut p, "torch._utils", "_rebuild_tensor_v2");
        p.extend_from_slice(b"((");
        short_str(&mut p, "storage");
        global(&mut p, "torch", storage);
        short_str(&mut p, "0");
        short_str(&mut p, "cpu");
        p.extend_from_slice(&[b'K', numel, b't', b'Q', b'K', offset]);
        for dims in [size, stride] {
            p.push(b'(');
            for &d in dims {
                p.extend_from_slice(&[b'K', d]);
            }
            p.push(b't');
        }
        p.push(0x89);
        global(&mut p, "collections", "OrderedDict");
        p.extend_from_slice(b")Rt");
        p.extend_from_slice(b"Rs.");
        p
    }

    fn zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for &(name, data, deflate) in entries {
            let method = if deflate {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            };
            let options = zip::write::SimpleFileOptions::default().compression_method(method);
            w.start_file(name, options).expect("start_file");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn reads_deflated_big_endian_archive() {
        let pickle = tensor_dict("w", "FloatStorage", 3, 1, &[2], &[1]);
        let data: Vec<u8> = [1.5f32, -2.0, 4.25]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let bytes = zip(&[
            ("any_name/data.pkl", &pickle, true),
            ("any_name/byteorder", b"big", false),
            ("any_name/data/0", &data, true),
        ]);
        let tensors = read_torch_checkpoint(&bytes).expect("archive");
        assert_eq!(
            tensors,
            vec![("w".to_string(), RawTensor::new(vec![2], vec![-2.0, 4.25]))]
        );
    }

    #[test]
    fn reads_root_level_data_pkl_and_half_strides() {
        let pickle = tensor_dict("h", "HalfStorage", 6, 0, &[2, 2], &[1, 3]);
        let data: Vec<u8> = (0..6)
            .flat_map(|i| f16::from_f32(i as f32).to_le_bytes())
            .collect();
        let bytes = zip(&[("data.pkl", &pickle, false), ("data/0", &data, false)]);
        let tensors = read_torch_checkpoint(&bytes).expect("archive");
        assert_eq!(
            tensors[0].1,
            RawTensor::new(vec![2, 2], vec![0.0, 3.0, 1.0, 4.0])
        );
    }

    #[test]
    fn missing_pieces_are_named() {
        let pickle = tensor_dict("w", "FloatStorage", 1, 0, &[1], &[1]);
        let err =
            read_torch_checkpoint(&zip(&[("a/data.pkl", &pickle, false)])).expect_err("no storage");
        assert!(err.to_string().contains("a/data/0"), "{err}");
        let err = read_torch_checkpoint(&zip(&[("a/other.pkl", &pickle, false)]))
            .expect_err("no data.pkl");
        assert!(matches!(err, PickleError::MissingDataPkl { .. }), "{err}");
        let err = read_torch_checkpoint(&zip(&[
            ("a/data.pkl", &pickle, false),
            ("a/byteorder", b"middle", false),
        ]))
        .expect_err("byte order");
        assert!(err.to_string().contains("byte order"), "{err}");
    }

    #[test]
    fn stride_zero_expansion_is_bounded() {
        // One stored float viewed as a 250 x 250 x 250 x 250 tensor: valid bounds, absurd size.
        let pickle = tensor_dict(
            "x",
            "FloatStorage",
            1,
            0,
            &[250, 250, 250, 250],
            &[0, 0, 0, 0],
        );
        let bytes = zip(&[
            ("a/data.pkl", &pickle, false),
            ("a/data/0", &1f32.to_le_bytes(), false),
        ]);
        let err = read_torch_checkpoint(&bytes).expect_err("budget");
        assert!(
            matches!(err, PickleError::BadTensor { ref name, .. } if name == "x"),
            "{err}"
        );
        // A small expansion is fine.
        let pickle = tensor_dict("x", "FloatStorage", 1, 0, &[2, 3], &[0, 0]);
        let bytes = zip(&[
            ("a/data.pkl", &pickle, false),
            ("a/data/0", &1f32.to_le_bytes(), false),
        ]);
        assert_eq!(
            read_torch_checkpoint(&bytes).expect("expand")[0].1.data,
            vec![1.0; 6]
        );
    }

    #[test]
    fn non_float_and_unknown_storages_are_skipped() {
        for storage in ["LongStorage", "BoolStorage", "SomeFutureStorage"] {
            let pickle = tensor_dict("i", storage, 1, 0, &[1], &[1]);
            let bytes = zip(&[("a/data.pkl", &pickle, false)]);
            assert!(read_torch_checkpoint(&bytes).expect(storage).is_empty());
        }
    }

    #[test]
    fn self_referencing_dict_is_an_error() {
        // d = {}; d["a"] = d
        let err = run(b"\x80\x02}q\x00\x8c\x01ah\x00s.").expect_err("cycle");
        assert!(matches!(err, PickleError::BadStructure { .. }), "{err}");
    }

    #[test]
    fn exponential_sharing_is_bounded() {
        // l0 = []; l(k+1) = [lk, lk] forty times: 2^40 paths.
        let mut p = vec![0x80, 2, b']', b'q', 0];
        for k in 0..40u8 {
            p.extend_from_slice(&[b']', b'(', b'h', k, b'h', k, b'e', b'q', k + 1]);
        }
        p.push(b'.');
        let err = run(&p).expect_err("blow-up");
        assert!(err.to_string().contains("values to visit"), "{err}");
    }

    #[test]
    fn malformed_pickles_are_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "truncated"),
            (b"\x80\x02N", "truncated"),
            (b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff", "truncated"),
            (b"\x80\x02X\xff\xff\xff\xffabc", "truncated"),
            (b"\x80\x02j\xff\xff\xff\xff.", "never stored"),
            (b"\x80\x02R.", "underflow"),
            (b"\x80\x02N(\x86.", "underflow"),
            (b"\x80\x02t.", "MARK"),
            (b"\x80\x02\x82\x01.", "opcode 0x82"),
            (b"\x80\x09N.", "protocol 9"),
            (b"\x80\x02NNa.", "APPEND on None"),
            (b"\x80\x02(N\x8c\x07storageNNNt\x85Q.", "persistent id"),
        ];
        for (pickle, what) in cases {
            let err = run(pickle).expect_err("malformed");
            assert!(
                err.to_string().contains(what),
                "{pickle:?}: {err} should mention {what}"
            );
        }
        let marks = vec![b'('; MAX_MARKS + 1];
        assert!(matches!(
            run(&marks),
            Err(PickleError::LimitExceeded { .. })
        ));
        let mut tuples = vec![0x80, 2, b'N'];
        tuples.extend(std::iter::repeat_n(0x85, 1000));
        assert!(matches!(
            run(&tuples),
            Err(PickleError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn tensor_arguments_are_checked() {
        let mut heap = Heap::default();
        // Size and stride of different lengths.
        let p = tensor_dict("w", "FloatStorage", 4, 0, &[2, 2], &[1]);
        let err = Vm::new("t", &p, 0, &mut heap).run().expect_err("dims");
        assert!(err.to_string().contains("stride"), "{err}");
        // Size overflow is caught before anything is allocated.
        let spec = TensorSpec {
            storage: Rc::new(StorageRef {
                key: Rc::from("0"),
                dtype: DType::F32,
                numel: 1,
                view: None,
            }),
            dtype: DType::F32,
            offset: 0,
            size: vec![usize::MAX, 2],
            stride: vec![1, 1],
        };
        let err = decode_tensor("big", &spec, &[0; 4], false, &mut usize::MAX.clone())
            .expect_err("overflow");
        assert!(err.to_string().contains("overflows"), "{err}");
    }

    #[test]
    fn long_values() {
        assert!(matches!(long_value(&[]), Value::Int(0)));
        assert!(matches!(long_value(&[0xff]), Value::Int(-1)));
        assert!(matches!(long_value(&[0x00, 0x80]), Value::Int(-32768)));
        assert!(matches!(long_value(&[0xff, 0x00]), Value::Int(255)));
        assert!(matches!(long_value(&[1; 9]), Value::BigInt(_)));
    }
}
