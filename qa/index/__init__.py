"""The index on disk and search over it: segments, the commit point, views, merges, the `Index` coordinator (`qa.index.coordinator.coordinator`) and Ray builds.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
