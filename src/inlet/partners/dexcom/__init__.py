"""Dexcom: a CGM partner polled over its API v3 (manifest.toml, client.py)."""
