"""Version of the package (single source of truth for builds and release tags)."""

__version__ = "0.1.0"
