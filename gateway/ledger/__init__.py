"""The spend ledger: one record per finished LLM request, stored append-only with per-period rollups."""
