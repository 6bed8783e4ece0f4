"""face stage (see ../shared/ARCHITECTURE.md)."""
