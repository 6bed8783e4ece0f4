"""Synthetic MRZ corpus: random valid MRZs of all five ICAO 9303 types, rendered as captures.

The shared specimens are few and mostly Utopia, so they cannot say how the reader fares
across document types, name lengths, long document numbers or capture conditions. This
module makes as many labelled images as a benchmark wants: the text comes from the
layouts in :mod:`proofing.mrz.formats` and the check digits from
:mod:`proofing.mrz.checkdigit` (so it is valid by construction), the glyphs from the
OCR-B font at the ICAO pitch (10 characters per inch, 6 lines per inch), and every
degradation applied is recorded with its parameters so results can be broken down by it.

Difficulty is that of a webcam or phone capture, not of an adversarial attack: the
character cap height stays at or above ``MIN_CHAR_HEIGHT_PX`` and glare never saturates.
Everything is drawn from one ``numpy`` generator per sample seeded with ``(seed, index)``,
so a corpus is reproducible and a prefix of a larger corpus equals the smaller corpus.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from proofing.mrz.checkdigit import check_digit
from proofing.mrz.codes import all_codes
from proofing.mrz.formats import LAYOUTS, Layout

DOC_TYPES: tuple[str, ...] = ("TD1", "TD2", "TD3", "MRV-A", "MRV-B")

#: Where Debian's fonts-ocr-b puts OCR-B; override with PROOFING_OCRB_FONT.
OCRB_FONT = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
_VIZ_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)

MIN_CHAR_HEIGHT_PX = 12
#: Fill of the portrait box (``params["portrait"]``): callers print a face over it.
PORTRAIT_PLACEHOLDER_RGB = (205, 205, 200)
#: ICAO 9303 Part 3: 10 characters per inch, 6 lines per inch; OCR-B size I cap height.
CHAR_PITCH_MM = 2.54
LINE_PITCH_MM = 25.4 / 6
CAP_HEIGHT_MM = (2.2, 2.6)
#: Document sizes (width, height) in mm: ID-1 card, ID-2, ID-3 booklet page, visa stickers.
DOC_SIZE_MM: dict[str, tuple[float, float]] = {
    "TD1": (85.6, 54.0),
    "TD2": (105.0, 74.0),
    "TD3": (125.0, 88.0),
    "MRV-A": (120.0, 80.0),
    "MRV-B": (105.0, 74.0),
}
_DOC_CODES: dict[str, tuple[str, ...]] = {
    "TD1": ("I<", "ID", "IA", "IR", "AC", "C<"),
    "TD2": ("I<", "ID", "IR", "AC", "C<"),
    "TD3": ("P<", "P<", "P<", "PD", "PO", "PS"),
    "MRV-A": ("V<", "V<", "VA", "VD"),
    "MRV-B": ("V<", "V<", "VB", "VC"),
}
_DIGITS = "0123456789"
#: Letters mixed with digits in numbers and optional data. Issuers mostly leave out I, O
#: and Q, which even a person reads as 1 and 0; G/6, S/8 and Z/5 stay (their values differ
#: by a multiple of 10, so a check digit cannot catch them: a realistic hard case).
_NUMBER_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_ALNUM = _NUMBER_LETTERS + _DIGITS
_ONSETS = ("B", "C", "D", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "V", "W",
           "Z", "CH", "SH", "TH", "KR", "ST", "BR", "DR", "GR", "PL", "SV", "")
_VOWELS = ("A", "E", "I", "O", "U", "AI", "EI", "OU", "IA", "Y")
_CODAS = ("", "", "", "N", "R", "S", "L", "M", "K", "T", "SSON", "NEN", "OV", "EZ", "ER", "SKI")

#: Every degradation tag, in the order the benchmark reports them ("clean" = none applied).
DEGRADATIONS: tuple[str, ...] = (
    "clean", "rotation90", "rotation", "perspective", "illumination", "glare",
    "gaussian_blur", "motion_blur", "noise", "small_in_frame", "jpeg",
)


@dataclass(frozen=True)
class Sample:
    """One synthetic capture: the encoded file, its ground-truth lines and how it was made."""

    index: int
    doc_type: str
    lines: list[str]
    data: bytes  # the encoded image file (PNG, or JPEG when the jpeg degradation applies)
    ext: str  # "png" or "jpg"
    params: dict[str, Any] = field(default_factory=dict)  # every drawn parameter
    tags: tuple[str, ...] = ()  # the degradations applied (subset of DEGRADATIONS)

    @property
    def filename(self) -> str:
        return f"synth_{self.index:05d}.{self.ext}"

    def image(self) -> np.ndarray:
        """The decoded pixels (RGB, uint8), exactly what a reader of the file sees."""
        with Image.open(io.BytesIO(self.data)) as im:
            return np.asarray(im.convert("RGB"))


# --------------------------------------------------------------------------------------
# MRZ text


def _name_part(rng: np.random.Generator) -> str:
    syllables = int(rng.integers(1, 5))
    part = "".join(str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) for _ in range(syllables))
    return part + str(rng.choice(_CODAS))


def random_name(rng: np.random.Generator, width: int) -> str:
    """PRIMARY<<GIVEN<NAMES padded or truncated to ``width``.

    One in five names is long (several surnames and given names) so that truncation,
    which ICAO 9303 Part 3 allows at the end of the name field, is exercised.
    """
    long = rng.random() < 0.2
    n_primary = int(rng.integers(2, 4)) if long else int(rng.choice([1, 1, 1, 2]))
    n_given = int(rng.integers(2, 5)) if long else int(rng.choice([0, 1, 1, 1, 2, 2, 3]))
    primary = "<".join(_name_part(rng) for _ in range(n_primary))
    given = "<".join(_name_part(rng) for _ in range(n_given))
    text = primary + ("<<" + given if given else "")
    return text[:width].ljust(width, "<")


def _alnum(rng: np.random.Generator, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(str(rng.choice(list(alphabet))) for _ in range(n))


def random_document_number(rng: np.random.Generator, *, allow_long: bool) -> str:
    """6-9 characters, or 10-13 where the overflow rule applies (TD1, TD2)."""
    if allow_long and rng.random() < 0.25:
        return _alnum(rng, 2, _NUMBER_LETTERS) + _alnum(rng, int(rng.integers(8, 12)), _DIGITS)
    n = int(rng.choice([6, 7, 8, 9, 9, 9]))
    letters = int(rng.integers(0, 3))
    rest = _alnum(rng, n - letters, _DIGITS if rng.random() < 0.7 else _ALNUM)
    return _alnum(rng, letters, _NUMBER_LETTERS) + rest


def _random_date(rng: np.random.Generator, start: date, end: date) -> date:
    return start + timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def _optional(rng: np.random.Generator, width: int, p_empty: float) -> str:
    if width <= 0 or rng.random() < p_empty:
        return "<" * width
    n = int(rng.integers(min(3, width), width + 1))
    return _alnum(rng, n, _DIGITS if rng.random() < 0.6 else _ALNUM).ljust(width, "<")


def _put(rows: list[list[str]], line: int, start: int, text: str) -> None:
    rows[line][start : start + len(text)] = list(text)


def random_mrz(rng: np.random.Generator, doc_type: str) -> list[str]:
    """A random MRZ of ``doc_type`` whose every check digit is valid."""
    layout: Layout = LAYOUTS[doc_type]
    rows = [["<"] * layout.length for _ in range(layout.n_lines)]
    codes = all_codes()
    f = {fl.name: fl for fl in layout.fields}

    def put_field(name: str, text: str) -> None:
        fl = f[name]
        width = fl.end - fl.start
        _put(rows, fl.line, fl.start, text[:width].ljust(width, "<"))

    put_field("document_code", str(rng.choice(_DOC_CODES[doc_type])))
    put_field("issuing_state", str(rng.choice(codes)))
    put_field("nationality", str(rng.choice(codes)) if rng.random() < 0.6 else
              "".join(rows[0][2:5]))
    name = f["name"]
    put_field("name", random_name(rng, name.end - name.start))
    birth = _random_date(rng, date(1935, 1, 1), date(2020, 12, 31))
    expiry = _random_date(rng, date(2016, 1, 1), date(2037, 12, 31))
    put_field("birth_date", birth.strftime("%y%m%d"))
    put_field("expiry_date", expiry.strftime("%y%m%d"))
    put_field("sex", str(rng.choice(["M", "F", "<"], p=[0.47, 0.47, 0.06])))

    optional_name = "personal_number" if doc_type == "TD3" else "optional_data"
    opt = f[optional_name]
    put_field(optional_name, _optional(rng, opt.end - opt.start, 0.45))
    if doc_type == "TD1":
        opt2 = f["optional_data_2"]
        put_field("optional_data_2", _optional(rng, opt2.end - opt2.start, 0.7))

    number = random_document_number(rng, allow_long=doc_type in ("TD1", "TD2"))
    dn_check = next(c for c in layout.checks if c.name == "document_number")
    overflow = len(number) > 9
    put_field("document_number", number[:9])
    if overflow:
        # ICAO 9303 Part 5/6: the rest of the number and its check digit open the optional
        # data, the check-digit position holds a filler.
        tail = number[9:] + check_digit(number) + "<"
        width = opt.end - opt.start
        rest = "".join(rows[opt.line][opt.start + len(tail) : opt.end])
        put_field(optional_name, (tail + rest)[:width])
    for check in sorted(layout.checks, key=lambda c: c.name == "composite"):
        data = check.data(["".join(r) for r in rows])
        # A filler where the number overflows, or over an empty optional field (TD3).
        filler = (check is dn_check and overflow) or (check.filler_ok and set(data) <= {"<"})
        rows[check.line][check.pos] = "<" if filler else check_digit(data)
    return ["".join(r) for r in rows]


# --------------------------------------------------------------------------------------
# Rendering


def _font_path() -> str:
    path = os.environ.get("PROOFING_OCRB_FONT", OCRB_FONT)
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"OCR-B font not found at {path}: install Debian's fonts-ocr-b "
            "or set PROOFING_OCRB_FONT"
        )
    return path


def ocrb_available() -> bool:
    """True when the OCR-B font is installed (rendering needs it; MRZ text does not)."""
    try:
        _font_path()
    except FileNotFoundError:
        return False
    return True


@lru_cache(maxsize=64)
def _ocrb(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(_font_path(), size_px)


@lru_cache(maxsize=64)
def _viz_font(size_px: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _VIZ_FONTS[1 if bold else 0]
    if Path(path).is_file():
        return ImageFont.truetype(path, size_px)
    return ImageFont.load_default(size=size_px)


def _ocrb_size_for_cap_height(cap_px: float) -> int:
    ref = _ocrb(200)
    top, bottom = ref.getbbox("M")[1], ref.getbbox("M")[3]
    return max(8, round(200 * cap_px / (bottom - top)))


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A pale tinted page with a low-frequency texture and guilloche-like line work."""
    base = np.array([rng.uniform(225, 250) for _ in range(3)], dtype=np.float32)
    base -= np.array([0.0, rng.uniform(0, 12), rng.uniform(0, 18)], dtype=np.float32)[
        rng.permutation(3)
    ]
    coarse = rng.normal(0, 1, (max(2, h // 40), max(2, w // 40), 1)).astype(np.float32)
    texture = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)[..., None] * 4
    fine = rng.normal(0, 2.0, (h, w, 1)).astype(np.float32)
    page = np.clip(base + texture + fine, 0, 255).astype(np.uint8)
    img = Image.fromarray(page, "RGB")
    draw = ImageDraw.Draw(img)
    tint = tuple(int(v) for v in np.clip(base - rng.uniform(25, 55, 3), 0, 255))
    t = np.linspace(0, 2 * math.pi, 1200)
    for _ in range(int(rng.integers(3, 7))):  # rosettes
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        big, small = rng.uniform(0.15, 0.45) * h, rng.uniform(0.03, 0.12) * h
        k = int(rng.integers(5, 18))
        for j in range(int(rng.integers(4, 9))):
            phase = j * 2 * math.pi / 9
            r = big + small * np.cos(k * t + phase)
            pts = list(zip((cx + r * np.cos(t)).tolist(), (cy + r * np.sin(t)).tolist(), strict=True))
            draw.line(pts, fill=tint, width=1)
    xs = np.arange(0, w, 2, dtype=np.float64)
    for _ in range(int(rng.integers(6, 16))):  # wavy bands
        y0, amp = rng.uniform(0, h), rng.uniform(2, 0.06 * h)
        freq, phase = rng.uniform(1, 6) * 2 * math.pi / w, rng.uniform(0, 2 * math.pi)
        ys = y0 + amp * np.sin(freq * xs + phase)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=tint, width=1)
    return img


def _viz(page: Image.Image, rng: np.random.Generator, lines: list[str], doc_type: str,
         ppm: float, w: int, top: float, bottom: float, portrait: bool) -> None:
    """Printed visual inspection zone: a title, labelled fields and the holder's data."""
    draw = ImageDraw.Draw(page)
    ink = tuple(int(v) for v in rng.uniform(20, 70, 3))
    label_ink = tuple(int(v) for v in rng.uniform(80, 130, 3))
    title = {"TD3": "PASSPORT / PASSEPORT", "MRV-A": "VISA", "MRV-B": "VISA"}.get(
        doc_type, "IDENTITY CARD / CARTE D'IDENTITE"
    )
    x0 = 4 * ppm
    draw.text((x0, top), title, font=_viz_font(int(3.2 * ppm), True), fill=ink)
    y = top + 5 * ppm
    if portrait:
        pw, ph = 0.26 * w, min(0.26 * w * 1.3, bottom - y - 2 * ppm)
        if ph > 10 * ppm:
            box = Image.new("RGB", (int(pw), int(ph)), PORTRAIT_PLACEHOLDER_RGB)
            bd = ImageDraw.Draw(box)
            cx, cy = pw / 2, ph * 0.42
            bd.ellipse((cx - pw * 0.45, ph * 0.72, cx + pw * 0.45, ph * 1.3), fill=(120, 115, 110))
            bd.ellipse((cx - pw * 0.22, cy - ph * 0.25, cx + pw * 0.22, cy + ph * 0.2),
                       fill=(150, 140, 135))
            bd.rectangle((0, 0, int(pw) - 1, int(ph) - 1), outline=label_ink)
            page.paste(box, (int(x0), int(y)))
            x0 += pw + 4 * ppm
    name = lines[-1] if doc_type == "TD1" else lines[0][5:]
    primary, _, secondary = name.rstrip("<").partition("<<")
    values = [
        ("Surname / Nom", primary.replace("<", " ")),
        ("Given names / Prénoms", secondary.replace("<", " ") or "-"),
        ("Nationality", str(rng.choice(["UTOPIAN", "REPUBLIC", "CITIZEN"]))),
        ("Date of birth", f"{int(rng.integers(1, 29)):02d} {rng.choice(['JAN', 'MAR', 'JUL', 'OCT'])} "
                          f"{int(rng.integers(1940, 2010))}"),
        ("Sex", str(rng.choice(["M", "F"]))),
        ("Date of expiry", f"{int(rng.integers(1, 29)):02d} DEC {int(rng.integers(2025, 2035))}"),
    ]
    label_font = _viz_font(max(7, int(1.5 * ppm)), False)
    value_font = _viz_font(max(9, int(2.4 * ppm)), True)
    step = 4.6 * ppm
    for label, value in values:
        if y + step > bottom:
            break
        draw.text((x0, y), label, font=label_font, fill=label_ink)
        draw.text((x0, y + 1.7 * ppm), value[:28], font=value_font, fill=ink)
        y += step


def render_document(lines: list[str], doc_type: str, rng: np.random.Generator,
                    ppm: float) -> tuple[np.ndarray, dict[str, Any]]:
    """The flat document page at ``ppm`` pixels per mm, MRZ in OCR-B at the ICAO pitch."""
    w_mm, h_mm = DOC_SIZE_MM[doc_type]
    w, h = round(w_mm * ppm), round(h_mm * ppm)
    img = _background(rng, w, h)
    draw = ImageDraw.Draw(img)
    cap_mm = float(rng.uniform(*CAP_HEIGHT_MM))
    font = _ocrb(_ocrb_size_for_cap_height(cap_mm * ppm))
    n = len(lines[0])
    left = (w_mm - n * CHAR_PITCH_MM) / 2 + float(rng.uniform(-0.8, 0.8))
    bottom_margin = float(rng.uniform(3.5, 5.5))
    first_baseline = h_mm - bottom_margin - (len(lines) - 1) * LINE_PITCH_MM
    mrz_ink = tuple(int(v) for v in rng.uniform(5, 55, 3))
    for i, line in enumerate(lines):
        base_y = (first_baseline + i * LINE_PITCH_MM) * ppm
        for j, ch in enumerate(line):
            cell_x = (left + j * CHAR_PITCH_MM) * ppm
            x = cell_x + (CHAR_PITCH_MM * ppm - font.getlength(ch)) / 2
            draw.text((x, base_y), ch, font=font, fill=mrz_ink, anchor="ls")
    mrz_top = first_baseline - cap_mm - 2.5
    portrait = bool(rng.random() < 0.6)
    _viz(img, rng, lines, doc_type, ppm, w, 3 * ppm, mrz_top * ppm, portrait)
    params = {"ppm": round(ppm, 3), "cap_height_mm": round(cap_mm, 3),
              "char_height_px": round(cap_mm * ppm, 2), "portrait": portrait,
              "doc_size_px": [w, h]}
    return np.asarray(img), params


def _scene_background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A desk or table: a mid-tone colour, a gradient, noise and a few object blobs."""
    colour = rng.uniform(40, 200, 3).astype(np.float32)
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    scene = colour + 25 * (rng.uniform(-1, 1) * gx + rng.uniform(-1, 1) * gy)
    scene = scene + rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    out = np.clip(scene, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        rw, rh = int(rng.integers(w // 10, w // 3)), int(rng.integers(h // 10, h // 3))
        cv2.rectangle(out, (x, y), (x + rw, y + rh), tuple(int(v) for v in rng.uniform(20, 230, 3)),
                      -1)
    return cv2.GaussianBlur(out, (0, 0), 1.5)


def _place(doc: np.ndarray, rng: np.random.Generator, angle: float, persp: float, frac: float,
           aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Warp the page into a larger scene; returns the scene and the page's corner points."""
    h, w = doc.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    centred = src - np.array([w / 2, h / 2], dtype=np.float32)
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=np.float32)
    dst = centred @ rot.T
    if persp > 0:
        dst = dst + rng.uniform(-persp, persp, (4, 2)).astype(np.float32) * np.array(
            [w, h], dtype=np.float32)
    lo, hi = dst.min(axis=0), dst.max(axis=0)
    bw, bh = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    sw = int(bw / frac)
    sh = int(max(sw * aspect, bh / max(frac, 0.8) + 4))
    mx, my = min(0.02 * sw, (sw - bw) / 2), min(0.02 * sh, (sh - bh) / 2)  # keep off the edge
    ox = rng.uniform(mx, sw - bw - mx) - lo[0]
    oy = rng.uniform(my, sh - bh - my) - lo[1]
    dst = (dst + np.array([ox, oy], dtype=np.float32)).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(doc, m, (sw, sh), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (sw, sh), flags=cv2.INTER_LINEAR)
    scene = _scene_background(rng, sw, sh)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    out = warped.astype(np.float32) * alpha + scene.astype(np.float32) * (1 - alpha)
    return np.clip(out, 0, 255).astype(np.uint8), dst


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    size = int(math.ceil(length)) | 1
    k = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    for t in np.linspace(-length / 2, length / 2, size * 4):
        k[int(round(c + t * dy)), int(round(c + t * dx))] = 1
    return k / k.sum()


def _plan(rng: np.random.Generator) -> dict[str, Any]:
    """Draw which degradations apply and their parameters (before any pixel work)."""
    p: dict[str, Any] = {}
    clean = rng.random() < 0.15
    on = (lambda prob: (not clean) and bool(rng.random() < prob))  # noqa: E731
    p["angle"] = float(rng.uniform(-15, 15)) if on(0.35) else float(rng.uniform(-2, 2))
    p["rot90"] = int(rng.integers(1, 4)) if on(0.15) else 0
    p["perspective"] = float(rng.uniform(0.02, 0.07)) if on(0.35) else 0.0
    p["small_in_frame"] = on(0.2)
    p["frame_fraction"] = float(rng.uniform(0.45, 0.65) if p["small_in_frame"]
                                else rng.uniform(0.8, 0.96))
    p["ppm"] = float(rng.uniform(6.0, 8.0) if p["small_in_frame"] else rng.uniform(6.0, 11.0))
    p["aspect"] = float(rng.choice([0.75, 0.5625]))
    if on(0.35):
        p["illumination"] = {"kind": str(rng.choice(["linear", "radial"])),
                             "strength": float(rng.uniform(0.2, 0.45)),
                             "direction": float(rng.uniform(0, 360))}
    if on(0.2):
        p["glare"] = {"x": float(rng.uniform(0.1, 0.9)), "y": float(rng.uniform(0.1, 0.9)),
                      "radius": float(rng.uniform(0.05, 0.18)), "peak": float(rng.uniform(0.3, 0.6))}
    blur = rng.random()
    if not clean and blur < 0.2:
        p["gaussian_blur"] = {"sigma_rel": float(rng.uniform(0.04, 0.1))}
    elif not clean and blur < 0.32:
        p["motion_blur"] = {"length_rel": float(rng.uniform(0.15, 0.35)),
                            "angle": float(rng.uniform(0, 180))}
    if on(0.35):
        p["noise"] = {"sigma": float(rng.uniform(3, 12))}
    if on(0.4):
        p["jpeg"] = {"quality": int(rng.integers(35, 86))}
    return p


def _tags(p: dict[str, Any]) -> tuple[str, ...]:
    tags = []
    if p["rot90"]:
        tags.append("rotation90")
    if abs(p["angle"]) >= 3:
        tags.append("rotation")
    if p["perspective"]:
        tags.append("perspective")
    tags += [k for k in ("illumination", "glare", "gaussian_blur", "motion_blur", "noise")
             if k in p]
    if p["small_in_frame"]:
        tags.append("small_in_frame")
    if "jpeg" in p:
        tags.append("jpeg")
    return tuple(tags) or ("clean",)


def _rounded(obj: Any) -> Any:
    """Floats to 4 decimals, recursively (the recorded parameters stay readable)."""
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def render_capture(lines: list[str], doc_type: str,
                   rng: np.random.Generator) -> tuple[bytes, str, dict[str, Any], tuple[str, ...]]:
    """Render the MRZ on a page, photograph it (warp into a scene) and degrade it.

    Returns the encoded file, its extension, every parameter drawn, and the tags.
    """
    p = _plan(rng)
    doc, doc_params = render_document(lines, doc_type, rng, p["ppm"])
    p.update(doc_params)
    img, corners = _place(doc, rng, p["angle"], p["perspective"], p["frame_fraction"], p["aspect"])
    p["doc_corners"] = np.round(corners, 1).tolist()
    h, w = img.shape[:2]
    f: np.ndarray = img.astype(np.float32)
    char_px = p["char_height_px"]
    if "illumination" in p:
        il = p["illumination"]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        if il["kind"] == "linear":
            d = math.radians(il["direction"])
            t = (xx - w / 2) * math.cos(d) + (yy - h / 2) * math.sin(d)
            t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        else:
            cx, cy = corners.mean(axis=0)
            t = np.hypot(xx - cx, yy - cy)
            t = t / max(float(t.max()), 1.0)
        f = f * (1.0 - il["strength"] * t)[..., None]
    if "glare" in p:
        g = p["glare"]
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        gx, gy = lo[0] + g["x"] * (hi[0] - lo[0]), lo[1] + g["y"] * (hi[1] - lo[1])
        r = g["radius"] * float(hi[0] - lo[0])
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        blob = g["peak"] * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r))
        f = f + (255.0 - f) * blob[..., None]
    if "gaussian_blur" in p:
        sigma = p["gaussian_blur"]["sigma_rel"] * char_px
        p["gaussian_blur"]["sigma_px"] = round(sigma, 2)
        f = cv2.GaussianBlur(f, (0, 0), sigma)
    if "motion_blur" in p:
        mb = p["motion_blur"]
        length = max(2.0, mb["length_rel"] * char_px)
        mb["length_px"] = round(length, 2)
        f = cv2.filter2D(f, -1, _motion_kernel(length, mb["angle"]))
    if "noise" in p:
        f = f + rng.normal(0, p["noise"]["sigma"], f.shape).astype(np.float32)
    out = np.clip(f, 0, 255).astype(np.uint8)
    if p["rot90"]:
        out = np.ascontiguousarray(np.rot90(out, p["rot90"]))
    p["image_size"] = [int(out.shape[1]), int(out.shape[0])]
    p = _rounded(p)
    buf = io.BytesIO()
    pil = Image.fromarray(out, "RGB")
    if "jpeg" in p:
        pil.save(buf, format="JPEG", quality=p["jpeg"]["quality"])
        ext = "jpg"
    else:
        pil.save(buf, format="PNG", compress_level=3)
        ext = "png"
    return buf.getvalue(), ext, p, _tags(p)


# --------------------------------------------------------------------------------------
# Corpus


def make_sample(seed: int, index: int, doc_type: str | None = None) -> Sample:
    """Sample ``index`` of the corpus for ``seed`` (independent of every other index)."""
    rng = np.random.default_rng([seed, index])
    doc_type = doc_type or DOC_TYPES[index % len(DOC_TYPES)]
    lines = random_mrz(rng, doc_type)
    data, ext, params, tags = render_capture(lines, doc_type, rng)
    return Sample(index=index, doc_type=doc_type, lines=lines, data=data, ext=ext, params=params,
                  tags=tags)


def iter_samples(n: int, seed: int = 0,
                 doc_types: Sequence[str] = DOC_TYPES) -> Iterator[Sample]:
    """Yield ``n`` samples one at a time (a benchmark need not hold them all in memory)."""
    for i in range(n):
        yield make_sample(seed, i, doc_types[i % len(doc_types)])


def generate(n: int, seed: int = 0, doc_types: Sequence[str] = DOC_TYPES) -> list[Sample]:
    """``n`` samples cycling through ``doc_types``; the same seed gives the same bytes."""
    return list(iter_samples(n, seed, doc_types))


def random_mrzs(n: int, seed: int = 0, doc_types: Sequence[str] = DOC_TYPES) -> list[tuple[str, list[str]]]:
    """Text only (no rendering, no font needed): ``(doc_type, lines)`` pairs."""
    out = []
    for i in range(n):
        doc_type = doc_types[i % len(doc_types)]
        out.append((doc_type, random_mrz(np.random.default_rng([seed, i]), doc_type)))
    return out


def ground_truth_entry(sample: Sample, subdir: str = "images") -> dict[str, Any]:
    """One record in the shape of the shared ``mrz/ground_truth.json`` (plus our parameters)."""
    return {
        "file": f"{subdir}/{sample.filename}",
        "image_size": sample.params["image_size"],
        "doc_type": sample.doc_type,
        "lines": sample.lines,
        "line_lengths": [len(line) for line in sample.lines],
        "check_digits_valid": True,
        "degradations": list(sample.tags),
        "params": sample.params,
        "source": "proofing.mrz.synth",
    }


def write_corpus(directory: str | Path, n: int, seed: int = 0,
                 doc_types: Sequence[str] = DOC_TYPES) -> Path:
    """Write ``images/synth_NNNNN.{png,jpg}`` and ``ground_truth.json``; returns the JSON path."""
    root = Path(directory)
    (root / "images").mkdir(parents=True, exist_ok=True)
    entries = []
    for sample in iter_samples(n, seed, doc_types):
        (root / "images" / sample.filename).write_bytes(sample.data)
        entries.append(ground_truth_entry(sample))
    path = root / "ground_truth.json"
    path.write_text(json.dumps(entries, indent=1) + "\n")
    return path
