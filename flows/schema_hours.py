"""The working days and hours of ``_bot.yaml`` as a pydantic model (``flows.schema`` uses it),
with values refused in the owner's words."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from flows import hours as workhours
from flows.messages import msg


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _shaped(pattern: str, key: str) -> AfterValidator:
    """A value of an owner's form, refused in the owner's words (``svyaz check`` shows them:
    ``key`` is the catalogue's message, with the value as ``found``)."""

    def check(value: str) -> str:
        if re.fullmatch(pattern, value) is None:
            raise ValueError(msg(key, found=value))
        return value

    return AfterValidator(check)


WeekdayText = Annotated[
    str,
    _shaped(workhours.DAYS_PATTERN, "pattern.weekday"),
    WithJsonSchema({"type": "string", "pattern": workhours.DAYS_PATTERN}),
]
HoursText = Annotated[
    str,
    _shaped(workhours.HOURS_PATTERN, "pattern.hours"),
    WithJsonSchema({"type": "string", "pattern": workhours.HOURS_PATTERN}),
]


def _real_day(value: str) -> str:
    try:
        workhours.read(holidays=[value])
    except ValueError:
        raise ValueError(msg("pattern.no_such_day", found=value)) from None
    return value


HolidayText = Annotated[
    str,
    _shaped(workhours.HOLIDAY_PATTERN, "pattern.holiday"),
    AfterValidator(_real_day),
    WithJsonSchema({"type": "string", "pattern": workhours.HOLIDAY_PATTERN}),
]


class Working(_Strict):
    """Working days and hours of the business (``flows.hours``)."""

    days: list[WeekdayText] = Field(
        default_factory=list, description="e.g. [пн-пт, сб] (default: every day)"
    )
    hours: HoursText | None = Field(default=None, description="e.g. 10:00-20:00")
    holidays: list[HolidayText] = Field(
        default_factory=list, description="days off: 2026-01-01 (that day) or 08.03 (every year)"
    )

    @model_validator(mode="after")
    def _readable(self) -> Working:
        value = self.value()  # (each part was checked by its own type above)
        if value.closes is not None and value.closes <= value.opens:
            raise ValueError("часы работы: конец должен быть позже начала, например 10:00-20:00")
        return self

    def value(self) -> workhours.WorkingHours:
        return workhours.read(self.days, self.hours, self.holidays)
