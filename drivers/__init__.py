"""Hardware drivers. Imports nothing of ours: each device kind has a seam, a real driver and a simulator."""
