"""Allow ``python -m delaunay_thumb``."""

from delaunay_thumb._cli import main

raise SystemExit(main())
