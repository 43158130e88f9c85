"""What a form on a page with actions reads: its token, and the last submission's input and errors.

A page declares ``Query(name="form", call=engine.form_state, result=engine.FormState)`` and its
fragments render ``form.token`` into a hidden ``_token`` field, ``form.values`` back into the
inputs and ``form.errors`` beside them. On a GET the values and errors are empty; on a 422 the
engine re-renders the page with the submitted input and the errors of its validation.
"""

from __future__ import annotations

import msgspec

from .request import Request

__all__ = ["ACTION_FIELD", "TOKEN_COOKIE", "TOKEN_FIELD", "FormState", "Submission", "form_state"]

ACTION_FIELD = "_action"
"""The form field that names the action to run (``<button name="_action" value="add">``)."""
TOKEN_FIELD = "_token"
"""The form field that carries the form token (``form.token``)."""
TOKEN_HEADER = "x-engine-token"
"""Where a script (a JSON body) sends the form token instead."""
TOKEN_COOKIE = "engine_form_token"
"""The cookie the token is checked against (double submit: a cross-site page can read
neither)."""

SCOPE_TOKEN = "engine.form_token"
SCOPE_SUBMISSION = "engine.submission"


class Submission(msgspec.Struct, frozen=True, kw_only=True):
    """A submission that failed validation: what was sent, and what was wrong with it."""

    action: str
    values: dict[str, str]
    errors: dict[str, str]
    """Field name → message; an error about the whole input is under ``""``."""


class FormState(msgspec.Struct, frozen=True, kw_only=True):
    """What a page's forms render: the token, and the last submission's input and errors."""

    token: str = ""
    action: str | None = None
    """The action the failed submission asked for (None on a plain GET)."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}


def form_state(request: Request) -> FormState:
    """The query callable behind a page's forms (``call = "engine:form_state"``)."""
    token = request.scope_value(SCOPE_TOKEN)
    submission = request.scope_value(SCOPE_SUBMISSION)
    if not isinstance(submission, Submission):
        return FormState(token=token if isinstance(token, str) else "")
    return FormState(
        token=token if isinstance(token, str) else "",
        action=submission.action,
        values=dict(submission.values),
        errors=dict(submission.errors),
    )
