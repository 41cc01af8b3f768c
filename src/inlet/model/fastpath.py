"""A compiled fast path for datums that are valid, generated from each type's field table.

The three-step path (parse, validate, normalize in :mod:`inlet.model.fields`) is the definition of
the model: it reports every error with its pointer. Nearly every datum a device or partner sends is
valid, though, and for those the three passes over generic spec objects cost most of the ingest
time. So each :class:`~inlet.model.base.DatumType` also gets a function, generated once from the same
specs, that does all three steps in one straight pass with the checks inlined, and gives up
(returns ``None``) at the first thing it does not like: an error, an unknown key, a spec it does not
inline. The caller then runs the three-step path, which finds and reports the errors.

The fast path must therefore never accept what the three-step path refuses and must normalize
identically; tests/model/test_fastpath.py checks both on generated datums of every type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from inlet.model import glucose, identity, timeutil
from inlet.model.errors import Errors
from inlet.model.fields import (
    AnyObject,
    Bool,
    Canonical,
    Context,
    DeviceTime,
    Field,
    Float,
    Glucose,
    GlucoseUnits,
    Int,
    Str,
    Time,
    TimeZoneName,
)

FastResult = tuple[dict[str, Any], dict[str, Any], list[Any]]
"""(parsed values, normalized document in the client's key order, datums split off)."""
FastPath = Callable[[dict[str, Any]], FastResult | None]


class _Source:
    """Accumulates generated lines with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def add(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)


def _inline(spec: Field, key: str, out: _Source, env: dict[str, Any], units_key: str | None) -> bool:
    """Emit parse + validate for an exactly known spec class, leaving the parsed value in ``p`` and the
    normalized one in ``q``. Returns False when the spec must go through its own methods."""
    name = f"S_{len(env)}"
    env[name] = spec
    cls = type(spec)
    if cls is Float or cls is Int:
        assert isinstance(spec, Float)
        if cls is Float:
            out.add("c = v.__class__")
            out.add("if c is not float and c is not int: return None")
        else:
            out.add("if v.__class__ is not int:")
            out.add("    if v.__class__ is not float or not v.is_integer(): return None")
            out.add("    v = int(v)")
        if spec.lo is not None:
            out.add(f"if v < {spec.lo!r}: return None")
        if spec.hi is not None:
            out.add(f"if v > {spec.hi!r}: return None")
        out.add("p = q = v")
        return True
    if cls is Bool:
        out.add("if v is not True and v is not False: return None")
        out.add("p = q = v")
        return True
    if cls in (Str, TimeZoneName, Canonical, GlucoseUnits):
        assert isinstance(spec, Str)
        out.add("if v.__class__ is not str: return None")
        if spec.one_of is not None:
            env[f"{name}_set"] = frozenset(spec.one_of)
            out.add(f"if v not in {name}_set: return None")
        elif cls is TimeZoneName:
            out.add("if not v or not is_timezone_name(v): return None")
        else:
            if not spec.empty_ok:
                out.add("if not v: return None")
            if spec.max_len is not None:
                out.add(f"if v and len(v) > {spec.max_len}: return None")
            if spec.min_len is not None:
                out.add(f"if v and len(v) < {spec.min_len}: return None")
            if spec.pattern is not None:
                env[f"{name}_re"] = spec.pattern
                out.add(f"if v and {name}_re.fullmatch(v) is None: return None")
        if cls is Canonical:
            assert isinstance(spec, Canonical)
            env[f"{name}_map"] = spec.canonical
            out.add(f"p = v; q = {name}_map.get(v, v)")
        elif cls is GlucoseUnits:
            out.add('p = v; q = "mmol/L"')
        else:
            out.add("p = q = v")
        return True
    if cls is Time:
        out.add("if v.__class__ is not str: return None")
        out.add("p = parse_rfc3339(v)")
        out.add("if p is None: return None")
        # Text already in the stored form (what uploaders send) is its own normalization.
        out.add("q = v if len(v) == 24 and v[23] == 'Z' and v[10] == 'T' and v[19] == '.' else format_utc(p)")
        return True
    if cls is DeviceTime:
        out.add("if v.__class__ is not str or parse_device_time(v) is None: return None")
        out.add("p = q = v")
        return True
    if cls is AnyObject:
        out.add("if v.__class__ is not dict: return None")
        out.add("p = q = v")
        return True
    if cls is Glucose and units_key is not None:
        assert isinstance(spec, Glucose)
        out.add("c = v.__class__")
        out.add("if c is not float and c is not int: return None")
        env[f"{name}_bounds"] = {u: spec.bounds(u) for u in glucose.UNITS}
        out.add(f"b = {name}_bounds.get(units)")
        out.add("if b is None or v < b[0] or v > b[1]: return None")
        # glucose.normalize_value, inlined: mg/dL -> value / 18.01559 rounded to 5 decimals, half away
        # from zero (the same expression as glucose.round5, so the result is bit-identical).
        out.add("if units in UNITS_MGDL:")
        out.add("    x = v / MGDL_PER_MMOLL")
        out.add("    q = trunc(x * 100000.0 + copysign(0.5, x)) / 100000.0")
        out.add("else:")
        out.add("    q = v")
        out.add("p = v")
        return True
    from inlet.model.common import DatumId, Guid

    if cls is DatumId:
        out.add("if v.__class__ is not str or ID_RE.fullmatch(v) is None: return None")
        out.add("p = q = v")
        return True
    if cls is Guid:
        out.add("if v.__class__ is not str or GUID_RE.fullmatch(v) is None: return None")
        out.add("p = q = v")
        return True
    return False


def compile_fast_path(datum_type: Any) -> FastPath:
    """Generate the fast path of a :class:`~inlet.model.base.DatumType`."""
    env: dict[str, Any] = {
        "MISSING_": object(),
        "Context": Context,
        "Errors": Errors,
        "parse_rfc3339": timeutil.parse_rfc3339,
        "parse_device_time": timeutil.parse_device_time,
        "format_utc": timeutil.format_utc,
        "is_timezone_name": timeutil.is_timezone_name,
        "UNITS_MGDL": frozenset(glucose.UNITS_MGDL),
        "MGDL_PER_MMOLL": glucose.MGDL_PER_MMOLL,
        "trunc": math.trunc,
        "copysign": math.copysign,
        "ID_RE": identity.ID_PATTERN,
        "GUID_RE": identity.GUID_PATTERN,
        "RULES": tuple(datum_type.rules),
        "CONTEXT": datum_type.context,
    }
    from inlet.model.base import DatumType

    # Glucose is inlined only where the context's units come straight from ``units_key``.
    plain_context = type(datum_type).context is DatumType.context
    units_key: str | None = datum_type.units_key if plain_context else None
    src = _Source()
    src.lines.append("def fast(raw):")
    src.add("get = raw.get")
    src.add("values = {}")
    src.add("norm = {}")
    src.add("n = 0")
    if units_key is not None:
        src.add(f"units = get({units_key!r})")
        src.add("if units.__class__ is not str: units = None")
    generic: list[tuple[str, str]] = []
    for key, spec in datum_type.all_fields.items():
        src.add(f"v = get({key!r}, MISSING_)")
        src.add("if v is not MISSING_:")
        src.depth += 1
        src.add("n += 1")
        if _inline(spec, key, src, env, units_key):
            src.add(f"values[{key!r}] = p")
            src.add(f"norm[{key!r}] = q")
        else:
            name = f"G_{len(env)}"
            env[name] = spec
            generic.append((key, name))
            src.add(f"p = {name}.parse(v, '', errs_)")
            src.add("if errs_.items: return None")
            src.add(f"values[{key!r}] = p")
        src.depth -= 1
    src.add("if n != len(raw): return None")
    for key in datum_type.all_required:
        src.add(f"if {key!r} not in values: return None")
    # Specs with their own validate/normalize (nested objects, arrays, context-dependent values) and
    # the type's rules see the whole parsed datum, as in the three-step path.
    src.add("ctx = CONTEXT(values)")
    for key, name in generic:
        src.add(f"if {key!r} in values: {name}.validate(values[{key!r}], '', errs_, ctx)")
    src.add("for rule in RULES: rule(values, '', errs_, ctx)")
    src.add("if errs_.items: return None")
    for key, name in generic:
        src.add(f"if {key!r} in values: norm[{key!r}] = {name}.normalize(values[{key!r}], ctx)")
    src.add("return values, {k: norm[k] for k in raw}, ctx.extras")
    # A fresh scratch Errors per call collects what generic specs report (and is then discarded).
    code = "\n".join(src.lines)
    code = code.replace("def fast(raw):", "def fast(raw):\n    errs_ = Errors()", 1)
    namespace: dict[str, Any] = dict(env)
    exec(compile(code, f"<fast path {datum_type.type}/{datum_type.sub_value}>", "exec"), namespace)
    fast: FastPath = namespace["fast"]
    fast.__doc__ = code  # the generated source, for whoever debugs it
    return fast
