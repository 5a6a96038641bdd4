"""Allow ``python -m mulfree_quant``."""

from mulfree_quant._cli import main

raise SystemExit(main())
