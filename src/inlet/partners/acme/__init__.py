"""ACME Pump: an insulin pump partner with its own JSON API (manifest.toml, client.py)."""
