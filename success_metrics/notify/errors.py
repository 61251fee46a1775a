"""Errors of alerting and reports; their HTTP status is decided in success_metrics/server/problems.py.

    AlertingError
    ├── RuleInvalid        a rule document failed its JSON Schema (422; carries every error with a pointer)
    ├── UnknownRule        no rule of that id for the tenant (404)
    ├── DefaultRuleKept    a built-in rule cannot be deleted, only disabled (409)
    └── ChannelInvalid     a notification channel or report schedule is not usable as given (422)
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class AlertingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleInvalid(AlertingError):
    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class UnknownRule(AlertingError):
    pass


class DefaultRuleKept(AlertingError):
    pass


class ChannelInvalid(AlertingError):
    pass


def validated(model: type[M], document: Any, what: str) -> M:
    """``document`` as ``model``, or ChannelInvalid naming each bad field (the first five) and why."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        where = "; ".join(f"/{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ChannelInvalid(f"The {what} does not validate: {where}") from None
