"""Allow ``python -m tti_probe``."""

from tti_probe._cli import main

raise SystemExit(main())
