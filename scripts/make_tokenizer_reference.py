#!/usr/bin/env python3
"""Writes crates/core/src/clip/tokenizer_reference.json: CLIP BPE token ids from
the Python reference implementation, for the Rust tokenizer's tests
(crates/core/src/clip/tokenizer.rs).

Needs open_clip (tested with open_clip 3.3.0), ftfy and regex:

    python scripts/make_tokenizer_reference.py

The ids come from open_clip's `SimpleTokenizer`, which is a copy of OpenAI
CLIP's `simple_tokenizer.py` (same vocabulary, cleaning, pattern and BPE) with
one difference: open_clip names its special tokens `<start_of_text>` /
`<end_of_text>`, OpenAI CLIP (which ACD-CLIP uses) `<|startoftext|>` /
`<|endoftext|>`. The ids are the same (49406 / 49407); the names only matter
when a prompt contains them literally. We therefore give the open_clip
tokenizer OpenAI's special-token names and pattern (that is exactly OpenAI's
`SimpleTokenizer`), and check that this changes nothing for every string that
does not contain a special-token name.

Each entry is {"text": ..., "ids": [77 ids: SOT, BPE ids, EOT, zero padding]},
or, for a prompt longer than the context, {"text": ..., "too_long": true,
"tokens": n} where n counts the start and end tokens. (open_clip truncates such
a prompt; OpenAI's `clip.tokenize` raises, and so does the Rust tokenizer.)

ftfy: the Rust side reproduces ftfy.fix_text's simple fixes (HTML entity
unescaping of a few common entities, C1 controls as Windows-1252, Latin
ligatures, full/half width forms, curly quotes, line breaks, terminal escapes,
control characters, NFC) but not its mojibake repair (fix_encoding). Strings
that ftfy repairs as mojibake are therefore left out, e.g. "sÃ³" (ftfy: "só"),
"The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows." and "â€œquotedâ€\x9d"; so are
named HTML entities beyond &amp; &lt; &gt; &quot; &apos; &nbsp; (e.g.
"caf&eacute;"), which the Rust side leaves as they are. The script prints which
of the kept strings ftfy changes (all of them in ways the Rust side reproduces).
"""

import json
import os
import sys

import ftfy
import regex as re
from open_clip.tokenizer import SimpleTokenizer

CONTEXT_LENGTH = 77
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "crates", "core", "src", "clip", "tokenizer_reference.json",
)

# ACD-CLIP's prompt ensemble: 2 templates x 8 states = 16 sentences per class.
TEMPLATES = ["{}.", "a photo of {}."]
STATES = [
    "{}", "a {}", "the {}", "a damaged {}", "a broken {}",
    "a {} with flaw", "a {} with defect", "a {} with damage",
]
CLASS_NAMES = [
    "dark bottle",
    "metal nut which has four notched edges",
    "oval white pill with small red speckles and the letters 'FF' engraved",
    "white, elongated triangular metal bracket with a smooth, matte finish",
    "Bright concentric rings in neon yellow and blue tones against a dark blue "
    "background, resembling a stylized wave or energy field radiating outward.",
]

OTHER = [
    # digits and punctuation
    "pcb4",
    "01",
    "screw 01 with 2 scratches on pcb4",
    "3.14159, 1,000,000 and ½ of x² (½ and ² are numbers too)",
    "hello, world!!! (test) -- [x] {y} #1 @home $5.00 100% a/b\\c ... ?!",
    "a_b-c+d=e*f^g~h|i`j",
    # contractions
    "it's",
    "we'll",
    "I'm sure they've done it, haven't they? You're right, I'd say.",
    "''s 's 'S 'LL 'Re rock'n'roll",
    # case and whitespace
    "A Photo Of A DARK Bottle.",
    "  multiple   spaces\tand\ttabs\nand\nnew\r\nlines  ",
    "\u00a0no-break\u00a0space and ideographic\u3000space",
    "   ",
    # HTML entities (ftfy unescapes them to a fixed point unless the line holds '<')
    "a &amp; b",
    "&lt;tag&gt;",
    "&amp;amp;amp; triple escaped",
    "&#65;&#x42;&#X63; &nbsp;x &quot;q&quot; &apos;a&apos; &Gt; &Lt;",
    "5 &lt 6 &amp 7 &ampx &gtfoo",
    "<b>bold</b> &amp;amp;amp; kept twice unescaped",
    "first line &amp;amp;amp;\nsecond <line> &amp;amp;amp;",
    "&#0; &#128; &#x9d; &#1; &#xD800; &#1114112; &#99999999999999999999;",
    # non-ASCII
    "café crème",
    "naïve",
    "Ünïcödé",
    "cafe\u0301 cre\u0300me (decomposed)",
    "螺丝",
    "a 螺丝 screw",
    "🙂",
    "a photo of a 🙂 face 👍🏽",
    "ΣΟΦΟΣ σοφός",
    "İstanbul straße",
    "Привет мир",
    "مرحبا",
    # ftfy's simple fixes
    "\u201ccurly quotes\u201d and it\u2019s \u2018single\u2019",
    "\ufb01ne \ufb02ower \ufb00",
    "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33 \uff11\uff12",
    "\uff73\uff80\uff70\uff9d \uff76\uff9e",
    "a\x00b\x07c\x7fd\ufeffe",
    "\x1b[31mred\x1b[0m text",
    "\x93windows\x94 \x85",
    # special-token names
    "<|startoftext|>a photo<|endoftext|>",
    "<|STARTOFTEXT|> <|endoftext",
    "<start_of_text>",
    # IGNORECASE quirks of the reference pattern (see TOKEN_PATTERN in tokenizer.rs)
    "it'\u017f a\u0345b \u0345 <|\u017ftartoftext|>",
    # empty
    "",
]

TOO_LONG = [
    " ".join([CLASS_NAMES[-1]] * 3),
    "a " * 76,
]


def openai_tokenizer():
    """open_clip's SimpleTokenizer with OpenAI CLIP's special-token names."""
    tok = SimpleTokenizer()
    sot, eot = tok.sot_token_id, tok.eot_token_id
    for old in ["<start_of_text>", "<end_of_text>"]:
        del tok.encoder[old]
        del tok.cache[old]
    for name, idx in [("<|startoftext|>", sot), ("<|endoftext|>", eot)]:
        tok.encoder[name] = idx
        tok.decoder[idx] = name
        tok.cache[name] = name
    tok.pat = re.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        re.IGNORECASE,
    )
    return tok


def main():
    tok = openai_tokenizer()
    plain = SimpleTokenizer()
    sot, eot = tok.sot_token_id, tok.eot_token_id
    assert (sot, eot) == (49406, 49407)

    prompts = [t.format(s.format(c)) for c in CLASS_NAMES for t in TEMPLATES for s in STATES]
    texts = prompts + OTHER
    assert len(set(texts)) == len(texts), "duplicate strings"

    entries = []
    for text in texts:
        bpe = tok.encode(text)
        if not any(n in text.lower() for n in ["tartoftext", "endoftext", "start_of_text", "end_of_text"]):
            assert bpe == plain.encode(text), text
        ids = [sot] + bpe + [eot]
        assert len(ids) <= CONTEXT_LENGTH, f"{text!r} is too long ({len(ids)} tokens)"
        ids += [0] * (CONTEXT_LENGTH - len(ids))
        # open_clip's own batch call agrees.
        assert tok(text, context_length=CONTEXT_LENGTH)[0].tolist() == ids
        entries.append({"text": text, "ids": ids})
        if ftfy.fix_text(text) != text:
            print(f"ftfy changes {text!r} -> {ftfy.fix_text(text)!r}", file=sys.stderr)

    for text in TOO_LONG:
        n = len(tok.encode(text)) + 2
        assert n > CONTEXT_LENGTH
        entries.append({"text": text, "too_long": True, "tokens": n})

    with open(OUT, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(e, ensure_ascii=True) for e in entries))
        f.write("\n]\n")
    print(f"wrote {len(entries)} entries to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
