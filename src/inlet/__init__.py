"""Inlet: an open, self-hostable diabetes data platform compatible with Tidepool's API."""

__version__ = "0.1.0"
