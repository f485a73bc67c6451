"""The models qa runs: the document and question encoders and the reader it trains.

Nothing is imported here: import the modules themselves (see docs/architecture.md)."""
