"""The real DVC pipeline, end to end, in a temporary copy of the repository.

Runs `dvc repro` on an MNIST subset from the mirror, checks a second repro
reruns nothing, that `dvc exp run -S alpha=...` trains only the new run, and
that `dvc metrics diff` / `dvc params diff` / `dvc dag` show what they should.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.e2e_repo import DVC, built_repo, sh, tree_bytes  # noqa: F401 (built_repo: the fixture `repo`)


def test_repro_builds_every_stage_and_writes_results(repo):
    d, env, first = repo
    for stage in ("check_params", "download", "preprocess", "train", "calibrate", "project", "teacher@dropout",
                  "teacher@ls", "student@dropout", "student@ls", "sweep_teachers", "distill", "mutual_information",
                  "tokenize", "train_translation", "evaluate_translation", "tables"):
        assert f"Running stage '{stage}'" in first.stdout
    m = json.loads((d / "metrics/train.json").read_text())
    assert set(m["fcn"]["mnist"]) >= {"alpha_0", "alpha_0.1", "head_to_head"}
    assert 10.0 < m["fcn"]["mnist"]["alpha_0"]["test_acc"] <= 100.0
    assert set(m["alexnet"]["cifar10"]) == {"alpha_0", "alpha_0.1", "head_to_head"}  # not swept
    assert (d / "models/classifiers/fcn/mnist/alpha_0.1_seed_0/logits.pt").exists()
    assert (d / "models/classifiers/alexnet/cifar10/alpha_0_seed_0/snapshots/step_0000030.pt").exists()
    tables = (d / "metrics/tables.md").read_text()
    assert "MNIST" in tables and "| CIFAR-10 (lossy JPEG stand-in) | AlexNet | **ours** |" in tables
    assert "| CIFAR-10 (official) | AlexNet | replication |" in tables  # the papers ran the official files
    assert (d / "plots/train/fcn_mnist.csv").read_text().startswith("step,loss,run")
    # Every FCN without dropout trained stacked; the dropout teacher and the convnets alone.
    runs = {q.parent.relative_to(d / "models").as_posix(): json.loads(q.read_text())["execution"]["stack"]
            for q in (d / "models").glob("**/metrics.json")}
    assert runs["classifiers/fcn/mnist/alpha_0.1_seed_0"] and runs["distilled/figure7/m3_T_4_seed_0"]
    assert runs["students/ls/logits_seed_0"] and runs["sweep_teachers/figure7/alpha_0.3_seed_0"]
    assert not runs["teachers/dropout/seed_0"] and not runs["classifiers/alexnet/cifar10/alpha_0_seed_0"]
    meta = json.loads((d / "data/prepared/cifar10.json").read_text())
    assert meta["sizes"] == {"train": 40000, "val": 1000, "test": 10000, "official_train": 50000}
    # offline, the mirror has no official CIFAR-10: its JPEG stand-in was read, and every table says so
    assert meta["source"] == "cifar10_jpeg" and meta["title"] == "CIFAR-10 (lossy JPEG stand-in)"
    assert list((d / "data/raw/cifar10").iterdir()) == [d / "data/raw/cifar10/cifar10-jpeg.tar.gz"]
    tables = (d / "metrics/tables.md").read_text()
    assert "| CIFAR-10 (lossy JPEG stand-in) | AlexNet | **ours** |" in tables, tables
    assert "CIFAR-10 (official)" in tables


def test_mutual_information_stage_tracks_both_runs_within_its_bounds(repo):
    d, env, _ = repo
    mi = json.loads((d / "metrics/mutual_information.json").read_text())
    assert mi["n_examples"] == 16 and len(mi["indices"]) == 16
    for key in ("alpha_0", "alpha_0.1"):
        steps = [q["step"] for q in mi[key]["curve"]]
        assert steps == [0, 10, 20, 30]
        assert all(-0.1 <= q["mi"] <= mi["log_n"] + 1e-9 for q in mi[key]["curve"])
    flat = json.loads((d / "metrics/tables.json").read_text())
    assert "mutual_information/alpha=0.1/final" in flat
    assert (d / "plots/figures/mutual_information.png").stat().st_size > 10_000
    assert (d / "dvc.lock").exists()


def test_calibrate_stage_reports_ece_and_a_validation_fitted_temperature(repo):
    d, env, _ = repo
    cal = json.loads((d / "metrics/calibration.json").read_text())
    assert set(cal) == {"fcn", "alexnet"}
    for key in ("alpha_0", "alpha_0.1"):
        m = cal["fcn"]["mnist"][key]
        assert 0 <= m["test_ece"] <= 1 and m["temperature"] > 0
        # the NLL fit on validation data must not worsen validation NLL (ECE can rise slightly)
        assert m["val_nll_ts"] <= m["val_nll"] + 1e-12
    rows = json.loads((d / "plots/reliability/mnist_fcn.json").read_text())
    assert {r["curve"].split(",")[0] for r in rows} == {"hard labels", "label smoothing α=0.1"}
    assert len({r["curve"] for r in rows}) == 3
    assert (d / "plots/figures/reliability.png").stat().st_size > 10_000
    assert "Table 3" in (d / "metrics/tables.md").read_text()
    assert "table3/mnist/fcn/hard/temperature" in json.loads((d / "metrics/tables.json").read_text())


def test_translation_stages_write_bleu_calibration_and_the_test_translations(repo):
    from pipeline.io import load_tensors
    d, env, _ = repo
    tok = json.loads((d / "data/tokenized/multi30k.json").read_text())
    assert tok["stats"]["train"]["pairs"] == 29000 and len(tok["references"]["test"]) == 1000
    assert (d / "models/tokenizers/en.json").exists() and (d / "models/tokenizers/de.json").exists()
    tr = json.loads((d / "metrics/translation.json").read_text())
    assert set(tr) == {"alpha_0", "alpha_0.1"}
    for m in tr.values():
        assert 0 <= m["bleu_beam"] <= 100 and 0 <= m["test_ece"] <= 1 and m["temperature"] > 0
        assert m["bleu_sentences"] == 24 and m["signature"].startswith("nrefs:1|case:lc|")
        # every word piece + EOS of the first token_sentences (100) test sentences, no PAD
        n = load_tensors(d / "data/tokenized/multi30k.pt")["test"]["tgt"]["len"]
        extra = (int(n.sum()) - tok["stats"]["test"]["tgt_tokens"]) // 1000   # BOS/EOS a stored sentence adds
        assert m["tokens"] == int(n[:100].sum()) - 100 * (extra - 1)
    lines = (d / "models/translations/alpha_0.1_seed_0.beam.de").read_text().splitlines()
    assert len(lines) == 24
    bleu = json.loads((d / "plots/translation/bleu.json").read_text())
    assert [r["temperature"] for r in bleu if r["curve"] == "α=0"] == [0.5, 1.0, 2.0]
    tokens = json.loads((d / "plots/translation/temperature.json").read_text())
    assert [r["temperature"] for r in tokens if r["curve"] == "α=0"] == [0.5, 1.0, 1.5, 2.0]
    assert (d / "plots/figures/translation_temperature.png").stat().st_size > 10_000
    tables = (d / "metrics/tables.md").read_text()
    assert "## Translation" in tables and "**ours** (Multi30k, PAD excluded)" in tables
    assert "translation/alpha=0.1/bleu_beam" in json.loads((d / "metrics/tables.json").read_text())


@pytest.fixture(scope="module")
def plots_html(repo):
    d, env, _ = repo
    sh([DVC, "plots", "show", "-o", str(d / "dvc_plots")], d, env)
    return (d / "dvc_plots" / "index.html")


def test_plots_page_needs_no_network(plots_html):
    html = plots_html.read_text()
    assert "<script src" not in html and "cdn.jsdelivr" not in html
    assert html.count("vegaEmbed('#") >= 2           # training curves, reliability diagram
    assert "vega@5.20.2" in html and "vega-lite@5.2.0" in html and "vega-embed@6.18.2" in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_every_declared_plot_loads(repo):
    # DVC still renders the page when it drops a plot file (e.g. one whose rows differ in their keys)
    d, env, _ = repo
    out = json.loads(sh([DVC, "plots", "show", "--json"], d, env).stdout)
    assert not out.get("errors"), out["errors"]
    for want in ("BLEU against temperature (Figure 5)", "plots/translation/reliability.json", "plots/distill/",
                 "plots/mutual_information/", "plots/reliability/", "plots/train/"):
        assert any(k.startswith(want) for k in out["data"]), want


@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium to render the page: apt-get install chromium "
                    "(.ci/run installs it), then rerun this test")
def test_plots_page_really_draws_every_chart_offline(plots_html, tmp_path):
    html = plots_html.read_text()
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=15000", "--dump-dom", plots_html.as_uri()],
        capture_output=True, text=True, timeout=600).stdout  # a bound for a slow machine
    charts = html.count("vegaEmbed('#")
    assert dom.count('class="marks"') == charts, "a chart was not drawn"


def test_project_stage_writes_recorded_samples_and_cluster_metrics(repo):
    d, env, _ = repo
    proj = json.loads((d / "metrics/projection.json").read_text())["fcn"]["mnist"]
    assert set(proj) == {"alpha_0", "alpha_0.1", "sample"}
    assert proj["sample"] == {"seed": 0, "per_class": 50, "classes": ["0", "1", "2"], "heldout_split": "val"}
    for split in ("train", "val"):
        m = proj["alpha_0.1"][split]
        assert m["tightness"] > 0 and m["equidistance"] >= 0
    rows = json.loads((d / "plots/projection/mnist_fcn.json").read_text())
    assert len(rows) == 2 * 2 * 3 * 50
    train_idx = [r["index"] for r in rows if r["split"] == "train" and r["panel"].startswith("α=0,")]
    assert len(set(train_idx)) == 150                    # without replacement, indices recorded
    assert (d / "plots/figures/projection.png").stat().st_size > 10_000


def test_distillation_stages_write_table4_and_figure7(repo):
    d, env, _ = repo
    for name in ("dropout", "ls"):
        m = json.loads((d / f"metrics/table4/{name}.json").read_text())
        assert set(m) == {"teacher", "n_seeds", "student_logits", "student_probabilities"}
        assert 0 <= m["student_logits"]["error"] <= 100
        assert (d / f"models/teachers/{name}/seed_0/model.pt").exists()
    pts = json.loads((d / "plots/distill/figure7.json").read_text())
    curves = {r["curve"].split()[0] for r in pts}
    assert curves == {"M1", "M2", "M3", "M4"}
    m3 = sorted((r for r in pts if r["curve"].startswith("M3")), key=lambda r: r["temperature"])
    assert m3[0]["gamma"] < m3[1]["gamma"]          # a hotter teacher is smoother
    assert all(r["gamma"] == r["alpha"] for r in pts if r["curve"][:2] in ("M1", "M2"))
    assert "Table 4" in (d / "metrics/tables.md").read_text()


def test_changing_one_teacher_reruns_exactly_its_students(repo):
    d, env, _ = repo
    st = sh([DVC, "status", "--json"], d, env).stdout
    assert json.loads(st) == {}
    p = yaml.safe_load((d / "params.yaml").read_text())
    p["distill"]["table4"]["teachers"]["dropout"]["dropout"] = 0.4
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    changed = set(json.loads(sh([DVC, "status", "--json"], d, env).stdout))
    assert {"teacher@dropout"} <= changed and not changed & {"teacher@ls", "student@ls", "sweep_teachers", "distill"}
    r = sh([DVC, "repro"], d, env)
    ran = {line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"check_params", "teacher@dropout", "student@dropout", "tables"}
    # the repo stays at dropout 0.4: its lock matches its params, which is all the later tests need


def test_a_failing_stage_loses_nothing_and_the_fix_reruns_only_what_is_needed(repo):
    d, env, _ = repo
    before = tree_bytes(d)
    p = yaml.safe_load((d / "params.yaml").read_text())
    good = p["calibrate"]["n_bins"]
    p["calibrate"]["n_bins"] = 0          # only the calibrate stage reads it
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    r = sh([DVC, "repro"], d, env, check=False)
    assert r.returncode != 0
    assert "calibrate.n_bins = 0" in r.stderr + r.stdout
    ran = {line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage")}
    assert "check_params" in ran and ran <= {"check_params", "calibrate"}   # stopped before any other work
    assert tree_bytes(d) == before          # every result, model and cache file is as it was
    p["calibrate"]["n_bins"] = good
    (d / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    r = sh([DVC, "repro"], d, env)
    assert "Running stage" not in r.stdout  # the previous results still match: nothing to redo
    assert tree_bytes(d) == before


def test_an_unknown_params_key_stops_dvc_repro_in_one_line(repo):
    d, env, _ = repo
    text = (d / "params.yaml").read_text()
    (d / "params.yaml").write_text(text + "alpah: 0.2\n")   # a typo of `alpha`, which no other stage reads
    try:
        r = sh([DVC, "repro"], d, env, check=False)
        assert r.returncode != 0 and "alpah" in r.stderr + r.stdout
        assert {line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage")} == \
            {"check_params"}
    finally:
        (d / "params.yaml").write_text(text)


def test_second_repro_reruns_nothing(repo):
    d, env, _ = repo
    r = sh([DVC, "repro"], d, env)
    assert "Running stage" not in r.stdout
    assert "up to date" in sh([DVC, "status"], d, env).stdout
    # bytecode caches (present on one machine, absent on a fresh clone) are not code changes
    cache = d / "pipeline" / "training" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "extra.cpython-311.pyc").write_bytes(b"\0" * 64)
    assert "up to date" in sh([DVC, "status"], d, env).stdout


def test_preprocess_output_is_byte_stable(repo):
    """Identical inputs give identical bytes, so downstream runs stay reusable."""
    d, env, _ = repo
    before = (d / "data/prepared/mnist.pt").read_bytes(), (d / "data/prepared/mnist.json").read_bytes()
    # The stage's own function on MNIST (the whole stage also decodes 60,000 JPEGs: 100 s here).
    sh([sys.executable, "-c", "from pipeline.stages.preprocess import prepare; prepare('mnist', 1000, 0, 'heldout')"],
       d, env)
    assert ((d / "data/prepared/mnist.pt").read_bytes(), (d / "data/prepared/mnist.json").read_bytes()) == before


def test_dag_lists_the_stages_in_order(repo):
    d, env, _ = repo
    out = sh([DVC, "dag", "--dot"], d, env).stdout
    for a, b in [("download", "preprocess"), ("preprocess", "train"), ("train", "tables")]:
        assert f'"{a}" -> "{b}"' in out


def test_exp_run_alpha_trains_only_the_new_run_and_diffs_show_it(repo):
    d, env, _ = repo
    sh(["git", "add", "-A"], d, env)
    sh(["git", "commit", "-qm", "results"], d, env)
    # -S with a bare exponent: the stage reads the float that `dvc params diff` shows (tests/test_yaml12.py: the
    # same for a bare exponent typed into params.yaml, which YAML 1.1 would read as a string).
    r = sh([DVC, "exp", "run", "-S", "alpha=0.3", "-S", "calibrate.t_grid_min=1e-1"], d, env)
    assert "alpha=0 seed=0: test acc" in r.stdout and "(reused)" in r.stdout
    assert "Running stage 'download'" not in r.stdout
    m = json.loads((d / "metrics/train.json").read_text())["fcn"]
    assert m["mnist"]["head_to_head"]["alpha"] == 0.3 and "alpha_0.3" in m["mnist"]
    diff = sh([DVC, "metrics", "diff", "--json"], d, env).stdout
    assert "alpha_0.3" in diff
    pdiff = json.loads(sh([DVC, "params", "diff", "--json"], d, env).stdout)
    assert (pdiff["params.yaml"]["alpha"]["old"], pdiff["params.yaml"]["alpha"]["new"]) == (0.1, 0.3)
    assert pdiff["params.yaml"]["calibrate.t_grid_min"]["new"] == 0.1
    assert "Running stage 'calibrate'" in r.stdout
    from pipeline.config import load_params
    assert load_params(d / "params.yaml")["calibrate"]["t_grid_min"] == 0.1


def test_bad_mirror_file_fails_the_download_stage_with_the_hashes(repo, tmp_path, mirror):
    d, env, _ = repo
    bad = tmp_path / "mirror"
    shutil.copytree(mirror / "MNIST", bad / "MNIST")
    target = bad / "MNIST/raw/t10k-labels-idx1-ubyte.gz"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    shutil.rmtree(d / "data/raw/mnist")
    r = sh([sys.executable, "-m", "pipeline.stages.download"], d, {**env, "DATA_MIRROR": str(bad)}, check=False)
    assert r.returncode == 2
    assert "t10k-labels-idx1-ubyte.gz" in r.stderr and "expected sha256 f7ae60f9" in r.stderr
    assert not (d / "data/raw/mnist/t10k-labels-idx1-ubyte.gz").exists()
