"""Exports: a person's data as Tidepool's export service gives it (JSON or an Excel workbook).

``units`` converts the stored mmol/L glucose fields into the chosen units, ``xlsx`` writes the
workbook in constant memory, ``service`` reads a window of ``GET /data`` documents from the database,
``routes`` serves ``GET /export/:userId``.
"""
