#!/usr/bin/env python3
"""Writes the hostile-image corpus: tests/corpus/images/*.{png,jpg,gif,bmp,webp,tif} and
tests/corpus/images/expected.json, the outcome each file must have.

    pip install pillow==13.0.0 && python3 scripts/make-image-corpus.py

Every expectation comes from how the file is built, never from running the decoder:
- good files show one picture, W×H = 40×30 in four quadrants (top-left red, top-right green,
  bottom-left blue, bottom-right white, or four grey levels for grey files), stored in the
  format, depth or orientation under test; `ok` lists the size the decoder must return and the
  colour at each quadrant's centre (within `tol`, for lossy formats);
- files that store the picture rotated or mirrored carry the EXIF orientation that undoes it,
  so the decoded image must be the upright picture (checked here with Pillow's exif_transpose);
- animated files have the picture as their first frame and something else after it;
- bad files must be refused with an error containing every word of `error`; one that is bad
  only under the corpus limits below says in `default_limits` what it decodes to with the defaults.

The corpus is checked with the limits in `limits` (the defaults are larger; a file over these
shows the same error as one over the defaults). Consumers: crates/core/tests/image_corpus.rs
(library), crates/cli/tests/image_corpus.rs (`acd detect` on the folder) and
web/e2e/corpus.e2e.ts (the page).
"""

import io
import json
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageOps

OUT = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "images"
W, H = 40, 30
RGB = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
GREY = [30, 110, 180, 250]
LIMITS = {"max_bytes": 65536, "max_pixels": 1_000_000}
# quadrant centres: (x, y) → index into RGB / GREY
CENTRES = [((W // 4, H // 4), 0), ((3 * W // 4, H // 4), 1), ((W // 4, 3 * H // 4), 2), ((3 * W // 4, 3 * H // 4), 3)]

expected = {}


def quadrants(mode="RGB", colours=RGB):
    im = Image.new(mode, (W, H))
    px = im.load()
    for y in range(H):
        for x in range(W):
            px[x, y] = colours[(2 if y >= H // 2 else 0) + (1 if x >= W // 2 else 0)]
    return im


def ok(name, data, colours=RGB, tol=0, size=(W, H)):
    (OUT / name).write_bytes(data)
    cols = [[c, c, c] if isinstance(c, int) else list(c) for c in colours]
    expected[name] = {
        "ok": {"width": size[0], "height": size[1], "tol": tol,
               "pixels": [[x, y, cols[i]] for (x, y), i in CENTRES]},
    }


def bad(name, data, *words):
    (OUT / name).write_bytes(data)
    expected[name] = {"error": list(words)}


def save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width, height, depth, colour, raw_rows, extra=b""):
    """A PNG from its parts (for what Pillow cannot write: 16-bit RGB, lying headers)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(raw_rows, 9)) + chunk(b"IEND", b""))


# EXIF orientation o: the transform a viewer applies (Pillow's exif_transpose), and its inverse,
# which stores the upright picture so that applying o gives it back.
APPLY = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
         5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}
INVERSE = {**APPLY, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def oriented(o, fmt, **kw):
    stored = quadrants().transpose(INVERSE[o])
    exif = Image.Exif()
    exif[0x0112] = o
    data = save(stored, fmt, exif=exif.tobytes(), **kw)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    assert upright.size == (W, H), (o, fmt, upright.size)
    return data


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    rgb = quadrants()

    # ---- good: depths, colour types, formats --------------------------------------------------
    ok("ok_rgb.png", save(rgb, "PNG"))
    ok("ok_gray.png", save(quadrants("L", GREY), "PNG"), GREY)
    ok("ok_gray16.png", save(quadrants("I;16", [g * 257 for g in GREY]), "PNG"), GREY)
    rows16 = b"".join(
        b"\x00" + b"".join(struct.pack(">HHH", *(c * 257 for c in rgb.getpixel((x, y)))) for x in range(W))
        for y in range(H))
    ok("ok_rgb16.png", png(W, H, 16, 2, rows16), RGB)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(quadrants("L", [0, 64, 128, 255]))  # alpha is dropped, as Pillow's convert('RGB')
    ok("ok_rgba.png", save(rgba, "PNG"))
    la = quadrants("L", GREY).convert("LA")
    la.putalpha(quadrants("L", [255, 0, 100, 200]))
    ok("ok_gray_alpha.png", save(la, "PNG"), GREY)
    ok("ok_palette.png", save(rgb.quantize(4, dither=Image.Dither.NONE), "PNG"))
    pal = rgb.quantize(4, dither=Image.Dither.NONE)
    ok("ok_palette_transparent.png", save(pal, "PNG", transparency=0))
    ok("ok_1bit.png", save(quadrants("1", [0, 255, 255, 0]), "PNG"), [0, 255, 255, 0])
    ok("ok_rgb.jpg", save(rgb, "JPEG", quality=95), tol=40)
    ok("ok_gray.jpg", save(quadrants("L", GREY), "JPEG", quality=95), GREY, tol=20)
    ok("ok_progressive.jpg", save(rgb, "JPEG", quality=95, progressive=True), tol=40)
    ok("ok_cmyk.jpg", save(rgb.convert("CMYK"), "JPEG", quality=95), tol=40)
    ok("ok.bmp", save(rgb, "BMP"))
    ok("ok_palette.bmp", save(rgb.quantize(4, dither=Image.Dither.NONE), "BMP"))
    ok("ok_lossless.webp", save(rgb, "WEBP", lossless=True))
    ok("ok_lossy.webp", save(rgb, "WEBP", quality=95), tol=40)
    ok("ok.tif", save(rgb, "TIFF"))
    ok("ok_gray16.tif", save(quadrants("I;16", [g * 257 for g in GREY]), "TIFF"), GREY)
    ok("ok_thin.png", save(Image.new("RGB", (1, 300), (10, 20, 30)), "PNG"), [(10, 20, 30)] * 4, size=(1, 300))
    expected["ok_thin.png"]["ok"]["pixels"] = [[0, 0, [10, 20, 30]], [0, 299, [10, 20, 30]]]

    # ---- good: EXIF orientation (every value in JPEG; PNG eXIf, WebP and TIFF with 6) ------------
    for o in range(2, 9):
        ok(f"ok_exif_{o}.jpg", oriented(o, "JPEG", quality=95), tol=40)
    ok("ok_exif_6.png", oriented(6, "PNG"))
    ok("ok_exif_6.webp", oriented(6, "WEBP", lossless=True))

    # ---- good: animations give their first frame -----------------------------------------------
    other = Image.new("RGB", (W, H), (0, 0, 0))
    ok("ok_animated.gif", save(rgb, "GIF", save_all=True, append_images=[other], duration=100, loop=0))
    ok("ok_animated.png", save(rgb, "PNG", save_all=True, append_images=[other], duration=100, loop=0))
    ok("ok_animated.webp", save(rgb, "WEBP", save_all=True, append_images=[other], duration=100, lossless=True))
    assert Image.open(OUT / "ok_animated.webp").n_frames == 2

    # ---- bad -----------------------------------------------------------------------------------
    good_png = (OUT / "ok_rgb.png").read_bytes()
    good_jpg = (OUT / "ok_rgb.jpg").read_bytes()
    good_gif = (OUT / "ok_animated.gif").read_bytes()
    bad("bad_empty.png", b"", "empty")
    bad("bad_text.jpg", b"This is a text file, not an image.\n" * 20, "unrecognised image format")
    bad("bad_svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"/>\n', "unrecognised image format")
    bad("bad_ico.png", save(rgb, "ICO"), "unsupported")
    bad("bad_truncated.png", good_png[: len(good_png) // 2], "could not decode")
    bad("bad_header_only.png", good_png[:33], "could not decode")
    bad("bad_truncated.jpg", good_jpg[: len(good_jpg) // 3], "truncated")
    # Cut in the last scan: the decoder would fill the tail in; refused like Pillow's default.
    bad("bad_truncated_tail.jpg", good_jpg[: len(good_jpg) * 9 // 10], "truncated")
    bad("bad_truncated.gif", good_gif[:30], "could not decode")
    idat = good_png.index(b"IDAT")
    bad("bad_checksum.png", good_png[: idat + 10] + bytes([good_png[idat + 10] ^ 0xFF]) + good_png[idat + 11:], "could not decode")
    bad("bad_zero_width.png", png(0, 30, 8, 2, b""), "zero width or height")
    gif = bytearray(good_gif)
    gif[8:10] = struct.pack("<H", 0)  # logical screen height 0
    bad("bad_zero_height.gif", bytes(gif), "zero width or height")
    bad("bad_zero_height.bmp", save(rgb, "BMP")[:22] + struct.pack("<i", 0) + save(rgb, "BMP")[26:], "zero width or height")
    # Sizes over the pixel limit, declared in a small file: refused before any pixel buffer exists.
    bad("bad_huge_dims.png", png(100_000, 100_000, 8, 2, b"\x00" * 64), "100000×100000 pixels", "over the limit")
    bomb_rows = b"".join(b"\x00" + b"\x00" * (10_000 // 8) for _ in range(10_000))
    bad("bad_bomb.png", png(10_000, 10_000, 1, 0, bomb_rows), "10000×10000 pixels", "over the limit")
    gif = bytearray(good_gif)
    gif[6:10] = struct.pack("<HH", 60_000, 60_000)  # logical screen 60000×60000
    bad("bad_huge_dims.gif", bytes(gif), "over the limit")
    jpg = bytearray(good_jpg)
    sof = jpg.index(b"\xff\xc0")
    jpg[sof + 5:sof + 9] = struct.pack(">HH", 65_000, 65_000)  # height, width
    bad("bad_huge_dims.jpg", bytes(jpg), "65000×65000 pixels", "over the limit")
    big = save(Image.new("RGB", (200, 120), (1, 2, 3)), "BMP")
    assert len(big) > LIMITS["max_bytes"]
    bad("bad_too_many_bytes.bmp", big, f"{len(big)} bytes", "over the limit of 65536 bytes")
    expected["bad_too_many_bytes.bmp"]["default_limits"] = {"width": 200, "height": 120}

    (OUT / "expected.json").write_text(json.dumps({"limits": LIMITS, "files": expected}, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(expected)} files and expected.json to {OUT}")


if __name__ == "__main__":
    main()
