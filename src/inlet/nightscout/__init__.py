"""Nightscout: every person's own Nightscout site (API v1, v2 authorization, v3) over Inlet's data."""
