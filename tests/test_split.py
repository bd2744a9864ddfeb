"""One big file checked by several processes: cut between job blocks, the same findings as one process, or no cut."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trace_operators.dag import split, validation
from trace_operators.dag.split import Piece, cut
from trace_operators.dag.validation import DEFAULTS, report_file
from trace_operators.plugins import PluginHost

from tests.test_robust import KEY, mutate

HEAD = "# head\nname: d\nx-pool: &pool p\ndefaults:\n  max_attempts: 3\njobs:\n"  # an anchor, no alias
JOB = (
    "  - name: j{i}\n"
    "    operator: cryo_ingest\n"
    "    outputs: 1\n"
    "    config:\n"
    "      chain_id: 1\n"
    "      datasets: [blocks]\n"
    "      rpc_pool: p\n"
)


def dag(count: int, tail: str = "", job: str = JOB) -> str:
    return HEAD + "".join(job.format(i=i) for i in range(count)) + tail


def test_a_cut_keeps_the_head_the_tail_and_every_line_number() -> None:
    text = dag(3, tail="publish:\n  - name: j0\n")
    found = cut(text, 2)
    assert found is not None
    blank = "\n" * 7
    assert found.frame == HEAD + blank * 3 + "publish:\n  - name: j0\n"
    assert found.pieces == [
        Piece(HEAD + JOB.format(i=0) + JOB.format(i=1) + blank + "publish:\n  - name: j0\n", ((7, 5), (14, 5))),
        Piece(HEAD + blank * 2 + JOB.format(i=2) + "publish:\n  - name: j0\n", ((21, 5),)),
    ]


@pytest.mark.parametrize(
    "text",
    [
        dag(1),  # one job block: nothing to cut
        dag(4).replace("\n", "\r\n"),  # line breaks libyaml counts that blanking would not keep
        "---\n" + dag(4),
        "%YAML 1.1\n---\n" + dag(4),
        dag(4, job=JOB + "    x-a: &a{i} 1\n"),  # an anchor in the job list
        "".join(JOB.format(i=i) for i in range(4)),  # a bare list of job blocks
        "name: d\njobs: []\n",
    ],
    ids=["one-job", "crlf", "marker", "directive", "anchor", "bare-list", "flow"],
)
def test_what_cannot_be_cut_is_not(text: str) -> None:
    assert cut(text, 2) is None


def _findings(text: str, tmp_path: Path, workers: int) -> list[validation.Finding]:
    path = tmp_path / "dag.yaml"
    path.write_text(text)
    return report_file(path, PluginHost().operators(), DEFAULTS, workers).findings


def _checked_in_pieces(text: str, workers: int) -> bool:
    return validation._split_checked("dag.yaml", text, PluginHost().operators(), False, workers) is not None


ODD_CUTS = {
    # A quoted string runs over a line that looks like a job block: the piece holding its start cannot load.
    "quoted": dag(3).replace("name: j1\n", 'name: "j1\n  - name: x"\n'),
    "flow": dag(3).replace("datasets: [blocks]\n", "datasets: [blocks,\n  - logs]\n", 2),
    "block-scalar": dag(3).replace("outputs: 1\n", "outputs: 1\n    note: |\n      - name: not a job\n", 1),
    # Defaults written after the job list still reach every piece.
    "defaults-after": HEAD.replace("defaults:\n  max_attempts: 3\n", "")
    + "".join(JOB.format(i=i) for i in range(4))
    + "defaults:\n  max_attempts: 0\n",
    "secret-in-the-last-piece": dag(3) + JOB.format(i=3) + f"      x-key: 0x{KEY}\n",
    "aliases-of-the-head": dag(4, job=JOB + "    x-pool: *pool\n"),
    # Every piece stays within the alias bound, but not the whole file.
    "alias-bomb-spread": HEAD.replace("&pool p", "&pool [" + ", ".join(["p"] * 100) + "]")
    + "".join(JOB.format(i=i).replace("rpc_pool: p", "rpc_pool: *pool") for i in range(1_000)),
    "syntax-error-late": dag(4) + "  - name: [\n",
    "duplicate-anchor-apart": dag(4).replace("name: j0\n", "name: &a j0\n").replace("name: j3\n", "name: &a j3\n"),
    "duplicate-names-apart": dag(4).replace("name: j3\n", "name: j0\n"),
    "input-from-nowhere": dag(4).replace("outputs: 1\n", "outputs: 1\n    inputs: [{from: {job: j9}}]\n"),
    "input-from-another-piece": dag(4).replace("operator: cryo_ingest\n", "operator: x\n", 1)
    + "  - name: j4\n    operator: x\n    inputs: [{from: {job: j0, output: 0}}]\n",
    "comment-lines-between": dag(4).replace("  - name: j2\n", "# a comment\n\n  - name: j2\n"),
}


@pytest.mark.parametrize("text", ODD_CUTS.values(), ids=ODD_CUTS.keys())
def test_pieces_find_what_one_process_finds(monkeypatch, tmp_path: Path, text: str) -> None:
    monkeypatch.setattr(validation, "SPLIT_FROM", 0)
    assert _findings(text, tmp_path, workers=3) == _findings(text, tmp_path, workers=1)


def test_the_cuts_that_hold_are_taken_and_the_rest_fall_back(monkeypatch) -> None:
    monkeypatch.setattr(validation, "SPLIT_FROM", 0)
    taken = {name for name, text in ODD_CUTS.items() if _checked_in_pieces(text, 3)}
    # Problems between jobs are located on the whole file, by one process.
    assert taken == {
        "aliases-of-the-head",
        "block-scalar",
        "defaults-after",
        "secret-in-the-last-piece",
        "input-from-another-piece",
        "comment-lines-between",
    }


@pytest.mark.parametrize("fault", ["raises", "killed"])
def test_a_worker_that_fails_leaves_the_file_to_one_process(monkeypatch, tmp_path: Path, fault: str) -> None:
    checked_piece = validation._checked_piece

    def failing(index: int) -> validation._PieceReport | None:
        if index == 1 and fault == "raises":
            raise MemoryError
        if index == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return checked_piece(index)

    text = ODD_CUTS["secret-in-the-last-piece"]
    expected = _findings(text, tmp_path, workers=1)
    monkeypatch.setattr(validation, "SPLIT_FROM", 0)
    monkeypatch.setattr(validation, "_checked_piece", failing)
    assert not _checked_in_pieces(text, 2)
    assert _findings(text, tmp_path, workers=2) == expected
    assert [f.rule for f in expected] == ["secret.private-key"]


def test_only_big_files_are_cut(monkeypatch) -> None:
    monkeypatch.setattr(validation, "SPLIT_FROM", 20 * len(JOB))
    assert not _checked_in_pieces(dag(19), 2)
    assert _checked_in_pieces(dag(20), 2)


def test_a_big_file_gives_the_same_report_in_pieces(cli, tmp_path: Path) -> None:
    bad = f"rpc_pool: p\n      rpc_url: https://eth-mainnet.g.alchemy.com/v2/{KEY[:32]}\n"
    text = dag(split.SPLIT_FROM // len(JOB) + 100).replace("rpc_pool: p\n", bad, 1)
    text = text.replace("name: j15000\n", "name: j15000\n    bogus: 1\n")
    (tmp_path / "big.yaml").write_text(text)
    one = cli("validate", "--jobs", "1", "big.yaml", check=False)
    assert one.returncode == 1
    assert one.stdout.count("\n") == 2
    assert cli("validate", "--jobs", "2", "big.yaml", check=False).stdout == one.stdout


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(2, 6), workers=st.integers(2, 4), data=st.data())
def test_pieces_agree_with_one_process_on_any_mutation(
    monkeypatch, tmp_path: Path, count: int, workers: int, data: st.DataObject
) -> None:
    monkeypatch.setattr(validation, "SPLIT_FROM", 0)
    text = mutate(dag(count, tail="publish: []\n"), data)
    assert _findings(text, tmp_path, workers) == _findings(text, tmp_path, workers=1)
