"""``python -m fastnn``: the same as the ``fastnn`` console script."""
from .cli import main

raise SystemExit(main())
