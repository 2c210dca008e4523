"""`python -m station.cli`: the same as the `uchastok` command."""

from station.cli import main

main()
