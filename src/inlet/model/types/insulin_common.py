"""Pieces shared by basal, bolus and insulin records: durations, insulin formulations, and the checks
of an ``expected*`` value against the value actually delivered."""

from __future__ import annotations

from typing import Any

from inlet.model.errors import Errors
from inlet.model.fields import MISSING, Context, Rule
from inlet.model.types.insulin import FORMULATION as INSULIN_FORMULATION
from inlet.model.types.settings_common import check_exists as need
from inlet.model.types.settings_common import check_in_range as in_range

DURATION_WEEK_MS = 604_800_000
DURATION_DAY_MS = 86_400_000
RATE_MIN, RATE_MAX = 0.0, 100.0
DOSE_MIN, DOSE_MAX = 0.0, 100.0

FORMULATION = INSULIN_FORMULATION
"""``insulinFormulation`` of basal, bolus and pumpSettings: the platform's one ``insulin.Formulation``
(basal and bolus packages parse it with ``dataTypesInsulin.ParseFormulation``), with its rules:
``compounds`` not with ``simple``, and at least one of simple, compounds or name."""


# ---- checks inside a rule ------------------------------------------------------------------------
# A rule sees every key that arrived; a value that failed its JSON type check is MISSING (its error is
# already reported), which the platform sees as absent (nil). "Must exist" is reported only for a key
# that did not arrive at all, so a mistyped value gets its one type error, as everywhere in the model.


def has(values: dict[str, Any], key: str) -> bool:
    """True when ``key`` arrived and parsed (the platform's ``!= nil``)."""
    return values.get(key, MISSING) is not MISSING


def within_expected(
    values: dict[str, Any], actual: str, expected: str, lo: float, hi: float, ptr: str, errs: Errors
) -> None:
    """The platform's newest bound of a delivered value by the programmed one (bolus ``NormalFields``
    and ``ExtendedFields``): ``actual`` within ``lo..expected`` when ``expected`` is itself within
    ``lo..hi``, else within ``lo..hi``. The error is at ``actual``; ``expected``'s own range is checked
    apart, so an expected value out of range gives one error, at itself."""
    limit = values.get(expected, MISSING)
    if limit is not MISSING and lo <= limit <= hi:
        in_range(values, actual, lo, limit, ptr, errs)
    else:
        in_range(values, actual, lo, hi, ptr, errs)


def check_expected(
    values: dict[str, Any],
    ptr: str,
    errs: Errors,
    actual: str,
    expected: str,
    lo: float,
    hi: float,
    *,
    needed_at_lo: bool = False,
) -> None:
    """The platform's check of ``expected`` (what was programmed) against ``actual`` (what was delivered).

    When ``actual`` is within ``lo..hi``, ``expected`` lies within ``actual..hi``, and with
    ``needed_at_lo`` an ``actual`` of exactly ``lo`` (a dose cancelled before any insulin went in) needs
    ``expected``. When ``actual`` is absent or itself out of range (its own error is reported at its
    field), ``expected`` is only checked against ``lo..hi``, so one bad value gives one error.

    The ``expected`` field carries no range of its own: this check is its only range check, so a value
    over ``hi`` is reported once (basal/scheduled/scheduled.go and the other basal types,
    bolus/automated/automated.go; bolus normal, square and dual/square use :func:`within_expected`).
    """
    have = values.get(actual, MISSING)
    if have is not MISSING and lo <= have <= hi:
        if needed_at_lo and have == lo:
            need(values, expected, ptr, errs)
        in_range(values, expected, have, hi, ptr, errs)
    else:
        in_range(values, expected, lo, hi, ptr, errs)


def expected_rule(actual: str, expected: str, lo: float, hi: float, *, needed_at_lo: bool = False) -> Rule:
    """:func:`check_expected` as a datum rule."""

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        check_expected(values, ptr, errs, actual, expected, lo, hi, needed_at_lo=needed_at_lo)

    return rule
