"""Allow ``python -m discrete_nets``."""

from discrete_nets._cli import main

raise SystemExit(main())
