"""The base task's contract with Celery, checked on the tasks the worker really registers."""

import json
import os
import subprocess
import sys

PROBE = """
import json
from workers.app import app
app.loader.import_default_modules()  # what a worker does at start: import app.conf.include
ours = {n: t.max_retries for n, t in app.tasks.items() if not n.startswith("celery.")}
print(json.dumps(ours))
"""


def test_no_task_has_a_retry_cap_of_celerys_own(account_env):
    # Celery's Task.max_retries defaults to 3 and silently ends retries before RetryPolicy's window.
    probe = subprocess.run([sys.executable, "-c", PROBE], env=dict(os.environ), capture_output=True, text=True,
                           timeout=60, check=True)
    caps = json.loads(probe.stdout.strip().splitlines()[-1])

    assert "orders.handle_status_change" in caps and "clevertap.flush_outbox" in caps
    assert {name: cap for name, cap in caps.items() if cap is not None} == {}
