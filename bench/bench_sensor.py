"""Identify-table device figures: fingerprint image upload and receipt printing.

Measures, on this machine:

1. ZFM framing alone: encode a 256×288 4-bit image as data packets and parse
   it back (no I/O), per image and in MB/s.
2. A capture through the pty simulator (VfyPwd once, GenImg, UpImage: 288
   data packets of 128 bytes), unpaced: p50/p95 ms.
3. The same capture with the simulator pacing its answers like a UART at
   ``--baud`` (default 57,600: 10 bits per byte), against the wire time the
   bytes need. Skipped with ``--quick``.
4. A Kyrgyz/Russian identification receipt: render to 1 bit; render + ESC/POS
   + decode by the simulator (+ PNG and PDF files): p50/p95 ms.

Run: ``.venv/bin/python bench/bench_sensor.py [--quick] [--captures N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.fingerprint.base import SensorStatus, pack_image  # noqa: E402
from drivers.fingerprint.packets import (  # noqa: E402
    IMAGE_BYTES,
    PacketParser,
    ack_packet,
    data_packets,
    encode_packet,
)
from drivers.fingerprint.serial_sensor import ZfmSensor  # noqa: E402
from drivers.fingerprint.simulator import SensorSimulator, ridge_pattern  # noqa: E402
from drivers.printer.base import (  # noqa: E402
    Align,
    Document,
    Heading,
    QrCode,
    Row,
    Rule,
    Text,
    render,
)
from drivers.printer.simulator import SimulatedPrinter  # noqa: E402


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.2f} ms  p95 {p95:7.2f} ms  (n={len(ordered)})"


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def wire_bytes(chunk: int = 128) -> int:
    """Bytes of an UpImage answer: the ack and every data packet."""
    frames = [ack_packet(0)] + data_packets(bytes(IMAGE_BYTES), chunk)
    return sum(len(encode_packet(f)) for f in frames)


def bench_framing(n: int) -> None:
    image = pack_image(ridge_pattern())

    def round_trip() -> None:
        stream = b"".join(encode_packet(p) for p in data_packets(image))
        parser = PacketParser()
        got = b"".join(p.payload for p in parser.feed(stream))
        assert got == image

    samples = timed(round_trip, n)
    mb_s = IMAGE_BYTES / (statistics.median(samples) / 1000) / 1e6
    print(f"framing (encode+parse one image)      {percentiles(samples)}  {mb_s:.1f} MB/s")


def bench_capture(n: int, baud: int | None) -> list[float]:
    with SensorSimulator(pace_baud=baud) as sim, ZfmSensor(sim.port) as sensor:
        sim.place_finger(ridge_pattern())
        assert sensor.status() is SensorStatus.READY

        def capture() -> None:
            result = sensor.capture(deadline_s=1.0)
            assert result.status is SensorStatus.READY, result.detail

        return timed(capture, n)


def receipt() -> Document:
    return Document(
        [
            Heading("Шайлоо участкасы № 1234"),
            Text("Идентификация дүбүртү / Квитанция", align=Align.CENTER),
            Rule(),
            Row("Дүбүрт № / № квитанции", "000123"),
            Row("Убакыт / Время", "2026-11-22 10:42"),
            Row("Бюллетендер / Бюллетени", "Жогорку Кеңеш; Жергиликтүү кеңеш"),
            Rule(dashed=True),
            QrCode("UCH-1234-000123-7F3A9C"),
            Text("Код: 7F3A-9C21 · Ң ң Ө ө Ү ү", align=Align.CENTER),
        ]
    )


def bench_printer(n: int) -> None:
    doc = receipt()
    samples = timed(lambda: render(doc), n)
    print(f"receipt render (384 dots, 1 bit)      {percentiles(samples)}")
    with tempfile.TemporaryDirectory() as out:
        with SimulatedPrinter(out, write_pdf=False) as printer:
            samples = timed(lambda: printer.print_document(doc), n)
            print(f"receipt render+ESC/POS+decode+PNG     {percentiles(samples)}")
        with SimulatedPrinter(out) as printer:
            samples = timed(lambda: printer.print_document(doc), n)
            print(f"  … and the PDF too                   {percentiles(samples)}")
            height = printer.printed[-1].image.height
    print(f"  receipt size: 384 × {height} dots = {384 * height // 8:,} raster bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, no paced upload")
    parser.add_argument("--captures", type=int, default=None)
    parser.add_argument("--baud", type=int, default=57600)
    args = parser.parse_args()
    n = args.captures or (10 if args.quick else 50)

    print(
        f"UpImage answer on the wire: {wire_bytes():,} bytes "
        f"(image {IMAGE_BYTES:,} bytes in 288 data packets of 128)"
    )
    bench_framing(n)
    samples = bench_capture(n, None)
    print(f"capture through the pty, unpaced      {percentiles(samples)}")
    if not args.quick:
        paced = bench_capture(2, args.baud)
        wire_s = wire_bytes() * 10 / args.baud
        print(
            f"capture at {args.baud} baud emulated  {percentiles(paced)}  "
            f"(wire time alone {wire_s * 1000:.0f} ms)"
        )
    bench_printer(n)


if __name__ == "__main__":
    main()
