"""docker-compose.yml and deploy/ without a docker engine or a cluster: every command they run
exists, every variable they set is a real setting, and every file kustomize names is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.settings import ENV_PREFIX, _EnvSettings
from tests.conftest import ACCOUNT_ENV

ROOT = Path(__file__).parents[2]
SETTINGS = {ENV_PREFIX + name.upper() for name in _EnvSettings.model_fields}
# Variables read by something other than our settings, on purpose.
OTHER_VARIABLES = {"REMAP_SIGTERM", "POD_NAME"}


def _manifests() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted((ROOT / "deploy").rglob("*.yaml")):
        docs += [(str(path.relative_to(ROOT)), d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _commands() -> list[tuple[str, list[str]]]:
    found = [(f"compose:{name}", service["command"]) for name, service in _compose()["services"].items()
             if name != "redis"]
    for where, doc in _manifests():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        found += [(f"{where}:{c['name']}", c["command"]) for c in spec.get("containers", [])]
    return found


def _variables() -> list[tuple[str, str]]:
    found = []
    for name, service in _compose()["services"].items():
        found += [(f"compose:{name}", key) for key in (service.get("environment") or {})]
    for where, doc in _manifests():
        if doc.get("kind") == "ConfigMap":
            found += [(where, key) for key in doc.get("data", {})]
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            found += [(where, e["name"]) for e in container.get("env", [])]
    example = ROOT / "deploy/overlays/example/secrets.env.example"
    found += [(str(example), line.split("=")[0]) for line in example.read_text().splitlines() if "=" in line]
    found += [(".env.example", name) for name in _env_example()]
    return found


def _env_example() -> set[str]:
    """The variables `.env.example` sets or shows commented out, as `# VTEXCT_X=`."""
    lines = (line.lstrip("# ") for line in (ROOT / ".env.example").read_text().splitlines())
    return {line.split("=")[0] for line in lines if line.startswith(ENV_PREFIX) and "=" in line}


@pytest.mark.parametrize(("where", "command"), _commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_exists(where, command, account_env):
    # given: the command with its subcommand, asked for --help
    if command[0] == "vtexct":
        argv = [sys.executable, "-m", "shared.cli", command[1], "--help"]
    else:
        assert command[:3] == ["celery", "-A", "workers"], where
        argv = [sys.executable, "-m", "celery", "-A", "workers", command[3], "--help"]

    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**ACCOUNT_ENV, "PATH": "/usr/bin:/bin"})

    assert done.returncode == 0, (where, done.stderr[-2000:])


@pytest.mark.parametrize(("where", "variable"), _variables())
def test_every_variable_is_a_setting(where, variable):
    assert variable in SETTINGS | OTHER_VARIABLES, where


def test_env_example_documents_every_setting():
    assert SETTINGS - _env_example() == set()


def test_compose_runs_the_whole_system_on_a_safe_redis():
    services = _compose()["services"]
    redis_command = " ".join(services["redis"]["command"])

    assert {"redis", "receiver", "worker-orders", "worker-catalog", "beat", "flower"} <= set(services)
    assert "--appendonly yes" in redis_command and "--appendfsync everysec" in redis_command
    assert "--maxmemory-policy noeviction" in redis_command
    assert all(s.get("build") == "." for n, s in services.items() if n != "redis")


def test_kustomize_files_exist_and_beat_is_single():
    for kustomization in (ROOT / "deploy").rglob("kustomization.yaml"):
        doc = yaml.safe_load(kustomization.read_text())
        for resource in doc.get("resources", []):
            assert (kustomization.parent / resource).exists(), (kustomization, resource)
        for generator in doc.get("secretGenerator", []):
            assert all((kustomization.parent / f).exists() for f in generator.get("envs", []))
    beat = next(d for _, d in _manifests() if d.get("kind") == "Deployment" and d["metadata"]["name"] == "beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


def test_wsgi_target_imports(account_env):
    from receiver.wsgi import application

    assert callable(application)
