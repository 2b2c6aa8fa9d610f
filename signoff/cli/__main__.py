"""`python -m signoff.cli`."""

from signoff.cli.entry import main

main()
