//! The pickle virtual machine: runs the opcodes, never executes anything (globals are names).

use super::*;

pub(super) struct Vm<'a, 'h> {
    pub(super) entry: &'a str,
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    /// Where the current instruction starts (for error messages).
    pub(super) at: usize,
    pub(super) stack: Vec<Value>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: HashMap<u32, Value>,
    pub(super) heap: &'h mut Heap,
}

impl<'a, 'h> Vm<'a, 'h> {
    pub(super) fn new(entry: &'a str, data: &'a [u8], pos: usize, heap: &'h mut Heap) -> Self {
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

    pub(super) fn malformed(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            entry: self.entry.to_string(),
            at: self.at,
            reason: reason.into(),
        }
    }

    pub(super) fn truncated(&self) -> PickleError {
        PickleError::Truncated {
            entry: self.entry.to_string(),
            at: self.at,
        }
    }

    pub(super) fn limit(&self, what: &'static str, limit: usize) -> PickleError {
        PickleError::LimitExceeded {
            entry: self.entry.to_string(),
            at: self.at,
            what,
            limit,
        }
    }

    // --- reading the instruction stream -------------------------------------------------------

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let bytes = data.get(self.pos..end).ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(bytes)
    }

    pub(super) fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.truncated())
    }

    pub(super) fn u8(&mut self) -> Result<u8> {
        Ok(self.take_array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take_array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    /// A length read from the stream, checked against what is left before anything is allocated.
    pub(super) fn checked_len(&mut self, n: u64) -> Result<usize> {
        let left = self.data.len().saturating_sub(self.pos);
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => Err(self.truncated()),
        }
    }

    /// A text line (protocol 0 arguments), without its newline.
    pub(super) fn line(&mut self) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let rest = data.get(self.pos..).ok_or_else(|| self.truncated())?;
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.truncated())?;
        self.pos += n + 1;
        Ok(rest.get(..n).unwrap_or_default())
    }

    pub(super) fn line_str(&mut self) -> Result<Rc<str>> {
        let line = self.line()?;
        Ok(Rc::from(String::from_utf8_lossy(line).as_ref()))
    }

    pub(super) fn line_int(&mut self) -> Result<i64> {
        let line = self.line()?;
        let text = std::str::from_utf8(line).map_err(|_| self.malformed("non-ASCII integer"))?;
        let text = text.trim().trim_end_matches('L');
        text.parse::<i64>()
            .map_err(|_| self.malformed(format!("bad integer {:?}", truncate_for_message(text))))
    }

    // --- the stack ----------------------------------------------------------------------------

    pub(super) fn base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    pub(super) fn push(&mut self, v: Value) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.limit("pickle stack size", MAX_STACK));
        }
        self.stack.push(v);
        Ok(())
    }

    pub(super) fn pop(&mut self) -> Result<Value> {
        if self.stack.len() <= self.base() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    pub(super) fn top(&self) -> Result<&Value> {
        if self.stack.len() <= self.base() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .last()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    pub(super) fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    pub(super) fn alloc(&mut self, obj: Obj) -> Result<Value> {
        match self.heap.alloc(obj) {
            Some(v) => Ok(v),
            None => Err(self.limit("number of objects", MAX_OBJECTS)),
        }
    }

    pub(super) fn tuple(&self, items: Vec<Value>) -> Result<Value> {
        let depth = items.iter().map(Value::tuple_depth).max().unwrap_or(0) + 1;
        if depth > MAX_TUPLE_DEPTH {
            return Err(self.limit("tuple nesting", MAX_TUPLE_DEPTH as usize));
        }
        Ok(Value::Tuple(Rc::new(Tuple { items, depth })))
    }

    pub(super) fn memo_put(&mut self, key: u32) -> Result<()> {
        let v = self.top()?.clone();
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&key) {
            return Err(self.limit("memo size", MAX_MEMO));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    pub(super) fn memo_get(&mut self, key: u64) -> Result<()> {
        let v = u32::try_from(key)
            .ok()
            .and_then(|k| self.memo.get(&k))
            .cloned()
            .ok_or_else(|| self.malformed(format!("memo entry {key} was never stored")))?;
        self.push(v)
    }

    /// The mutable object on top of the stack (the target of APPEND, SETITEM, ...).
    pub(super) fn target(&mut self, op: &str) -> Result<&mut Obj> {
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

    pub(super) fn append(&mut self, items: Vec<Value>) -> Result<()> {
        match self.target("APPEND")? {
            Obj::List(list) => list.extend(items),
            Obj::Instance(inst) => inst.list.extend(items),
            Obj::Set(_) | Obj::Dict(_) => return Err(self.malformed("APPEND to a dict or set")),
        }
        Ok(())
    }

    pub(super) fn set_items(&mut self, items: Vec<Value>) -> Result<()> {
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
    pub(super) fn run(mut self) -> Result<(Value, usize)> {
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
    pub(super) fn new_object(&mut self, cls: &Value) -> Result<Value> {
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
    pub(super) fn call(&mut self, callable: &Value, args: &Value, depth: u32) -> Result<Value> {
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
    pub(super) fn rebuild_tensor(&mut self, args: &[Value], dtype: Option<DType>) -> Result<Value> {
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

    pub(super) fn dims(&self, v: Option<&Value>, what: &str) -> Result<Vec<usize>> {
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
    pub(super) fn persistent_load(&mut self, pid: &Value) -> Result<Value> {
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
pub(super) fn module_name(module: &str) -> &str {
    match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        other => other,
    }
}

/// LONG1/LONG4 payload: little-endian two's complement.
pub(super) fn long_value(bytes: &[u8]) -> Value {
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
