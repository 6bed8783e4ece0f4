"""pipeline stage (see ../shared/ARCHITECTURE.md)."""
