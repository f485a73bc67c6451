"""Files -> `Document`s: the per-format converters and what reading one file may cost.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
