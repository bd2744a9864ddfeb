"""The README's pre-commit set-up, word for word, run by real pre-commit in a scratch DAG repository.

pre-commit clones the hook repository and pip-installs it into an environment of its own (from the package
index), as it does for every user; the hook repository is a git repository of this working tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

#: What a user's clone holds that pip needs to build the distribution, and the hook's definition.
PROJECT_FILES = ("operators", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml")
#: A leaked Alchemy key: no run of it longer than the mask's two characters may be printed.
KEY = "Qz7mK2pX9vR4tW8yB3nC6hJ1dF5gL0sA"
LEAK = f"""name: leak
jobs:
  - name: cryo_bootstrap
    operator: cryo_ingest
    config:
      chain_id: 1
      datasets: [blocks]
      rpc_pool: https://eth-mainnet.g.alchemy.com/v2/{KEY}
"""
NOT_DAGS = {
    ".github/workflows/ci.yml": "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: make}]\n",
    "compose.yaml": "services:\n  db:\n    image: postgres:16\n",
}


def readme_configs() -> list[str]:
    """The yaml blocks of the README's "### With pre-commit", as written."""
    section = re.search(r"^### With pre-commit\n(.*?)^#{2,} ", (ROOT / "README.md").read_text(), re.S | re.M)
    assert section, "README.md has no section '### With pre-commit'"
    return re.findall(r"^```yaml\n(.*?)^```", section.group(1), re.S | re.M)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`git ARGS` in `cwd`, as a commit author whose global configuration is not read."""
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    base = {**os.environ, **(env or {}), **who, "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=cwd, env=base, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository of this working tree's project files at one commit, and that commit."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    assert git(repo, "commit", "-q", "-m", "hook").returncode == 0
    return repo, git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="module")
def pre_commit_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pre-commit's cache for the module: the hook's environment is built once, for every test here."""
    return {"PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")), "PRE_COMMIT_COLOR": "never"}


def dag_repo(path: Path, config: str, hook_repo: tuple[Path, str]) -> Path:
    """A DAG repository with the README's config, a valid DAG, workflows and a compose file, all committed."""
    url, rev = hook_repo
    text = config.replace("<this repository's URL>", str(url)).replace("<a tag or commit>", rev)
    files = {".pre-commit-config.yaml": text, "dags/monad.yaml": (FIXTURES / "valid" / "bootstrap.yaml").read_text()}
    for name, body in {**files, **NOT_DAGS}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(body)
    git(path, "init", "-q")
    git(path, "add", "-A")
    return path


def pre_commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real pre-commit CLI, the one this environment installed."""
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def assert_masked(output: str) -> None:
    """The leak is reported, and no three characters of the key in a row are printed."""
    assert "[secret." in output, output
    runs = {KEY[i : i + 3] for i in range(len(KEY) - 2)}
    assert not [run for run in runs if run in output], output


def test_the_readme_config_passes_a_dag_repository_and_refuses_a_leaked_key(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]
) -> None:
    config = readme_configs()[0]
    repo = dag_repo(tmp_path, config, hook_repo)
    installed = pre_commit(repo, pre_commit_env, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    clean = git(repo, "commit", "-m", "dags", env=pre_commit_env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r"cryo-ingest validate\.+Passed", clean.stdout + clean.stderr), clean.stdout + clean.stderr

    (repo / "dags" / "leak.yaml").write_text(LEAK)
    git(repo, "add", "dags/leak.yaml")
    leaked = git(repo, "commit", "-m", "leak", env=pre_commit_env)
    output = leaked.stdout + leaked.stderr
    assert leaked.returncode == 1, output
    assert "cryo-ingest validate" in output and "Failed" in output and "dags/leak.yaml" in output
    assert_masked(output)
    assert git(repo, "log", "--format=%s").stdout.split() == ["dags"]


def test_the_readme_override_points_the_hook_at_other_folders(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]
) -> None:
    default, override = readme_configs()
    moved = tmp_path / "pipelines" / "leak.yaml"
    moved.parent.mkdir()
    moved.write_text(LEAK)
    repo = dag_repo(tmp_path, default, hook_repo)
    assert pre_commit(repo, pre_commit_env, "run", "--all-files").returncode == 0

    (repo / ".pre-commit-config.yaml").write_text(
        override.replace("<this repository's URL>", str(hook_repo[0])).replace("<a tag or commit>", hook_repo[1])
    )
    git(repo, "add", ".pre-commit-config.yaml")
    done = pre_commit(repo, pre_commit_env, "run", "--all-files")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pipelines/leak.yaml" in done.stdout
    assert_masked(done.stdout + done.stderr)
