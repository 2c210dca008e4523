"""`python -m cli`: the same as the `uchastok` command."""

from cli import main

main()
