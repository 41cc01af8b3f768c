"""The partner framework: the contract (``contract.py``), the registry of partner folders
(``registry.py``), the token vault (``vault.py``), connections and data sources (``service.py``) and
their HTTP endpoints (``routes.py``). Each partner is one folder here (``dexcom/``, ``acme/``): see
docs/partners.md."""
