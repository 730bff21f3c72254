"""Results snapshots: staleness by recomputed run keys, and the README's generated block."""
from __future__ import annotations

import json

import pytest

from pipeline.reporting.claims_readme import summary


def test_a_snapshot_run_is_stale_exactly_when_its_key_would_change(tmp_path, root):
    from pipeline.snapshots.staleness import stale_runs
    from pipeline.training.run_key import key_of
    params = __import__("yaml").safe_load((root / "params.yaml").read_text())
    cfg = {"arch": "fcn", "dataset": "mnist", "seed": 0, "loss": {"kind": "label_smoothing", "alpha": 0.1}}
    ex = {"precision": "bf16", "channels_last": False, "compile": False, "stack": False}
    sha = "ab" * 32
    key = key_of(cfg, sha, ex)  # from any working directory: the key names modules, not paths
    rec = {"run": "models/classifiers/fcn/mnist/alpha_0.1_seed_0", "config": cfg, "execution": ex,
           "data_sha256": sha}
    (tmp_path / "runs.json").write_text(json.dumps([rec | {"key": key}, rec | {"key": "0" * 16}]))
    (tmp_path / "provenance.json").write_text(json.dumps({"params": params, "profile": "default",
                                                          "complete": True, "commit": "x", "pieces": {}}))
    stale, changed, n = stale_runs(tmp_path)
    assert n == 2 and [r["key"] for r in stale] == ["0" * 16] and changed == []


def test_the_readme_claims_block_is_generated_from_the_committed_snapshot(root):
    snap = root / "results" / "reference" / "claims.json"
    if not snap.exists():
        pytest.skip("no reference snapshot committed yet")
    readme = (root / "README.md").read_text()
    table = summary(json.loads(snap.read_text()), "reference")
    assert table in readme, "README's results block is stale: python tools/results.py readme reference"


def test_the_tables_say_what_an_untrained_paper_row_needs(root):
    """The reference profile trains no EMNIST FCN (the offline mirror lacks it): Table 2 says which file
    it needs, where, and with which checksum; rows the profile trains are not listed."""
    import yaml

    from pipeline.config import validate
    from pipeline.data import registry
    from pipeline.reporting.paper_tables import not_trained
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profile"] = "reference"
    text = not_trained(validate(p))
    f = registry.get("emnist").files[0]
    emnist = next(line for line in text.splitlines() if line.startswith("- EMNIST"))
    assert f.mirror_path in emnist and f.md5 in emnist and "DATA_MIRROR" in emnist
    assert "MNIST / FCN" not in text.replace("EMNIST", "") and "Fashion" not in text


def test_params_that_change_runs_are_reported_and_where_or_how_they_evaluate_are_not(tmp_path, root):
    """A snapshot's params against today's: the evaluation batch and the backend are in no run key, so a change
    there leaves the snapshot's params 'unchanged'; a training setting is reported by its key."""
    import copy

    from pipeline.snapshots.staleness import stale_runs
    params = __import__("yaml").safe_load((root / "params.yaml").read_text())
    (tmp_path / "runs.json").write_text("[]")

    def changed_by(edit) -> list[str]:
        then = copy.deepcopy(params)
        edit(then)
        (tmp_path / "provenance.json").write_text(json.dumps({"params": then, "profile": "default",
                                                              "complete": True, "commit": "x", "pieces": {}}))
        return stale_runs(tmp_path)[1]

    assert changed_by(lambda p: p["execution"].update(eval_batch_size=4096, backend="slurm")) == []
    assert changed_by(lambda p: p["execution"].update(log_every=7)) == ["execution.log_every"]
    assert changed_by(lambda p: p["fcn"].update(momentum=0.5)) == ["fcn.momentum"]


def test_cumulative_pieces_carry_the_settings_of_the_pieces_before_them_and_the_last_is_the_profile(root):
    import yaml

    from pipeline.snapshots.plan import load_plan, piece_params, plan_file
    params = yaml.safe_load((root / "params.yaml").read_text())
    plan = load_plan(plan_file("reference", root, gpu=False))
    assert plan["composition"] == "cumulative"
    by = {p["name"]: p for p in plan["pieces"]}
    first = piece_params(params, plan, by["seed0"])["profiles"]["reference"]
    assert first["seeds"] == [0] and first["distill_alphas"] == [0.0] and first["distill_temperatures"] == [1]
    grid = piece_params(params, plan, by["figure7"])["profiles"]["reference"]   # after seed0 and seed1
    assert grid["seeds"] == [0, 1] and grid["distill_temperatures"] == [1, 2, 3, 4, 8, 12, 16]
    last = piece_params(params, plan, plan["pieces"][-1])
    assert last["profile"] == "reference" and last["profiles"]["reference"] == params["profiles"]["reference"]


def test_a_plan_without_a_valid_composition_is_refused(tmp_path):
    from pipeline.snapshots.plan import load_plan
    f = tmp_path / "plan.yaml"
    f.write_text("profile: smoke\npieces:\n  - {name: a, set: {}}\n")
    with pytest.raises(ValueError, match="composition must be one of cumulative, independent"):
        load_plan(f)
    f.write_text("profile: smoke\ncomposition: independent\npieces:\n  - {name: a}\n  - {name: a}\n")
    with pytest.raises(ValueError, match="piece names repeat"):
        load_plan(f)


DAMAGED = {"truncated runs.json": ("runs.json", lambda t: t[: len(t) // 2], "runs.json is not valid JSON"),
           "empty runs.json": ("runs.json", lambda t: "", "runs.json is not valid JSON"),
           "runs.json not a list": ("runs.json", lambda t: "{}", "runs.json holds a dict, not a list"),
           "a record without its key": ("runs.json", lambda t: t.replace('"key":', '"kee":', 1), "lacks a valid key"),
           "junk record": ("runs.json", lambda t: "[1]", "record number 0 lacks a valid run"),
           "an accuracy out of range": ("runs.json", lambda t: t.replace('"test_acc": ', '"test_acc": 100', 1),
                                        "lacks a valid test_acc (in [0, 100])"),
           "flipped provenance.json": ("provenance.json", lambda t: "\x00" + t[1:], "provenance.json is not valid"),
           "provenance.json without params": ("provenance.json",
                                              lambda t: t.replace('"params":', '"paramz":', 1), "lacks a valid params")}


@pytest.mark.parametrize("case", DAMAGED)
def test_results_status_on_a_damaged_snapshot_is_one_line_and_exit_2(case, tmp_path, root):
    import shutil
    import subprocess
    import sys
    name, damage, says = DAMAGED[case]
    snap = tmp_path / "results" / "reference"
    shutil.copytree(root / "results" / "reference", snap)
    (snap / name).write_text(damage((snap / name).read_text()))
    code = ("import sys; from pathlib import Path; from tools.results import main; import tools.results as r; "
            f"r.ROOT = Path({str(tmp_path)!r}); sys.argv = ['results.py', 'status', 'reference']; sys.exit(main())")
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]
    assert r.stderr.startswith("error: ") and says in r.stderr


def test_a_snapshot_without_runs_is_never_complete(tmp_path, root):
    import shutil

    from pipeline.snapshots.staleness import status_table
    snap = tmp_path / "reference"
    shutil.copytree(root / "results" / "reference", snap)
    (snap / "runs.json").write_text("[]")
    line = status_table(snap)
    assert "no runs recorded" in line and "complete" not in line and "matches" not in line


def test_the_status_line_counts_the_records_with_predictions(tmp_path, root):
    import json
    import shutil

    from pipeline.snapshots.staleness import status_table
    snap = tmp_path / "reference"
    shutil.copytree(root / "results" / "reference", snap)
    records = json.loads((snap / "runs.json").read_text())
    for r in records:
        r.setdefault("predictions", {"file": "predictions/x.npz", "sha256": "a" * 64})
    (snap / "runs.json").write_text(json.dumps(records))
    assert f"{len(records)} runs (" in status_table(snap) and "each with its per-example test predictions" in \
        status_table(snap)
    del records[0]["predictions"], records[1]["predictions"]
    (snap / "runs.json").write_text(json.dumps(records))
    assert f"; {len(records) - 2} with per-example test predictions)" in status_table(snap)
