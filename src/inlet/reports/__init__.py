"""Reports: pure glucose metrics (no database, no I/O, no clock) for the web pages and exports.

``glucose`` turns stored cbg datums into readings and classifies them, ``summary`` computes the
consensus overview (time in ranges, mean, CV, GMI, sensor use), ``agp`` the ambulatory glucose profile.
"""
