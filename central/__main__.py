"""``python -m central --db FILE --port N --key ACK.key --trust PROV.pub``: run the receiver.

The same as ``uchastok receiver serve`` without the station CLI around it
(used by the kill -9 tests and the benchmark, which start it as a process).
It prints one JSON line, ``{"listening": URL, "workers": N}``, once the port
is bound (with ``--port 0``, the port the kernel chose).
"""

import argparse
import logging
import sys

from central.server import Limits, serve
from sync.errors import SyncError


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m central")
    ap.add_argument("--db", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8700)
    ap.add_argument("--key", required=True, help="ack signing key (PKCS#8 PEM)")
    ap.add_argument("--trust", required=True, help="provisioning authority public key")
    ap.add_argument("--election")
    ap.add_argument("--package-dir")
    ap.add_argument("--stations")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--workers", type=int, default=1, help="server processes sharing the port")
    ap.add_argument("--backlog", type=int, default=Limits.backlog, help="listen backlog")
    ap.add_argument("--operators", help="file of SHA-256 hashes of operator tokens")
    ap.add_argument("--no-portal", action="store_true", help="serve the API only")
    ap.add_argument("--downloads", help="where the portal writes its bulk file")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        serve(a.db, a.host, a.port, a.key, a.trust, election=a.election, package_dir=a.package_dir,
              stations=a.stations, tls_cert=a.tls_cert, tls_key=a.tls_key, workers=a.workers,
              backlog=a.backlog, operators=a.operators, portal=not a.no_portal,
              downloads=a.downloads)
    except SyncError as e:
        sys.exit(f"python -m central: {e}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
