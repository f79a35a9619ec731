"""Channel connectors: translate platform updates to ``Inbound`` and ``Reply`` to API calls."""
