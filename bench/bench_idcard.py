"""ID-card read time: BAC + secure messaging + EF.COM, DG1, DG2, EF.SOD + passive authentication.

Measures, on this machine, with a Kyrgyz TD1 test card and a face photo of
``--photo-kb`` KB (noise JPEG, about the size of a 19794-5 portrait):

1. the emulator in-process (``DirectTransport``): the driver's own cost
   (3DES, retail MAC, TLV, CMS verification) - p50/p95 ms;
2. the emulator behind real pcscd through vsmartcard-vpcd (``PcscTransport``):
   what the PC/SC stack adds - p50/p95 ms, and ms per APDU. Starts pcscd
   (``--foreground --auto-exit``) when none runs and stops it afterwards;
   skipped with a note when pcscd or vpcd is missing, or with ``--no-pcscd``.

``chip_read_ms`` covers the reader's card session (connect to disconnect);
passive authentication is timed separately. A real contactless chip is slower
than both (106-848 kbit/s air interface, chip crypto): these figures are
the software's share.

Run: ``.venv/bin/python bench/bench_idcard.py [--quick] [--reads N] [--photo-kb KB]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from drivers.idcard.base import CardReader, CardStatus, DirectTransport, PcscTransport  # noqa: E402
from drivers.idcard.emulator import EmrtdEmulator, make_test_pki  # noqa: E402
from drivers.idcard.mrz import format_td1  # noqa: E402
from drivers.idcard.passive_auth import passive_authentication  # noqa: E402
from drivers.idcard.vpcd import VpcdLink  # noqa: E402


def face_photo(kb: int) -> bytes:
    size, quality = 120, 75
    while True:
        buf = io.BytesIO()
        Image.effect_noise((size, int(size * 1.25)), 40).convert("RGB").save(
            buf, "JPEG", quality=quality)
        if len(buf.getvalue()) >= kb * 1024:
            return buf.getvalue()
        size += 20


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return f"p50 {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms   (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few reads (smoke run)")
    parser.add_argument("--reads", type=int, default=30, help="reads per transport")
    parser.add_argument("--photo-kb", type=int, default=15, help="face photo size in KB")
    parser.add_argument("--no-pcscd", action="store_true", help="skip the pcscd measurement")
    args = parser.parse_args()
    reads = 5 if args.quick else args.reads

    pki = make_test_pki("KG")
    lines = format_td1(document_type="ID", issuing_state="KGZ", document_number="ID1234567",
                       optional_data="22001199000123", birth_date=dt.date(1990, 1, 22),
                       sex="F", expiry_date=dt.date(2031, 5, 1), nationality="KGZ",
                       surname="Asanova", given_names="Aigul")
    photo = face_photo(args.photo_kb)
    print(f"card: TD1 ID card, DG2 photo {len(photo) / 1024:.1f} KB, EC P-256 document signer")

    chip = EmrtdEmulator(lines, photo, pki)
    reader = CardReader(DirectTransport(chip))
    session_ms, total_ms, pa_ms = [], [], []
    for _ in range(reads):
        chip.log.clear()
        t0 = time.perf_counter()
        doc = reader.read_document(chip.mrz.bac_key, trust=[pki.csca_pem])
        total_ms.append((time.perf_counter() - t0) * 1000)
        session_ms.append(doc.chip_read_ms)
        assert doc.passive_auth.ok and doc.face_image == photo
    apdus = len(chip.log)
    sod = chip.files[0x011D]
    dgs = {1: chip.files[0x0101], 2: chip.files[0x0102]}
    for _ in range(reads):
        t0 = time.perf_counter()
        passive_authentication(sod, dgs, [pki.csca_pem])
        pa_ms.append((time.perf_counter() - t0) * 1000)
    print(f"APDUs per read: {apdus}")
    print(f"direct  card session     {percentiles(session_ms)}")
    print(f"direct  read + passive   {percentiles(total_ms)}")
    print(f"passive authentication   {percentiles(pa_ms)}")

    if args.no_pcscd:
        return 0
    pcscd = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists()
                                      else None)
    if pcscd is None or not Path("/etc/reader.conf.d/vpcd").exists():
        print("pcscd: skipped (pcscd or vsmartcard-vpcd not installed)")
        return 0
    transport = PcscTransport(reader="Virtual PCD 00 00")
    process = None
    if transport.status() is CardStatus.DISCONNECTED:
        process = subprocess.Popen([pcscd, "--foreground", "--auto-exit"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while transport.status() is CardStatus.DISCONNECTED and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        chip = EmrtdEmulator(lines, photo, pki)
        with VpcdLink(chip) as link:
            t0 = time.perf_counter()
            link.wait_until_inserted(transport)
            inserted_ms = (time.perf_counter() - t0) * 1000
            reader = CardReader(transport)
            session_ms, total_ms = [], []
            for _ in range(reads):
                t0 = time.perf_counter()
                doc = reader.read_document(chip.mrz.bac_key, trust=[pki.csca_pem])
                total_ms.append((time.perf_counter() - t0) * 1000)
                session_ms.append(doc.chip_read_ms)
                assert doc.passive_auth.ok and doc.face_image == photo
        print(f"pcscd   card seen after  {inserted_ms:7.1f} ms (vpcd link to READY)")
        print(f"pcscd   card session     {percentiles(session_ms)}")
        print(f"pcscd   read + passive   {percentiles(total_ms)}")
        print(f"pcscd   per APDU         {statistics.median(session_ms) / apdus:7.2f} ms")
    finally:
        transport.close()
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
