"""Definition checks of a page's actions, and the decoding of their input.

An action is server code a form runs (``schemas.Action``): its callable receives the decoded
input as ``data``, the request and response by annotation (``engine.Request``,
``engine.Response``) and resources by name, exactly as a query does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import msgspec

from schemas import Action, Page

from ..context.forms import form_state
from ..context.resources import Resources
from .inputs import context_arguments
from .nodes import Loop, QueryNode, Report, is_async, loop_of
from .signatures import describe, keyword_problems
from .suggest import did_you_mean

__all__ = ["DATA_ARGUMENT", "ActionNode", "InputError", "check_actions"]

DATA_ARGUMENT = "data"
"""The keyword argument an action's callable receives its decoded input as."""

_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)


class InputError(Exception):
    """The submitted input does not convert to the action's input type."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k or '$'}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@attrs.frozen
class ActionNode:
    index: int
    name: str
    call: Callable[..., Any]
    input: type[msgspec.Struct] | None
    invalidates: tuple[int, ...]
    resources: tuple[str, ...]
    context: Mapping[str, str]
    """Keyword arguments that receive the ``request`` or the ``response`` object."""
    is_async: bool
    loop: Loop = "trio"
    list_fields: frozenset[str] = attrs.field(
        init=False,
        default=attrs.Factory(lambda a: _list_fields(a.input), takes_self=True),
    )
    """Input fields of a sequence type: a repeated form field fills them."""
    blank_is_default: frozenset[str] = attrs.field(
        init=False,
        default=attrs.Factory(lambda a: _defaulted_non_text(a.input), takes_self=True),
    )
    """Optional fields that are not text: an empty form field leaves their default."""

    def decode_form(self, pairs: Sequence[tuple[str, str]]) -> msgspec.Struct | None:
        """The input from form fields, converted as query results are (raises InputError)."""
        if self.input is None:
            return None
        fields: dict[str, Any] = {}
        for key, value in pairs:
            if not value and key in self.blank_is_default:
                continue
            if key in self.list_fields:
                fields.setdefault(key, []).append(value)
            else:
                fields[key] = value
        return self._convert(lambda: msgspec.convert(fields, type=self.input, strict=False))

    def decode_json(self, body: bytes) -> msgspec.Struct | None:
        if self.input is None:
            return None
        return self._convert(lambda: msgspec.json.decode(body or b"{}", type=self.input))

    @staticmethod
    def _convert(decode: Callable[[], msgspec.Struct]) -> msgspec.Struct:
        try:
            return decode()
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise InputError(_field_errors(str(exc))) from None


def _list_fields(tp: type[msgspec.Struct] | None) -> frozenset[str]:
    if tp is None:
        return frozenset()
    info = msgspec.inspect.type_info(tp)
    assert isinstance(info, msgspec.inspect.StructType)
    return frozenset(f.encode_name for f in info.fields if isinstance(f.type, _SEQUENCES))


def _defaulted_non_text(tp: type[msgspec.Struct] | None) -> frozenset[str]:
    if tp is None:
        return frozenset()
    info = msgspec.inspect.type_info(tp)
    assert isinstance(info, msgspec.inspect.StructType)
    return frozenset(
        f.encode_name for f in info.fields if not f.required and not _takes_text(f.type)
    )


def _takes_text(tp: msgspec.inspect.Type) -> bool:
    if isinstance(tp, msgspec.inspect.UnionType):
        return any(_takes_text(t) for t in tp.types)
    return isinstance(tp, msgspec.inspect.StrType | msgspec.inspect.AnyType)


def _field_errors(message: str) -> dict[str, str]:
    """msgspec's message keyed by the top-level field it is about (``""`` for the whole)."""
    text, sep, where = message.rpartition(" - at `$")
    if sep:
        return {where.rstrip("`").lstrip(".").split(".")[0].split("[")[0]: text}
    _, sep, missing = message.partition("missing required field `")
    return {missing.rstrip("`") if sep else "": message}


def check_actions(
    page: Page,
    report: Report,
    query_index: Mapping[str, int],
    queries: Sequence[QueryNode | None],
    resources: Resources | None,
) -> tuple[ActionNode, ...]:
    """Check each action; a broken one is reported and left out."""
    seen: set[str] = set()
    built: list[ActionNode] = []
    for i, action in enumerate(page.actions):
        key = f"$.actions[{i}]"
        if action.name in seen:
            report.problem(
                "duplicate action name: give each action its own name",
                node=action.name,
                key=f"{key}.name",
            )
            continue
        seen.add(action.name)
        node = _check_action(i, action, report, query_index, queries, resources)
        if node is not None:
            built.append(node)
    return tuple(built)


def _check_action(
    i: int,
    action: Action,
    report: Report,
    query_index: Mapping[str, int],
    queries: Sequence[QueryNode | None],
    resources: Resources | None,
) -> ActionNode | None:
    key = f"$.actions[{i}]"
    name = action.name
    call = report.resolve_callable(action.call, node=name, key=f"{key}.call")
    tp = (
        None
        if action.input is None
        else report.resolve_type(action.input, node=name, key=f"{key}.input")
    )
    ok = call is not None and (action.input is None or tp is not None)
    if tp is not None and not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
        report.problem(
            f"input must be a msgspec Struct (the form's fields), not {tp!r}: declare"
            " `class MyInput(msgspec.Struct): ...` and name it",
            node=name,
            key=f"{key}.input",
        )
        ok = False
    invalidates: list[int] = []
    for j, target in enumerate(action.invalidates):
        where = f"{key}.invalidates[{j}]"
        if target not in query_index:
            report.problem(
                f"invalidates unknown query {target!r}{did_you_mean(target, query_index)}",
                node=name,
                key=where,
            )
            ok = False
            continue
        invalidates.append(query_index[target])
    for j, resource in enumerate(action.resources):
        if resources is None or resource not in resources.factories:
            known = "none" if resources is None else ", ".join(map(repr, resources.names))
            report.problem(
                f"needs resource {resource!r}, which is not declared (the page's resources:"
                f" {known}); add it to the page's engine.Resources or fix the name",
                node=name,
                key=f"{key}.resources[{j}]",
            )
            ok = False
    if call is None or not ok:
        return None
    context = context_arguments(call)
    given = (*((DATA_ARGUMENT,) if tp is not None else ()), *action.resources, *context)
    problems = keyword_problems(call, given)
    for message in problems:
        report.problem(
            f"callable {describe(call)} {message} (an action receives its input as"
            f" `{DATA_ARGUMENT}`, `request: engine.Request`, `response: engine.Response`"
            " and its declared resources by name)",
            node=name,
            key=f"{key}.call",
        )
    if problems:
        return None
    return ActionNode(
        index=i,
        name=name,
        call=call,
        input=tp,
        invalidates=tuple(invalidates),
        resources=action.resources,
        context=context,
        is_async=is_async(call),
        loop=loop_of(call),
    )


def form_queries(queries: Sequence[QueryNode]) -> tuple[str, ...]:
    """The queries that give a page's forms their state (``call = engine:form_state``): an
    action's response re-renders their fragments (fresh after a success, errors after a 422)."""
    return tuple(q.name for q in queries if q.call is form_state)
