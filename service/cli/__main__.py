"""``python -m service.cli``: the ``musicprism`` command."""

from service.cli import main

raise SystemExit(main())
