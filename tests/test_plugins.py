"""Plugin loading as the platform runtime does it: entry points, broken plugins, a fresh install.

Plugins are registered on a fresh host for one test, as llm's tests do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import cryo_ingest.plugin
from trace_operators.contract import Operator
from trace_operators.hookspecs import hookimpl
from trace_operators.plugins import PluginHost

from tests.conftest import ROOT

SPEC_SNIPPET = """
import json, pluggy, trace_operators.hookspecs
pm = pluggy.PluginManager("trace")
pm.add_hookspecs(trace_operators.hookspecs)
pm.load_setuptools_entrypoints("trace.operators")
operators = {op.name: op for group in pm.hook.trace_operators() for op in group}
print(json.dumps(operators["cryo_ingest"].job_schema()))
"""


class Echo:
    """A minimal operator registered by a test plugin."""

    name = "echo"

    def job_schema(self):
        return {}

    def validate_job(self, job):
        return []

    def resolve_job(self, job, env):
        raise NotImplementedError

    def plan(self, resolved, range):
        return [range]

    def run_partition(self, resolved, partition, ctx):
        raise NotImplementedError


class EchoPlugin:
    @hookimpl
    def trace_operators(self):
        return [Echo()]


class RaisingPlugin:
    @hookimpl
    def trace_operators(self):
        raise RuntimeError("boom")


class DuplicatePlugin:
    @hookimpl
    def trace_operators(self):
        return [Echo(), object()]


class MisspeltPlugin:
    """A hook implementation no spec knows: pluggy's check_pending refuses it."""

    @hookimpl
    def trace_operator(self):
        return [Echo()]


def fresh(**plugins: object) -> PluginHost:
    host = PluginHost(entry_points_=False)
    for name, plugin in plugins.items():
        host.register(plugin, name)
    return host


def test_installed_entry_point_provides_cryo_ingest() -> None:
    operators = PluginHost().operators()
    assert operators.failures == []
    assert isinstance(operators.get("cryo_ingest"), Operator)


def test_the_builtin_comes_through_the_same_door_and_the_entry_point_adds_nothing() -> None:
    host = PluginHost({"cryo_ingest": cryo_ingest.plugin})
    assert list(host.operators().by_name) == ["cryo_ingest"] and host.failures == []
    assert host.manager.get_plugin("cryo_ingest") is cryo_ingest.plugin


def test_registered_plugins_on_a_fresh_host() -> None:
    host = fresh(echo=EchoPlugin())
    assert list(host.operators().by_name) == ["echo"] and host.failures == []
    host.unregister("echo")
    assert host.operators().by_name == {}


def test_a_misspelt_hook_leaves_out_its_own_plugin_only() -> None:
    host = fresh(misspelt=MisspeltPlugin(), echo=EchoPlugin())
    operators = host.operators()
    assert list(operators.by_name) == ["echo"]
    [failure] = operators.failures
    assert failure.plugin == "misspelt"
    assert failure.error.startswith("has a hook implementation no spec knows:") and "trace_operator" in failure.error
    assert not host.manager.has_plugin("misspelt")


def test_blocked_plugins_are_not_registered_builtin_or_installed() -> None:
    host = PluginHost({"cryo_ingest": cryo_ingest.plugin}, env={"TRACE_BLOCK_PLUGINS": " cryo_ingest ,other"})
    assert host.operators().by_name == {} and host.failures == []
    assert host.manager.is_blocked("cryo_ingest") and host.manager.is_blocked("other")


def test_a_raising_or_misbehaving_plugin_is_reported_and_the_others_load() -> None:
    operators = fresh(raising=RaisingPlugin(), echo=EchoPlugin(), duplicate=DuplicatePlugin()).operators()
    assert list(operators.by_name) == ["echo"]
    errors = sorted(f.error for f in operators.failures)
    assert errors[0] == "operator 'echo' is already provided"
    assert "trace_operators() raised RuntimeError: boom" in errors
    assert any(e.startswith("returned <object object") and e.endswith("which is not an Operator") for e in errors)


def test_a_plugin_that_fails_to_import_does_not_stop_the_others(tmp_path: Path) -> None:
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[trace.operators]\nbroken = no_such_module_anywhere\n")
    code = textwrap.dedent("""
        import json
        from trace_operators.plugins import PluginHost
        ops = PluginHost().operators()
        print(json.dumps({"names": sorted(ops.by_name), "failures": [[f.plugin, f.error] for f in ops.failures]}))
    """)

    def load(**env: str) -> dict:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        return json.loads(run.stdout)

    report = load(PYTHONPATH=str(tmp_path), PATH="/usr/bin:/bin")
    assert report["names"] == ["cryo_ingest"]
    assert report["failures"] == [
        ["broken", "import failed: ModuleNotFoundError: No module named 'no_such_module_anywhere'"]
    ]
    assert load(PYTHONPATH=str(tmp_path), TRACE_BLOCK_PLUGINS="broken")["failures"] == []


def test_fresh_venv_after_pip_install_finds_the_operator(tmp_path: Path) -> None:
    """SPEC §2's loading snippet in a new venv; the wheel carries the same schema file."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    published = (ROOT / "schemas" / "cryo_ingest.job.schema.json").read_text()
    loaded = subprocess.run([python, "-c", SPEC_SNIPPET], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(loaded.stdout) == json.loads(published)
    printed = subprocess.run(
        [env_dir / "bin" / "cryo-ingest", "schema"], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert printed.stdout == published
