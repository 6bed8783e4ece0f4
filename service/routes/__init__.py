"""Routers by area: applicant, auth, review, admin, ops (health, metrics, keys) and pages."""
