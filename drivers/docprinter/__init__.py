"""A4/A5 document printers: IPP/1.1 with PWG Raster pages, and a simulated IPP printer."""
