"""Ballots: layouts (layout.py), validity rules (rules.py), reading (interpret.py, reading.py),
the election they come from (source.py). The L&A test deck is simulation/deck.py. See docs/ballots.md."""
