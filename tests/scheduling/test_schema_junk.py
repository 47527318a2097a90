"""Any JSON in the scheduling schemas' hand-parsed fields is a ValidationError (a 422 naming the field),
never a TypeError (a 500): the served fuzz once found ``"weekdays": 0.0`` crashing ``POST /schedule``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features.scheduling import Agent, ScheduleOptions, ShiftTemplate

_T = {"name": "t", "length_minutes": 60, "earliest_start": "08:00", "latest_start": "10:00"}
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(weekdays=_JSON, start=_JSON, hours=_JSON, availability=_JSON)
def test_junk_is_a_validation_error(weekdays, start, hours, availability) -> None:
    cases = (
        (ShiftTemplate, {**_T, "weekdays": weekdays}),
        (ShiftTemplate, {**_T, "earliest_start": start}),
        (ScheduleOptions, {"opening_hours": hours}),
        (Agent, {"name": "a", "availability": availability}),
    )
    for kind, data in cases:
        try:
            kind.model_validate(data)
        except ValidationError:
            pass


def test_the_crashing_cases_name_their_field() -> None:
    for kind, data, field in (
        (ShiftTemplate, {**_T, "weekdays": 0.0}, "weekdays"),
        (ShiftTemplate, {**_T, "earliest_start": [8]}, "earliest_start"),
        (ShiftTemplate, {**_T, "earliest_start": float("inf")}, "earliest_start"),
        (ScheduleOptions, {"opening_hours": {"mon": 8}}, "opening_hours"),
        (Agent, {"name": "a", "availability": {"mon": [None, {}]}}, "availability"),
    ):
        try:
            kind.model_validate(data)
        except ValidationError as exc:
            assert exc.errors()[0]["loc"][0] == field, exc.errors()
        else:
            raise AssertionError(f"{data} was accepted")
