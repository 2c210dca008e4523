"""The count role: the automatic ballot box.

``ballots/`` reads a sheet (layout, marks, validity rules), ``tally`` and ``store``
keep the count (one transaction per sheet, no order that follows scan order),
``protocol_body`` and ``nist`` are the pure results protocol, ``protocol`` signs,
stores and exports it, ``zero_report`` opens the day, ``daemon`` runs the sheet
loop on the devices ``devices`` makes, and ``role`` is what the CLI calls.
"""
