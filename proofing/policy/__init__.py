"""policy stage (see ../shared/ARCHITECTURE.md)."""
