"""The WSGI entry point loads every view up front and freezes what it loaded (tail latency)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import portal.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "views_loaded": "documents.api.views" in sys.modules and "portal.views" in sys.modules,
}))
"""


def test_the_wsgi_module_imports_the_views_and_freezes_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FOLIO_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "FOLIO_DATA_DIR": str(tmp_path),
        }
    )
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["views_loaded"], "the URL conf (and every view) is imported at start"
    # A loaded Folio holds ~100,000 objects; a freeze that missed them would count a few.
    assert facts["frozen"] > 20_000, facts
