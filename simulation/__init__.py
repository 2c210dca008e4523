"""Simulated election days: the simulated table and ballot box, the demo, test decks,
the demo authority and election, the fault proxy. Only the CLI imports it (demo, --sim)."""
