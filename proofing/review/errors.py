"""Errors of the review store, one class per thing a caller reacts to differently."""

from __future__ import annotations


class ReviewError(Exception):
    """Base class: the request was understood and refused."""


class NotFound(ReviewError):
    pass


class PermissionDenied(ReviewError):
    """The user's role does not allow the action (or the user is unknown)."""


class LeaseError(ReviewError):
    """The reviewer does not hold a live claim on the case."""


class InvalidState(ReviewError):
    """The case is not in a state that allows the action (e.g. decided twice differently)."""


class FourEyesError(ReviewError):
    """A reviewer tried to confirm their own override of the machine's REJECT."""
