"""Ballot scanners: the seam (base.py), SANE's scanimage (sane_scanner.py), a simulator (simulator.py)."""
