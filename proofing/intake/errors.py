"""Errors of the applicant side; they extend the review errors so a front end maps both
the same way (NotFound -> 404, PermissionDenied -> 403, InvalidState -> 409)."""

from __future__ import annotations

from proofing.review.errors import ReviewError


class SessionExpired(ReviewError):
    """The session's upload window has closed (HTTP 410)."""

    code = "SESSION_EXPIRED"


class SessionBusy(ReviewError):
    """Another worker holds the session's processing lease; try again after it expires."""

    code = "SESSION_BUSY"


class UploadRejected(ReviewError):
    """An upload broke a limit or is not what it claims; ``status`` is the HTTP status to
    answer (413 too large / too many, 415 wrong type, 422 undecodable or too many pixels)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
