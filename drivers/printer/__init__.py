"""Receipt printers: ESC/POS over serial or USB, documents as 1-bit raster, a simulator."""

import os
import tempfile

# python-escpos creates a new temporary directory for its capabilities cache on every import
# unless told where to keep it: one directory, reused.
_cache = os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR",
                               os.path.join(tempfile.gettempdir(), "uchastok-escpos-capabilities"))
os.makedirs(_cache, exist_ok=True)
