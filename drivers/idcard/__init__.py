"""ID-card reader: ICAO 9303 eMRTDs (Kyrgyz ID cards and passports) over PC/SC.

The seam is ``base`` (``CardReader``, ``CardStatus``, ``PcscTransport``,
``DirectTransport``); ``mrz`` and ``mrz_reader`` give the BAC keys;
``icao``, ``bac``, ``sm``, ``apdu`` and ``lds`` speak the chip protocol;
``passive_auth`` checks EF.SOD; ``emulator`` and ``vpcd`` are the simulated
chip, in-process or behind real pcscd.
"""
