"""The built-in templates as data (ich_e3_csr.json, ich_m11_protocol.json) and their loader."""


def sync_builtin_templates() -> None:
    """Create or update every built-in template from its JSON file (filled in by the loader)."""
    return None
