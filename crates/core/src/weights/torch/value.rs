//! What the pickle VM builds: values, objects, tensor specs and the heap that owns them.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum Value {
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
pub(super) struct Tuple {
    pub(super) items: Vec<Value>,
    /// Nesting of tuples inside this one (bounded so dropping and walking cannot overflow).
    pub(super) depth: u32,
}

#[derive(Debug)]
pub(super) struct Global {
    pub(super) module: Rc<str>,
    pub(super) name: Rc<str>,
}

impl Value {
    pub(super) fn describe(&self) -> String {
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

    pub(super) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    pub(super) fn tuple_depth(&self) -> u32 {
        match self {
            Value::Tuple(t) => t.depth,
            _ => 0,
        }
    }
}

pub(super) fn truncate_for_message(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let cut: String = s.chars().take(60).collect();
        format!("{cut}...")
    }
}

/// Element types of storages and tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum DType {
    F32,
    F16,
    BF16,
    F64,
    /// Not a float type we convert; the element size when known.
    Other(Option<usize>),
}

impl DType {
    pub(super) fn size(self) -> Option<usize> {
        match self {
            DType::F32 => Some(4),
            DType::F16 | DType::BF16 => Some(2),
            DType::F64 => Some(8),
            DType::Other(size) => size,
        }
    }

    pub(super) fn is_float(self) -> bool {
        !matches!(self, DType::Other(_))
    }

    /// From a storage class name (`torch.FloatStorage`, ...).
    pub(super) fn from_storage_name(name: &str) -> DType {
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
    pub(super) fn from_dtype_name(name: &str) -> DType {
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
pub(super) struct StorageRef {
    pub(super) key: Rc<str>,
    pub(super) dtype: DType,
    /// Elements the storage declares (bytes for `UntypedStorage`).
    pub(super) numel: usize,
    /// Legacy storage views: (offset, elements) inside the root storage.
    pub(super) view: Option<(usize, usize)>,
}

/// A tensor as `_rebuild_tensor_v2` describes it; decoded only once its name is known.
#[derive(Debug)]
pub(super) struct TensorSpec {
    pub(super) storage: Rc<StorageRef>,
    pub(super) dtype: DType,
    pub(super) offset: usize,
    pub(super) size: Vec<usize>,
    pub(super) stride: Vec<usize>,
}

#[derive(Debug)]
pub(super) enum Obj {
    List(Vec<Value>),
    Dict(Dict),
    Set(Vec<Value>),
    Instance(Instance),
}

#[derive(Debug)]
pub(super) struct Instance {
    #[allow(dead_code)] // kept for debugging output
    pub(super) class: Option<Rc<Global>>,
    /// What BUILD set (usually a dict of attributes).
    pub(super) state: Option<Value>,
    /// Items set on a dict-like instance (e.g. `collections.defaultdict`).
    pub(super) items: Dict,
    /// Items appended to a list-like instance.
    pub(super) list: Vec<Value>,
}

impl Instance {
    pub(super) fn new(class: Option<Rc<Global>>) -> Self {
        Instance {
            class,
            state: None,
            items: Dict::default(),
            list: Vec::new(),
        }
    }
}

#[derive(Debug, Hash, PartialEq, Eq)]
pub(super) enum KeyRepr {
    Str(Rc<str>),
    Int(i64),
}

/// An insertion-ordered dict; str/int keys are de-duplicated like Python's.
#[derive(Debug, Default)]
pub(super) struct Dict {
    pub(super) entries: Vec<(Value, Value)>,
    pub(super) index: HashMap<KeyRepr, usize>,
}

impl Dict {
    pub(super) fn set(&mut self, key: Value, value: Value) {
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

    pub(super) fn get_str(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s.as_ref() == key))
            .map(|(_, v)| v)
    }
}

/// The mutable objects of a checkpoint and the storages it refers to.
#[derive(Debug, Default)]
pub(super) struct Heap {
    pub(super) objects: Vec<Obj>,
    pub(super) storages: Vec<Rc<StorageRef>>,
}

impl Heap {
    pub(super) fn alloc(&mut self, obj: Obj) -> Option<Value> {
        if self.objects.len() >= MAX_OBJECTS {
            return None;
        }
        self.objects.push(obj);
        Some(Value::Ref(self.objects.len() - 1))
    }

    pub(super) fn get(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Ref(id) => self.objects.get(*id),
            _ => None,
        }
    }

    pub(super) fn dict_get(&self, v: &Value, key: &str) -> Option<Value> {
        match self.get(v)? {
            Obj::Dict(d) => d.get_str(key).cloned(),
            _ => None,
        }
    }

    /// Items of a list or tuple.
    pub(super) fn items<'v>(&'v self, v: &'v Value) -> Option<&'v [Value]> {
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
