//! Flattening the object tree the pickle built into state-dict names and tensor specs.

use super::*;

pub(super) fn flatten(heap: &Heap, root: &Value) -> Result<Vec<(String, Rc<TensorSpec>)>> {
    let mut walker = Walker {
        heap,
        visits: 0,
        out: Vec::new(),
    };
    let mut name = String::new();
    walker.walk(root, &mut name, 0)?;
    Ok(walker.out)
}

pub(super) struct Walker<'h> {
    pub(super) heap: &'h Heap,
    pub(super) visits: usize,
    pub(super) out: Vec<(String, Rc<TensorSpec>)>,
}

impl Walker<'_> {
    pub(super) fn error(name: &str, reason: impl Into<String>) -> PickleError {
        PickleError::BadStructure {
            name: if name.is_empty() {
                "<root>".to_string()
            } else {
                name.to_string()
            },
            reason: reason.into(),
        }
    }

    pub(super) fn walk(&mut self, v: &Value, name: &mut String, depth: usize) -> Result<()> {
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
    pub(super) fn walk_state(
        &mut self,
        state: &Value,
        name: &mut String,
        depth: usize,
    ) -> Result<()> {
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

    pub(super) fn walk_seq(
        &mut self,
        items: &[Value],
        name: &mut String,
        depth: usize,
    ) -> Result<()> {
        for (i, item) in items.iter().enumerate() {
            if can_hold_tensors(item) {
                self.child(&i.to_string(), item, name, depth)?;
            }
        }
        Ok(())
    }

    pub(super) fn walk_dict(
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

    pub(super) fn child(
        &mut self,
        key: &str,
        v: &Value,
        name: &mut String,
        depth: usize,
    ) -> Result<()> {
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

pub(super) fn can_hold_tensors(v: &Value) -> bool {
    matches!(v, Value::Tensor(_) | Value::Tuple(_) | Value::Ref(_))
}
