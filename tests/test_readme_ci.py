"""The README's "Validating DAGs in CI" section, followed word for word: its commands, allow comment and workflow."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

SECTION = (ROOT / "README.md").read_text().split("## Validating DAGs in CI\n", 1)[1].split("\n## ", 1)[0]
KEY = "Qz8yN3kP0wX7rT5vL2mB9cF4hJ6dS1aE"
LEAKED = f"https://eth-mainnet.g.alchemy.com/v2/{KEY}"
LEAK = (
    "name: leak\njobs:\n  - name: blocks\n    operator: cryo_ingest\n    outputs: 1\n    config:\n"
    "      chain_id: 10143\n      datasets: [blocks]\n"
    f"      rpc_pool: {LEAKED}\n      start_block: 0\n      end_block: 999\n"
)


def blocks(language: str, text: str = SECTION) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def shell(command: str, where: Path) -> subprocess.CompletedProcess[str]:
    """`command` as a CI runner's shell runs it, with this environment's cryo-ingest first on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path}
    return subprocess.run(["bash", "-c", command], cwd=where, env=env, capture_output=True, text=True, check=False)


def repository(tmp_path: Path, *dags: tuple[str, str]) -> Path:
    (tmp_path / "dags").mkdir(parents=True)
    for name, text in dags:
        (tmp_path / "dags" / name).write_text(text)
    return tmp_path


def test_the_sections_commands_pass_on_valid_dags_and_fail_on_a_leak(tmp_path: Path) -> None:
    commands = [line.split("#")[0].strip() for line in blocks("sh")[0].splitlines()]
    assert len(commands) == 5 and all(c.startswith("cryo-ingest validate ") for c in commands)
    clean = repository(tmp_path / "clean", ("blocks.yaml", LEAK.replace(LEAKED, "monad")))
    leak = repository(tmp_path / "leak", ("leak.yaml", LEAK))
    for command in commands:
        done = shell(command, clean)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        done = shell(command, leak)
        assert done.returncode == 1 and KEY[:3] not in done.stdout, (command, done.stdout)
        assert "secret.url-credentials" in done.stdout


def test_the_allow_comment_allows_its_line_and_the_report_says_so(tmp_path: Path) -> None:
    example = next(b for b in blocks("yaml") if "cryo-ingest: allow" in b)
    where = repository(tmp_path, ("x.yaml", "name: x\n" + example + "jobs: []\n"))
    done = shell("cryo-ingest validate dags/", where)
    said = re.search(r"a last line `(.*?)`", " ".join(SECTION.split()))
    assert said is not None
    assert (done.returncode, done.stdout) == (0, said.group(1) + "\n")
    done = shell(
        "cryo-ingest validate dags/",
        repository(
            tmp_path / "bare",
            ("x.yaml", "name: x\n" + example.replace("  # cryo-ingest: allow secret.private-key", "") + "jobs: []\n"),
        ),
    )
    assert done.returncode == 1 and "[secret.private-key]" in done.stdout


def test_the_workflow_annotates_the_leak_and_writes_sarif_for_code_scanning(tmp_path: Path) -> None:
    actions = SECTION.split("### In GitHub Actions", 1)[1].split("\n### ", 1)[0]
    [workflow] = [yaml.safe_load(b) for b in blocks("yaml", actions)]
    steps = workflow["jobs"]["validate"]["steps"]
    assert workflow["jobs"]["validate"]["permissions"]["security-events"] == "write"
    where = repository(tmp_path, ("leak.yaml", LEAK))
    ran = []
    for step in steps:
        if "run" not in step or step["run"].startswith("pip install"):
            continue  # actions, and the install: this environment has cryo-ingest, and GitHub is not reachable here
        done = shell(step["run"], where)
        ran.append((step["run"], done.returncode, step.get("if")))
        if "--format github" in step["run"]:
            assert done.stdout.startswith(
                "::error file=dags/leak.yaml,line=9,col=17,title=secret.url-credentials::URL with an API key in its "
                "path: https://eth-mainnet.g.alchemy.com/v2/Qz…aE (hint: "
            ), done.stdout
    assert [(code, when) for _, code, when in ran] == [(1, None), (1, "always()")]
    upload = steps[-1]
    assert (upload["uses"].split("@")[0], upload["if"]) == ("github/codeql-action/upload-sarif", "always()")
    sarif = json.loads((where / upload["with"]["sarif_file"]).read_text())
    [result] = sarif["runs"][0]["results"]
    assert (sarif["version"], result["ruleId"], result["level"]) == ("2.1.0", "secret.url-credentials", "error")
    location = result["locations"][0]["physicalLocation"]
    assert (location["artifactLocation"]["uri"], location["region"]["startLine"]) == ("dags/leak.yaml", 9)
    assert KEY[:3] not in json.dumps(sarif)
    shutil.rmtree(where)
