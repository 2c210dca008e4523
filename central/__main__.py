"""``python -m central --db FILE --port N --key ACK.key --trust PROV.pub``: run the receiver.

The same as ``uchastok receiver serve`` without the station CLI around it
(used by the kill -9 tests and the benchmark, which start it as a process).
"""

import argparse
import logging

from central.server import serve


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
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    serve(a.db, a.host, a.port, a.key, a.trust, election=a.election, package_dir=a.package_dir,
          stations=a.stations, tls_cert=a.tls_cert, tls_key=a.tls_key)


if __name__ == "__main__":
    main()
