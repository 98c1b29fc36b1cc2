"""``python -m rdg`` is the same as the ``rdg`` command."""

from rdg.cli import main

main()
