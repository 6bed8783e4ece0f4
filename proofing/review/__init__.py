"""review stage (see ../shared/ARCHITECTURE.md)."""
