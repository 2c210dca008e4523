"""The identify role: the identification table.

``voters`` and ``store`` hold the list (identify.db), ``eligibility`` and ``rules``
decide (pure), ``identifier`` runs the one transaction per identification,
``receipts`` prints, ``daemon`` runs the table on the devices ``devices`` makes.
"""
