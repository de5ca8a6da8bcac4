//! The OpenAI CLIP byte-level BPE tokenizer (`simple_tokenizer.py` of OpenAI
//! CLIP, copied by open_clip as `SimpleTokenizer`), which ACD-CLIP uses for its
//! text prompts.
//!
//! The pipeline is the reference one:
//!
//! 1. `ftfy.fix_text` (see below for what is reproduced),
//! 2. `html.unescape` twice,
//! 3. whitespace collapsed to single spaces and stripped, then lowercased,
//! 4. split with the pattern
//!    `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//!    (case-insensitive; see `TOKEN_PATTERN` for how that is reproduced),
//! 5. each piece's UTF-8 bytes mapped to printable characters
//!    (`bytes_to_unicode`), `</w>` appended to the last one, and the BPE
//!    merges of `bpe_simple_vocab_16e6.txt.gz` applied in rank order,
//! 6. `tokenize` wraps the ids in the start (49406) and end (49407) tokens and
//!    zero-pads them to the context length (77 for every CLIP model).
//!
//! # ftfy
//!
//! `ftfy.fix_text` is not ported in full. Reproduced are its simple, local
//! fixes, applied per line and repeated until nothing changes, as ftfy does:
//! HTML entity unescaping (only while no line so far contains `<`, as ftfy's
//! `unescape_html="auto"`; the entities `&amp; &lt; &gt; &quot; &apos; &nbsp;`,
//! their upper-case forms, the other HTML5 entities that begin with those names,
//! and numeric `&#NNN; &#xHH;` references), C1 control characters read as
//! Windows-1252, Latin ligatures (`ﬁ` → `fi`), full- and half-width forms
//! (`ＡＢＣ` → `ABC`), curly quotes (`’` → `'`), line breaks, terminal escape
//! sequences, unwanted control characters, and NFC normalisation.
//!
//! **Not reproduced** is ftfy's mojibake repair (`fix_encoding`: re-decoding
//! text such as `sÃ³` as `só`, `restore_byte_a0`, `replace_lossy_sequences`,
//! `decode_inconsistent_utf8`). Such text is tokenized as it stands, so its
//! ids differ from the Python reference. Other named HTML entities (for
//! example `&eacute;`) are left as they are, where Python decodes them; a Rust
//! `&str` cannot hold the lone surrogates that ftfy's `fix_surrogates` repairs.
//! Real prompts (plain class names and sentences) are unaffected by any of this.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};

use flate2::read::GzDecoder;
use regex::{Captures, Regex};
use unicode_normalization::UnicodeNormalization;

/// Id of `<|startoftext|>`.
pub const SOT_TOKEN: u32 = 49406;
/// Id of `<|endoftext|>`.
pub const EOT_TOKEN: u32 = 49407;
/// Context length of every CLIP text encoder.
pub const CONTEXT_LENGTH: usize = 77;

/// The vocabulary shipped with OpenAI CLIP and open_clip: a version line, then
/// one BPE merge (`left right`) per line, in rank order. Built in only with the `tokenizer`
/// feature (1.3 MB that the browser module leaves out: a bundle with a text tower carries it).
#[cfg(feature = "tokenizer")]
pub const VOCAB_GZ: &[u8] = include_bytes!("bpe_simple_vocab_16e6.txt.gz");
/// The largest decompressed vocabulary text read (CLIP's first 48,895 lines are 0.5 MB): a
/// vocabulary from a bundle is input, and a gzip stream can expand without bound.
const MAX_VOCAB_TEXT_BYTES: u64 = 16 << 20;
/// Merges used by CLIP: `merges[1:49152-256-2+1]` in the reference.
const NUM_MERGES: usize = 49152 - 256 - 2;
/// 256 byte symbols, 256 end-of-word byte symbols, the merges, 2 special tokens.
pub const VOCAB_SIZE: usize = 512 + NUM_MERGES + 2;
const SOT_TEXT: &str = "<|startoftext|>";
const EOT_TEXT: &str = "<|endoftext|>";
const END_OF_WORD: &str = "</w>";

/// The reference pattern is compiled with IGNORECASE by Python's `regex`
/// module. The text is lowercased by then, so the flag changes only two
/// things, both reproduced here without `(?i)` (checked against `regex` for
/// every code point): `s` also matches `ſ` (U+017F, whose case folding is
/// `s`), and U+0345 COMBINING GREEK YPOGEGRAMMENI (which folds to `ι`) matches
/// no alternative, so it is dropped like whitespace. Rust's `(?i)` would
/// instead count U+0345 as a letter.
const TOKEN_PATTERN: &str = r"<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}\x{345}]+";
/// ftfy's `HTML_ENTITY_RE`.
const FTFY_ENTITY_PATTERN: &str = r"&#?[0-9A-Za-z]{1,24};";
/// Python's `html._charref`.
const HTML_CHARREF_PATTERN: &str = r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)";
/// ftfy's `ANSI_RE` (Python's `\d` is Unicode `Nd`, as is Rust's).
const ANSI_PATTERN: &str = r"\x1b\[(?:\d|;)*[a-zA-Z]";

/// Why vocabulary bytes (a bundle's `clip-vocab.bin`) are not CLIP's BPE vocabulary.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("the CLIP vocabulary is not valid: {0}")]
pub struct VocabError(String);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenizeError {
    #[error("prompt {text:?} needs {tokens} tokens but the text encoder holds {context_length} (start and end tokens included)")]
    TooLong {
        text: String,
        tokens: usize,
        context_length: usize,
    },
}

/// CLIP's BPE tokenizer. Immutable after construction, so it is `Send + Sync`
/// and can be shared between threads.
pub struct ClipTokenizer {
    /// `(left id, right id)` → `(rank, id of the merged symbol)`.
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    /// Id of each byte's symbol inside a word.
    byte_ids: [u32; 256],
    /// Id of each byte's symbol at the end of a word (`…</w>`).
    byte_end_ids: [u32; 256],
    pattern: Regex,
    ftfy_entity: Regex,
    html_charref: Regex,
    ansi_escape: Regex,
}

#[cfg(feature = "tokenizer")]
impl Default for ClipTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClipTokenizer {
    /// Builds the tokenizer from the built-in vocabulary (about 20-50 ms in a release build;
    /// build once and reuse).
    #[cfg(feature = "tokenizer")]
    pub fn new() -> Self {
        Self::from_vocab_gz(VOCAB_GZ).expect("the built-in CLIP vocabulary is valid")
    }

    /// Builds the tokenizer from a gzipped vocabulary in CLIP's format (`bpe_simple_vocab_16e6.txt.gz`).
    pub fn from_vocab_gz(vocab_gz: &[u8]) -> Result<Self, VocabError> {
        let bad = |why: String| VocabError(why);
        // Only the first NUM_MERGES + 1 lines are used: stop decompressing there.
        let mut reader = BufReader::new(GzDecoder::new(vocab_gz).take(MAX_VOCAB_TEXT_BYTES));
        let mut text = String::new();
        for line in 0..=NUM_MERGES {
            let read = reader
                .read_line(&mut text)
                .map_err(|e| bad(format!("line {}: {e} (not gzipped UTF-8?)", line + 1)))?;
            if read == 0 {
                return Err(bad(format!(
                    "it ends after {line} lines; CLIP's has {} and more",
                    NUM_MERGES + 1
                )));
            }
        }
        let merges: Vec<(&str, &str)> = text
            .split('\n')
            .skip(1)
            .take(NUM_MERGES)
            .enumerate()
            .map(|(i, line)| {
                let mut parts = line.split_whitespace();
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(left), Some(right), None) => Ok((left, right)),
                    _ => Err(bad(format!(
                        "line {} is not a merge `left right`: {line:?}",
                        i + 2
                    ))),
                }
            })
            .collect::<Result<_, _>>()?;

        // The vocabulary in id order, as the reference builds it.
        let byte_order = bytes_to_unicode();
        let mut vocab: Vec<String> = Vec::with_capacity(VOCAB_SIZE);
        vocab.extend(byte_order.iter().map(|&(_, c)| c.to_string()));
        vocab.extend(byte_order.iter().map(|&(_, c)| format!("{c}{END_OF_WORD}")));
        vocab.extend(merges.iter().map(|&(left, right)| [left, right].concat()));
        vocab.push(SOT_TEXT.to_string());
        vocab.push(EOT_TEXT.to_string());
        // A later duplicate would win, as in the reference's Python dict (there are none).
        let mut encoder: FxHashMap<&str, u32> = FxHashMap::default();
        encoder.reserve(VOCAB_SIZE);
        for (id, symbol) in vocab.iter().enumerate() {
            encoder.insert(symbol.as_str(), id as u32);
        }
        if encoder.len() != VOCAB_SIZE
            || encoder.get(SOT_TEXT) != Some(&SOT_TOKEN)
            || encoder.get(EOT_TEXT) != Some(&EOT_TOKEN)
        {
            return Err(bad(format!(
                "its merges repeat symbols ({} distinct of {VOCAB_SIZE})",
                encoder.len()
            )));
        }

        let mut byte_ids = [0u32; 256];
        let mut byte_end_ids = [0u32; 256];
        for (i, &(b, _)) in byte_order.iter().enumerate() {
            byte_ids[b as usize] = encoder[vocab[i].as_str()];
            byte_end_ids[b as usize] = encoder[vocab[256 + i].as_str()];
        }

        // Symbols are vocabulary entries, so a merge can be keyed by ids. A
        // merge whose halves are not in the vocabulary could never apply.
        let mut merge_map: FxHashMap<(u32, u32), (u32, u32)> = FxHashMap::default();
        merge_map.reserve(NUM_MERGES);
        for (rank, &(left, right)) in merges.iter().enumerate() {
            let joined = vocab[512 + rank].as_str();
            if let (Some(&l), Some(&r), Some(&m)) =
                (encoder.get(left), encoder.get(right), encoder.get(joined))
            {
                merge_map.insert((l, r), (rank as u32, m));
            }
        }

        let regex =
            |pattern: &str| Regex::new(pattern).expect("the tokenizer's patterns are valid");
        Ok(Self {
            merges: merge_map,
            byte_ids,
            byte_end_ids,
            pattern: regex(TOKEN_PATTERN),
            ftfy_entity: regex(FTFY_ENTITY_PATTERN),
            html_charref: regex(HTML_CHARREF_PATTERN),
            ansi_escape: regex(ANSI_PATTERN),
        })
    }

    /// BPE ids of `text` without start/end tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = self.clean(text);
        let mut ids = Vec::new();
        for piece in self.pattern.find_iter(&cleaned) {
            match piece.as_str() {
                SOT_TEXT => ids.push(SOT_TOKEN),
                EOT_TEXT => ids.push(EOT_TOKEN),
                word => self.bpe(word.as_bytes(), &mut ids),
            }
        }
        ids
    }

    /// `[SOT] + encode(text) + [EOT]`, zero padded to `context_length`; error if longer (the official code raises, it does not truncate).
    pub fn tokenize(&self, text: &str, context_length: usize) -> Result<Vec<u32>, TokenizeError> {
        let mut ids = Vec::with_capacity(context_length.max(2));
        ids.push(SOT_TOKEN);
        ids.extend(self.encode(text));
        ids.push(EOT_TOKEN);
        if ids.len() > context_length {
            return Err(TokenizeError::TooLong {
                text: text.to_string(),
                tokens: ids.len(),
                context_length,
            });
        }
        ids.resize(context_length, 0);
        Ok(ids)
    }

    /// Applies the merges to one pre-tokenized piece and appends its ids.
    fn bpe(&self, bytes: &[u8], out: &mut Vec<u32>) {
        let Some((&last, init)) = bytes.split_last() else {
            return;
        };
        let mut word: Vec<u32> = init.iter().map(|&b| self.byte_ids[b as usize]).collect();
        word.push(self.byte_end_ids[last as usize]);

        let mut merged = Vec::with_capacity(word.len());
        while word.len() > 1 {
            // The lowest-ranked pair present; every occurrence of it is merged.
            let best = word
                .windows(2)
                .filter_map(|pair| {
                    self.merges
                        .get(&(pair[0], pair[1]))
                        .map(|&(rank, id)| (rank, pair[0], pair[1], id))
                })
                .min_by_key(|&(rank, ..)| rank);
            let Some((_, left, right, id)) = best else {
                break;
            };
            merged.clear();
            let mut i = 0;
            while i < word.len() {
                if word[i] == left && i + 1 < word.len() && word[i + 1] == right {
                    merged.push(id);
                    i += 2;
                } else {
                    merged.push(word[i]);
                    i += 1;
                }
            }
            std::mem::swap(&mut word, &mut merged);
        }
        out.extend_from_slice(&word);
    }

    /// The reference's `whitespace_clean(basic_clean(text)).lower()`.
    fn clean(&self, text: &str) -> String {
        let fixed = self.fix_text(text);
        let once = self.html_unescape(&fixed);
        let twice = self.html_unescape(&once);
        // Python's `" ".join(text.split())`: `str.isspace` is Unicode
        // White_Space plus the separators U+001C..U+001F.
        let mut collapsed = String::with_capacity(twice.len());
        for word in twice
            .split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
            .filter(|w| !w.is_empty())
        {
            if !collapsed.is_empty() {
                collapsed.push(' ');
            }
            collapsed.push_str(word);
        }
        collapsed.to_lowercase()
    }

    /// `ftfy.fix_text` with the default configuration, less the mojibake repair.
    fn fix_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        // ftfy works line by line; once a line holds '<' it stops unescaping
        // HTML for that line and every later one.
        let mut unescape = true;
        for segment in text.split_inclusive('\n') {
            if segment.contains('<') {
                unescape = false;
            }
            out.push_str(&self.fix_segment(segment, unescape));
        }
        out
    }

    /// ftfy's `fix_and_explain`: the fixes in ftfy's order until a fixed point.
    fn fix_segment(&self, segment: &str, unescape_html: bool) -> String {
        let mut text = segment.to_string();
        loop {
            let mut fixed = if unescape_html {
                self.ftfy_unescape_html(&text).into_owned()
            } else {
                text.clone()
            };
            // fix_encoding (mojibake repair) is not reproduced.
            fixed = fixed.chars().map(fix_c1_control).collect();
            fixed = fixed.chars().flat_map(fix_latin_ligature).collect();
            fixed = fixed.chars().flat_map(fix_character_width).collect();
            fixed = fixed.chars().map(uncurl_quote).collect();
            fixed = fix_line_breaks(&fixed);
            // fix_surrogates: a Rust string holds no surrogates.
            fixed = self.ansi_escape.replace_all(&fixed, "").into_owned();
            fixed.retain(|c| !is_unwanted_control(c));
            fixed = fixed.nfc().collect();
            if fixed == text {
                return fixed;
            }
            text = fixed;
        }
    }

    /// ftfy's `unescape_html`: entities ending in ';' only.
    fn ftfy_unescape_html<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.ftfy_entity.replace_all(text, |caps: &Captures| {
            let entity = &caps[0];
            let name = &entity[1..];
            if let Some(value) = html5_entity(name).or(match name {
                "APOS;" => Some("'"),
                "NBSP;" => Some("\u{a0}"),
                _ => None,
            }) {
                return value.to_string();
            }
            if entity.starts_with("&#") {
                let decoded = self.html_unescape(entity);
                // Only accept a reference that was decoded in full.
                if !decoded.contains(';') {
                    return decoded.into_owned();
                }
            }
            entity.to_string()
        })
    }

    /// Python's `html.unescape` (named entities: see `HTML5_ENTITIES`).
    fn html_unescape<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !text.contains('&') {
            return Cow::Borrowed(text);
        }
        self.html_charref
            .replace_all(text, |caps: &Captures| replace_charref(&caps[1]))
    }
}

/// Python's `html._replace_charref` for the text after '&'.
fn replace_charref(s: &str) -> String {
    if let Some(number) = s.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        let digits = digits.trim_end_matches(';');
        // Python's int() has no limit; anything past U+10FFFF gives U+FFFD.
        let num = u32::from_str_radix(digits, radix).unwrap_or(u32::MAX);
        return match num {
            0x00 => "\u{fffd}".to_string(),
            0x0d => "\r".to_string(),
            0x80..=0x9f => fix_c1_control(char::from_u32(num).unwrap_or('\u{fffd}')).to_string(),
            0xd800..=0xdfff | 0x11_0000.. => "\u{fffd}".to_string(),
            0x01..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0xfdd0..=0xfdef => String::new(),
            n if n & 0xfffe == 0xfffe => String::new(),
            n => char::from_u32(n)
                .map(String::from)
                .unwrap_or_else(|| "\u{fffd}".to_string()),
        };
    }
    if let Some(value) = html5_entity(s) {
        return value.to_string();
    }
    // The longest prefix (of at least two characters) that is an entity.
    let ends: Vec<usize> = s.char_indices().map(|(i, _)| i).skip(2).collect();
    for &end in ends.iter().rev() {
        if let Some(value) = html5_entity(&s[..end]) {
            return format!("{value}{}", &s[end..]);
        }
    }
    format!("&{s}")
}

/// The HTML5 named character references (Python's `html.entities.html5`)
/// for `&amp; &lt; &gt; &quot; &apos; &nbsp;` and every entity whose name
/// begins with one of those names, so that prefix matching ("&ampx" → "&x")
/// never picks a shorter entity than Python would.
const HTML5_ENTITIES: &[(&str, &str)] = &[
    ("AMP", "&"),
    ("AMP;", "&"),
    ("GT", ">"),
    ("GT;", ">"),
    ("Gt;", "\u{226b}"),
    ("LT", "<"),
    ("LT;", "<"),
    ("Lt;", "\u{226a}"),
    ("QUOT", "\""),
    ("QUOT;", "\""),
    ("amp", "&"),
    ("amp;", "&"),
    ("apos;", "'"),
    ("gt", ">"),
    ("gt;", ">"),
    ("gtcc;", "\u{2aa7}"),
    ("gtcir;", "\u{2a7a}"),
    ("gtdot;", "\u{22d7}"),
    ("gtlPar;", "\u{2995}"),
    ("gtquest;", "\u{2a7c}"),
    ("gtrapprox;", "\u{2a86}"),
    ("gtrarr;", "\u{2978}"),
    ("gtrdot;", "\u{22d7}"),
    ("gtreqless;", "\u{22db}"),
    ("gtreqqless;", "\u{2a8c}"),
    ("gtrless;", "\u{2277}"),
    ("gtrsim;", "\u{2273}"),
    ("lt", "<"),
    ("lt;", "<"),
    ("ltcc;", "\u{2aa6}"),
    ("ltcir;", "\u{2a79}"),
    ("ltdot;", "\u{22d6}"),
    ("lthree;", "\u{22cb}"),
    ("ltimes;", "\u{22c9}"),
    ("ltlarr;", "\u{2976}"),
    ("ltquest;", "\u{2a7b}"),
    ("ltrPar;", "\u{2996}"),
    ("ltri;", "\u{25c3}"),
    ("ltrie;", "\u{22b4}"),
    ("ltrif;", "\u{25c2}"),
    ("nbsp", "\u{a0}"),
    ("nbsp;", "\u{a0}"),
    ("quot", "\""),
    ("quot;", "\""),
];

fn html5_entity(name: &str) -> Option<&'static str> {
    HTML5_ENTITIES
        .iter()
        .find(|&&(n, _)| n == name)
        .map(|&(_, value)| value)
}

/// GPT-2's reversible byte → printable character map, as `(byte, char)` in
/// the reference's order (which is also the order of the first 256 ids).
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
    let mut map: Vec<(u8, char)> = (0..=255u8)
        .filter(|&b| printable(b))
        .map(|b| (b, char::from(b)))
        .collect();
    for (n, b) in (0..=255u8).filter(|&b| !printable(b)).enumerate() {
        map.push((
            b,
            char::from_u32(256 + n as u32).expect("U+0100..U+0143 are characters"),
        ));
    }
    map
}

/// The Fx hash (rustc's): much faster than SipHash for the small keys here.
/// The keys come from the fixed vocabulary, so hash flooding is no concern.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Windows-1252 for U+0080..U+009F, undefined bytes kept (ftfy's
/// "sloppy-windows-1252", and Python's `html._invalid_charrefs`).
const WINDOWS_1252_C1: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}', '\u{178}',
];

/// ftfy's `fix_c1_controls`.
fn fix_c1_control(c: char) -> char {
    match c {
        '\u{80}'..='\u{9f}' => WINDOWS_1252_C1[c as usize - 0x80],
        _ => c,
    }
}

/// ftfy's `fix_latin_ligatures`.
fn fix_latin_ligature(c: char) -> CharOrStr {
    let s = match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return CharOrStr::Char(Some(c)),
    };
    CharOrStr::Str(s.chars())
}

/// ftfy's `fix_character_width`: U+3000 → space, and U+FF01..U+FFEF to
/// their NFKC forms.
fn fix_character_width(c: char) -> CharOrStr {
    match c {
        '\u{3000}' => CharOrStr::Char(Some(' ')),
        '\u{ff01}'..='\u{ffef}' => {
            CharOrStr::Owned(c.to_string().nfkc().collect::<Vec<char>>().into_iter())
        }
        _ => CharOrStr::Char(Some(c)),
    }
}

/// One character's replacement: itself, a static string or computed characters.
enum CharOrStr {
    Char(Option<char>),
    Str(std::str::Chars<'static>),
    Owned(std::vec::IntoIter<char>),
}

impl Iterator for CharOrStr {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        match self {
            CharOrStr::Char(c) => c.take(),
            CharOrStr::Str(chars) => chars.next(),
            CharOrStr::Owned(chars) => chars.next(),
        }
    }
}

/// ftfy's `uncurl_quotes`.
fn uncurl_quote(c: char) -> char {
    match c {
        '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
        '\u{201c}'..='\u{201f}' => '"',
        _ => c,
    }
}

/// ftfy's `fix_line_breaks`.
fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n")
}

/// ftfy's `remove_control_chars`.
fn is_unwanted_control(c: char) -> bool {
    matches!(c,
        '\u{00}'..='\u{08}' | '\u{0b}' | '\u{0e}'..='\u{1f}' | '\u{7f}'
        | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
}

#[cfg(all(test, feature = "tokenizer"))]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn tokenizer() -> &'static ClipTokenizer {
        static TOKENIZER: OnceLock<ClipTokenizer> = OnceLock::new();
        TOKENIZER.get_or_init(ClipTokenizer::new)
    }

    /// Ids written by scripts/make_tokenizer_reference.py from open_clip's
    /// Python tokenizer.
    #[test]
    fn matches_python_reference() {
        let reference: serde_json::Value =
            serde_json::from_str(include_str!("tokenizer_reference.json")).expect("valid JSON");
        let entries = reference.as_array().expect("a list");
        assert!(entries.len() > 50);
        let tok = tokenizer();
        let mut failures = Vec::new();
        for entry in entries {
            let text = entry["text"].as_str().expect("text");
            let got = tok.tokenize(text, CONTEXT_LENGTH);
            if entry["too_long"].as_bool() == Some(true) {
                let tokens = entry["tokens"].as_u64().expect("tokens") as usize;
                let expected = Err(TokenizeError::TooLong {
                    text: text.to_string(),
                    tokens,
                    context_length: CONTEXT_LENGTH,
                });
                if got != expected {
                    failures.push(format!("{text:?}: {got:?}, expected {expected:?}"));
                }
            } else {
                let ids: Vec<u32> = entry["ids"]
                    .as_array()
                    .expect("ids")
                    .iter()
                    .map(|v| v.as_u64().expect("id") as u32)
                    .collect();
                assert_eq!(ids.len(), CONTEXT_LENGTH);
                if got.as_ref() != Ok(&ids) {
                    failures.push(format!("{text:?}: {got:?}, expected {ids:?}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} differ:\n{}",
            failures.len(),
            entries.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn empty_prompt() {
        let ids = tokenizer().tokenize("", CONTEXT_LENGTH).expect("fits");
        let mut expected = vec![0u32; CONTEXT_LENGTH];
        expected[0] = SOT_TOKEN;
        expected[1] = EOT_TOKEN;
        assert_eq!(ids, expected);
        assert!(tokenizer().encode(" \t\n").is_empty());
    }

    #[test]
    fn too_long_is_an_error() {
        let tok = tokenizer();
        let text = "a ".repeat(75);
        assert_eq!(
            tok.tokenize(&text, CONTEXT_LENGTH).map(|ids| ids.len()),
            Ok(CONTEXT_LENGTH)
        );
        let text = "a ".repeat(76);
        assert_eq!(
            tok.tokenize(&text, CONTEXT_LENGTH),
            Err(TokenizeError::TooLong {
                text: text.clone(),
                tokens: 78,
                context_length: 77
            })
        );
        assert!(tok.tokenize("a", 2).is_err());
        assert!(tok.tokenize("", 0).is_err());
    }

    #[test]
    fn special_tokens_and_shape() {
        let tok = tokenizer();
        assert_eq!(
            tok.encode("<|startoftext|><|endoftext|>"),
            vec![SOT_TOKEN, EOT_TOKEN]
        );
        assert_eq!(tok.tokenize("a photo", 5).map(|ids| ids.len()), Ok(5));
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn vocabulary_text() -> String {
        let mut text = String::new();
        GzDecoder::new(VOCAB_GZ).read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn a_vocabulary_from_bytes_tokenizes_as_the_built_in_one() {
        let from_bytes = ClipTokenizer::from_vocab_gz(&gzip(vocabulary_text().as_bytes())).unwrap();
        for text in [
            "a photo of a damaged bottle",
            "Überraschung! 3 screws, 1 nut",
            "woven fabric",
        ] {
            assert_eq!(from_bytes.encode(text), tokenizer().encode(text), "{text}");
        }
    }

    #[test]
    fn a_damaged_vocabulary_is_an_error_naming_the_problem() {
        let err = |bytes: &[u8]| {
            ClipTokenizer::from_vocab_gz(bytes)
                .err()
                .map(|e| e.to_string())
        };
        let not_gzip = err(b"merges, but not gzipped").expect("refused");
        assert!(
            not_gzip.contains("line 1") && not_gzip.contains("not gzipped"),
            "{not_gzip}"
        );

        let text = vocabulary_text();
        let first_1000: String = text.split_inclusive('\n').take(1000).collect();
        let short = err(&gzip(first_1000.as_bytes())).expect("refused");
        assert!(short.contains("ends after 1000 lines"), "{short}");

        let mut lines: Vec<&str> = text.split('\n').collect();
        lines[5] = "three parts here";
        let bad_line = err(&gzip(lines.join("\n").as_bytes())).expect("refused");
        assert!(
            bad_line.contains("line 6") && bad_line.contains("three parts here"),
            "{bad_line}"
        );

        let mut lines: Vec<&str> = text.split('\n').collect();
        lines[7] = lines[6];
        let repeated = err(&gzip(lines.join("\n").as_bytes())).expect("refused");
        assert!(repeated.contains("repeat"), "{repeated}");

        // One endless line: reading stops at the size limit instead of growing without bound.
        let endless = err(&gzip(&vec![
            b'a';
            (MAX_VOCAB_TEXT_BYTES + (1 << 20)) as usize
        ]))
        .expect("refused");
        assert!(endless.contains("ends after 1 lines"), "{endless}");
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ClipTokenizer>();
    }

    #[test]
    fn builds_quickly() {
        let start = std::time::Instant::now();
        let tok = ClipTokenizer::new();
        let elapsed = start.elapsed();
        eprintln!("ClipTokenizer::new() took {elapsed:?}");
        assert_eq!(tok.encode("a").len(), 1);
    }
}
