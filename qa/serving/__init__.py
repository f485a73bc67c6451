"""The web chat and the JSON API over one index, and what they render.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
