"""Errors with stable codes and translatable messages; each edge turns them into a reply in one place."""

from __future__ import annotations

from typing import Any

from intake.i18n import N_


class PhananhError(Exception):
    """Root of the project's errors: a stable code and an English msgid to translate."""

    code = "error"
    message = N_("Something went wrong. Please try again.")

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.params = params


class ConfigurationError(PhananhError):
    code = "configuration"
    message = N_("The service is not configured correctly.")


class NotFoundError(PhananhError):
    code = "not_found"
    message = N_("Not found.")


class PermissionDeniedError(PhananhError):
    code = "permission_denied"
    message = N_("You do not have permission to do this.")


class InvalidInputError(PhananhError):
    code = "invalid_input"
    message = N_("The input is not valid.")


class InvalidTransitionError(PhananhError):
    code = "invalid_transition"
    message = N_("This action is not possible in the case's current status.")


class RateLimitedError(PhananhError):
    code = "rate_limited"
    message = N_("Too many requests. Please wait a moment and try again.")
