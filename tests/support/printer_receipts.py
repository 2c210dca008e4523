"""Sample documents shared by the printer tests (Kyrgyz and Russian, as printed)."""

from drivers.printer.base import Align, Cut, Document, Heading, QrCode, Row, Rule, Space, Text

KYRGYZ_LETTERS = "Ң ң Ө ө Ү ү"


def identification_receipt() -> Document:
    return Document(
        [
            Heading("Шайлоо участкасы № 1234"),
            Text("Идентификация дүбүртү / Квитанция идентификации", size=20, align=Align.CENTER),
            Rule(),
            Row("Дүбүрт № / № квитанции", "000123"),
            Row("Убакыт / Время", "2026-11-22 10:42"),
            Row("Бюллетендер / Бюллетени", "Жогорку Кеңеш; Жергиликтүү кеңеш — Бишкек шаардык"),
            Text(f"Тамгалар: {KYRGYZ_LETTERS}", bold=True),
            Rule(dashed=True),
            QrCode("UCH-1234-000123-7F3A9C"),
            Text("Текшерүү коду / Код проверки: 7F3A-9C21", size=18, align=Align.CENTER),
            Space(24),
        ],
        title="receipt 000123",
    )


def two_piece_document() -> Document:
    return identification_receipt().add(Cut(), Heading("Копия"), Text("Экинчи бөлүк"))


def tall_document(lines: int = 60) -> Document:
    """Taller than python-escpos' 960-dot fragment: sent as several GS v 0 images."""
    return Document([Text(f"{i:03d} Өкүлдөрдүн тизмеси / список") for i in range(lines)])
