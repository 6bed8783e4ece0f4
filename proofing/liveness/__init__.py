"""liveness stage (see ../shared/ARCHITECTURE.md)."""
