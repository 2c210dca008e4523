"""Ballots: layouts (layout.py), validity rules (rules.py), reading (interpret.py, reading.py),
the L&A test deck (deck.py). See docs/ballots.md."""
