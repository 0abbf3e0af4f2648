"""Number domains. Each module registers one family; see fpsem.registry."""
