"""Printable documents and their rendering to a 1-bit raster.

A ``Document`` is a list of blocks: ``Heading``, ``Text``, ``Row`` (two
columns, key left and value right), ``Rule``, ``QrCode`` (drawn as an image,
never the printer's native QR command), ``Picture``, ``Space`` and ``Cut``.
``render(document, width_dots)`` draws it with DejaVu Sans into a Pillow
image of mode "1" (1 = white paper, 0 = black dot), ``width_dots`` wide and
as tall as the content; ``render_pages`` returns one image per piece between
``Cut`` blocks (a trailing cut is implied).

Why a raster: no common printer code page holds the Kyrgyz letters Ң ң Ө ө
Ү ү (python-escpos prints ``?`` for them), while the font has them all, so
every receipt prints as a picture (FIELD-NOTES "Receipt printers and Kyrgyz
letters"). Rendering is deterministic: the same document and width give the
same pixels, which the printer simulator's golden tests rely on.

Sizes are font pixel heights in dots (a 58 mm printer has 8 dots per mm);
``scale`` multiplies them for a wider medium (an A4 page at 200 dpi is about
1,650 dots wide). Text wraps at spaces; a word wider than the line breaks
between letters.

Example::

    doc = Document([
        Heading("Шайлоо участкасы № 1234"),
        Row("Дүбүрт / Квитанция", "000123"),
        Rule(),
        QrCode("UCH-1234-000123-7F3A"),
    ])
    render(doc).save("receipt.png")
    save_pdf(doc, "receipt.pdf")
"""

from __future__ import annotations

import enum
import functools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = "DejaVuSans.ttf"
FONT_BOLD = "DejaVuSans-Bold.ttf"
WIDTH_58MM = 384
WHITE, BLACK = 1, 0


class Align(enum.Enum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True)
class Heading:
    text: str
    size: int = 30
    align: Align = Align.CENTER


@dataclass(frozen=True)
class Text:
    """One or more lines (``\\n`` separates paragraphs), wrapped to the width."""

    text: str
    size: int = 22
    bold: bool = False
    align: Align = Align.LEFT


@dataclass(frozen=True)
class Row:
    """Key on the left, value on the right; if they do not fit on one line
    the value goes right-aligned under the key."""

    key: str
    value: str
    size: int = 22
    bold_value: bool = True


@dataclass(frozen=True)
class Rule:
    thickness: int = 2
    dashed: bool = False


@dataclass(frozen=True)
class QrCode:
    data: str
    module_dots: int = 4
    error: str = "m"
    align: Align = Align.CENTER


@dataclass(frozen=True)
class Picture:
    """Any Pillow image; reduced to fit the width, then dithered to 1 bit."""

    image: Image.Image
    align: Align = Align.CENTER


@dataclass(frozen=True)
class Space:
    dots: int = 16


@dataclass(frozen=True)
class Cut:
    pass


Block = Heading | Text | Row | Rule | QrCode | Picture | Space | Cut


@dataclass
class Document:
    blocks: list[Block] = field(default_factory=list)
    title: str = ""

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self


@functools.lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / (FONT_BOLD if bold else FONT_REGULAR)), size)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` dots."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if face.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            # A word wider than the line is broken between letters.
            line = ""
            for letter in word:
                if line and face.getlength(line + letter) > width:
                    lines.append(line)
                    line = ""
                line += letter
        lines.append(line)
    return lines


class _Canvas:
    """Stacks horizontal strips of a fixed width."""

    def __init__(self, width: int, margin: int) -> None:
        self.width = width
        self.margin = margin
        self.inner = width - 2 * margin
        self.strips: list[Image.Image] = []

    def strip(self, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        image = Image.new("1", (self.width, max(1, height)), WHITE)
        self.strips.append(image)
        return image, ImageDraw.Draw(image)

    def x_for(self, align: Align, content_width: float) -> int:
        if align is Align.CENTER:
            return self.margin + int((self.inner - content_width) // 2)
        if align is Align.RIGHT:
            return self.margin + int(self.inner - content_width)
        return self.margin

    def text_lines(self, lines: list[str], face, align: Align) -> None:
        ascent, descent = face.getmetrics()
        line_height = int((ascent + descent) * 1.1)
        _, draw = self.strip(line_height * len(lines))
        for i, line in enumerate(lines):
            draw.text(
                (self.x_for(align, face.getlength(line)), i * line_height),
                line,
                font=face,
                fill=BLACK,
            )

    def image(self) -> Image.Image:
        height = sum(s.height for s in self.strips) or 1
        out = Image.new("1", (self.width, height), WHITE)
        y = 0
        for s in self.strips:
            out.paste(s, (0, y))
            y += s.height
        return out


def _qr_image(block: QrCode) -> Image.Image:
    code = segno.make_qr(block.data, error=block.error)
    modules = np.array([list(row) for row in code.matrix], dtype=np.uint8)
    modules = np.pad(modules, 4)  # the quiet zone a phone camera needs
    dots = np.kron(modules, np.ones((block.module_dots, block.module_dots), dtype=np.uint8))
    return Image.fromarray(np.where(dots == 1, 0, 255).astype(np.uint8)).convert("1")


def _draw(canvas: _Canvas, block: Block, scale: float) -> None:
    def sized(size: int) -> int:
        return max(6, round(size * scale))

    if isinstance(block, Heading):
        face = font(sized(block.size), bold=True)
        canvas.text_lines(wrap(block.text, face, canvas.inner), face, block.align)
    elif isinstance(block, Text):
        face = font(sized(block.size), bold=block.bold)
        canvas.text_lines(wrap(block.text, face, canvas.inner), face, block.align)
    elif isinstance(block, Row):
        key_face = font(sized(block.size))
        value_face = font(sized(block.size), bold=block.bold_value)
        gap = key_face.getlength("  ")
        key_w, value_w = key_face.getlength(block.key), value_face.getlength(block.value)
        if "\n" not in block.key + block.value and key_w + gap + value_w <= canvas.inner:
            ascent, descent = key_face.getmetrics()
            _, draw = canvas.strip(int((ascent + descent) * 1.1))
            draw.text((canvas.margin, 0), block.key, font=key_face, fill=BLACK)
            draw.text(
                (canvas.x_for(Align.RIGHT, value_w), 0), block.value, font=value_face, fill=BLACK
            )
        else:
            canvas.text_lines(wrap(block.key, key_face, canvas.inner), key_face, Align.LEFT)
            canvas.text_lines(wrap(block.value, value_face, canvas.inner), value_face, Align.RIGHT)
    elif isinstance(block, Rule):
        thickness = max(1, round(block.thickness * scale))
        _, draw = canvas.strip(thickness + 8)
        y0, y1 = 4, 4 + thickness - 1
        if block.dashed:
            for x in range(canvas.margin, canvas.width - canvas.margin, 12):
                draw.rectangle(
                    (x, y0, min(x + 5, canvas.width - canvas.margin - 1), y1), fill=BLACK
                )
        else:
            draw.rectangle((canvas.margin, y0, canvas.width - canvas.margin - 1, y1), fill=BLACK)
    elif isinstance(block, QrCode | Picture):
        image = _qr_image(block) if isinstance(block, QrCode) else block.image
        if image.width > canvas.inner:
            height = max(1, round(image.height * canvas.inner / image.width))
            image = image.convert("L").resize((canvas.inner, height), Image.Resampling.LANCZOS)
        if image.mode != "1":
            # Transparent parts are paper.
            if image.mode in ("RGBA", "LA", "P"):
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image.convert("RGBA"))
            image = image.convert("L").convert("1")
        strip, _ = canvas.strip(image.height)
        strip.paste(image, (canvas.x_for(block.align, image.width), 0))
    elif isinstance(block, Space):
        canvas.strip(max(1, round(block.dots * scale)))
    else:
        raise TypeError(f"not a document block: {block!r}")


def render_pages(
    document: Document, width_dots: int = WIDTH_58MM, *, margin_dots: int = 8, scale: float = 1.0
) -> list[Image.Image]:
    """One mode-"1" image per piece of paper (pieces end at ``Cut`` blocks)."""
    if width_dots < 2 * margin_dots + 16:
        raise ValueError(f"width of {width_dots} dots leaves no room inside the margins")
    pages: list[Image.Image] = []
    canvas = _Canvas(width_dots, margin_dots)
    for block in document.blocks:
        if isinstance(block, Cut):
            pages.append(canvas.image())
            canvas = _Canvas(width_dots, margin_dots)
        else:
            _draw(canvas, block, scale)
    if canvas.strips or not pages:
        pages.append(canvas.image())
    return pages


def render(
    document: Document, width_dots: int = WIDTH_58MM, *, margin_dots: int = 8, scale: float = 1.0
) -> Image.Image:
    """The whole document as one mode-"1" image (pieces stacked as printed)."""
    pages = render_pages(document, width_dots, margin_dots=margin_dots, scale=scale)
    if len(pages) == 1:
        return pages[0]
    out = Image.new("1", (width_dots, sum(p.height for p in pages)), WHITE)
    y = 0
    for page in pages:
        out.paste(page, (0, y))
        y += page.height
    return out


def _replace_atomically(path: str | os.PathLike, write) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_png(
    document: Document, path: str | os.PathLike, width_dots: int = WIDTH_58MM, **options
) -> Path:
    """Render ``document`` to one PNG (pieces stacked), written atomically."""
    image = render(document, width_dots, **options)
    return _replace_atomically(path, lambda out: image.save(out, format="PNG"))


def save_pdf(
    document: Document,
    path: str | os.PathLike,
    width_dots: int = WIDTH_58MM,
    *,
    dpi: float = 203.0,
    **options,
) -> Path:
    """Render ``document`` to a PDF, one PDF page per piece of paper, at ``dpi``."""
    pages = render_pages(document, width_dots, **options)
    return save_pages_pdf(pages, path, dpi=dpi, title=document.title)


def save_pages_pdf(
    pages: list[Image.Image], path: str | os.PathLike, *, dpi: float = 203.0, title: str = ""
) -> Path:
    def write(out) -> None:
        pages[0].save(
            out,
            format="PDF",
            save_all=True,
            append_images=pages[1:],
            resolution=dpi,
            title=title or None,
        )

    return _replace_atomically(path, write)
