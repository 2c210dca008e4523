"""The plumbing every package shares: clock, SQLite, atomic file writes, the file layout, the root error.

Imports nothing of ours (ARCHITECTURE.md "Packages and the direction of imports").
"""
