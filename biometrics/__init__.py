"""The fingerprint engine: sensor image -> ISO/IEC 19794-2 template -> 1:1 score / 1:N search.

Public interface (see docs/biometrics.md):

* ``iso19794``: ``Minutia``, ``Template``, ``encode``, ``decode``, ``decode_views``
* ``extract``: ``extract(image, ppi=500) -> Extraction(template, quality, status, reason)``
  (any size; resampled to 500 ppi)
* ``match``: ``score``, ``Gallery.build(items).search(probe, top)``, ``Candidate``,
  ``decide``, ``decide_attempt`` (the two-finger rule), ``Decision``, ``Calibration``
  (``default_calibration``: real impostors; ``synthetic_calibration``: the demo's)
* ``synthetic``: ``SyntheticFinger(seed).impression(k)``, ``finger_seed``
* ``enrolment``: ``enrol(finger, impressions=(0, 1)) -> list[bytes]``
* ``files``: raw sensor dumps, images, records and galleries (``templates.csv``)
* ``errors``: ``BiometricsError``, ``TemplateError``, ``ImageError``, ``GalleryError``,
  ``CalibrationError``

Modules are imported explicitly (NumPy and OpenCV are heavy).
"""
