"""Fingerprint sensor: ``base`` (the seam: SensorStatus, Capture, FingerprintSensor),
``packets`` (pure ZFM/R30x framing), ``serial_sensor`` (ZfmSensor over pyserial) and
``simulator`` (SensorSimulator on a pty, with failure presets)."""
