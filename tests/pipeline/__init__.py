"""End-to-end tests of the import layer (drops, import asset, ledger, checks, backfills)."""
