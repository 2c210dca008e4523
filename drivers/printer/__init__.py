"""Receipt printer: ``base`` (the seam: PrinterStatus, PrintResult, Printer, and the
document blocks), ``document`` (rendering to 1-bit rasters, PNG and PDF files),
``escpos_printer`` (EscposPrinter over serial or USB via python-escpos) and
``simulator`` (SimulatedPrinter decoding the raster stream back to PNG and PDF)."""
