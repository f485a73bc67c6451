"""Documents -> sentences and chunks, as exact character spans.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
