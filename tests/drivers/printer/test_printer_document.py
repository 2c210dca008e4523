"""Rendering documents to 1-bit rasters: Kyrgyz letters, wrapping, QR codes, pieces, files."""

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from printer_receipts import identification_receipt, tall_document, two_piece_document

from drivers.printer.base import (
    Align,
    Cut,
    Document,
    Heading,
    Picture,
    QrCode,
    Row,
    Rule,
    Space,
    Text,
    render,
    render_pages,
    save_pdf,
    save_png,
)
from drivers.printer.document import font, wrap


def ink(image: Image.Image) -> np.ndarray:
    return np.array(image.convert("L")) == 0


def test_render_is_a_one_bit_image_of_the_paper_width():
    image = render(identification_receipt())
    assert image.mode == "1" and image.width == 384 and image.height > 200


def test_render_is_deterministic():
    assert render(identification_receipt()).tobytes() == render(identification_receipt()).tobytes()


@pytest.mark.parametrize(
    "letter,lookalike", [("Ң", "Н"), ("ң", "н"), ("Ө", "О"), ("ө", "о"), ("Ү", "У"), ("ү", "у")]
)
def test_kyrgyz_letters_are_drawn_not_replaced(letter, lookalike):
    drawn = ink(render(Document([Text(letter, size=40)])))
    assert drawn.any()
    assert not np.array_equal(drawn, ink(render(Document([Text(lookalike, size=40)]))))
    assert not np.array_equal(drawn, ink(render(Document([Text("?", size=40)]))))


@pytest.mark.parametrize("width", [384, 576, 1654], ids=["58mm", "80mm", "A4-200dpi"])
def test_width_is_a_parameter(width):
    image = render(identification_receipt(), width)
    assert image.width == width
    assert not ink(image)[:, :8].any() and not ink(image)[:, -8:].any()  # margins stay blank


def test_scale_grows_text_for_wide_media():
    small = render(Document([Text("Бюллетень")]), 1654)
    large = render(Document([Text("Бюллетень")]), 1654, scale=3)
    assert large.height > 2 * small.height


@pytest.mark.parametrize(
    "text",
    [
        "Бул абдан узун сүйлөм, ал бир нече сапка бөлүнүшү керек, анткени кагаз тар.",
        "Өтөузунсөзбөлүнбөгөнсөзөтөузунсөзбөлүнбөгөнсөзөтөузунсөз",
        "бир\nэки\n\nүч",
    ],
    ids=["sentence", "one-long-word", "newlines"],
)
def test_wrapped_lines_fit_inside_the_margins(text):
    face = font(22)
    lines = wrap(text, face, 368)
    assert all(face.getlength(line) <= 368 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_row_on_one_line_or_value_under_key():
    short = render(Document([Row("Дүбүрт", "000123")]))
    long = render(Document([Row("Бюллетендер / Бюллетени", "Жогорку Кеңеш; Жергиликтүү кеңеш")]))
    assert long.height >= 2 * short.height
    # The value of a short row sits at the right edge.
    assert ink(short)[:, 300:376].any()


def test_qr_code_is_drawn_and_readable():
    image = render(Document([QrCode("UCH-1234-000123-7F3A9C")])).convert("L")
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == ["UCH-1234-000123-7F3A9C"]


def test_pictures_are_fitted_and_dithered():
    photo = Image.linear_gradient("L").resize((600, 100))
    image = render(Document([Picture(photo), Picture(Image.new("RGBA", (50, 50)), Align.LEFT)]))
    assert image.width == 384 and image.mode == "1"
    assert ink(image).any()


def test_rules_spaces_and_headings_take_room():
    heights = [render(Document([b])).height for b in (Rule(), Space(40), Heading("Ү"))]
    assert heights[1] == 40 and all(h > 0 for h in heights)


def test_cut_splits_the_document_into_pieces():
    pages = render_pages(two_piece_document())
    assert len(pages) == 2
    assert render(two_piece_document()).height == sum(p.height for p in pages)
    assert len(render_pages(Document([Text("a"), Cut()]))) == 1


def test_empty_document_is_one_blank_line():
    (page,) = render_pages(Document())
    assert page.size == (384, 1) and not ink(page).any()


def test_too_narrow_width_is_refused():
    with pytest.raises(ValueError):
        render(Document([Text("x")]), 20)


def test_unknown_block_is_refused():
    with pytest.raises(TypeError):
        render(Document(["just a string"]))


def test_png_and_pdf_files(tmp_path):
    png = save_png(identification_receipt(), tmp_path / "receipt.png")
    assert Image.open(png).size == render(identification_receipt()).size
    pdf = save_pdf(two_piece_document(), tmp_path / "receipt.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/Count 2" in data  # one PDF page per piece
    assert sorted(p.name for p in tmp_path.iterdir()) == ["receipt.pdf", "receipt.png"]


def test_tall_document_renders_in_one_piece():
    assert len(render_pages(tall_document())) == 1
    assert render(tall_document()).height > 960
