"""The device data model: pure parse, validate and normalize steps, with no I/O.

Public entry points live in :mod:`inlet.model.parse` (whole request arrays and single datums),
:mod:`inlet.model.glucose`, :mod:`inlet.model.timeutil` and :mod:`inlet.model.identity`.
"""
