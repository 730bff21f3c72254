"""Plant each defect the tests are meant to pin, one at a time, and check that its test fails.

    python tools/planted_bugs.py          # a line per defect: caught / MISSED, and the test's summary

Each entry is a one-line bug that once passed the fast tests (or a defect of the replication's code):
the file, the text it replaces, the bug, and the test that must fail. The file is restored after each
run (also on Ctrl-C). Exit status 1 if any defect is missed. About a minute on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
P = [
    (
        "fit_temperature reports nll_before at the fitted T",
        "pipeline/formulas/reliability.py",
        "nll_before=nll(z, y),",
        "nll_before=nll(z, y, t),",
        "tests/test_pinned_defects.py::test_nll_before_is_at_t_1_and_the_fit_lowers_validation_nll",
    ),
    (
        "equidistance with the unbiased std",
        "pipeline/formulas/template_plane.py",
        "dists.std(unbiased=False)",
        "dists.std(unbiased=True)",
        "tests/test_pinned_defects.py::test_cluster_metrics_against_hand_computed_values",
    ),
    (
        "spread as a mean distance, not the RMS",
        "pipeline/formulas/template_plane.py",
        ".sum(1).mean().sqrt()",
        ".sum(1).sqrt().mean()",
        "tests/test_pinned_defects.py::test_cluster_metrics_against_hand_computed_values",
    ),
    (
        "beam: a finished hypothesis scored with the previous step's length penalty",
        "pipeline/text/decoding.py",
        "top / _penalty(step + 1, length_penalty)",
        "top / _penalty(step, length_penalty)",
        "tests/test_pinned_defects.py::test_beam_scores_a_finished_hypothesis_with_its_own_length_penalty",
    ),
    (
        "beam: the early-stop bound at the wrong length",
        "pipeline/text/decoding.py",
        "score.max(1).values / _penalty(max_len, length_penalty)",
        "score.max(1).values / _penalty(max_len - 1, length_penalty)",
        "tests/test_pinned_defects.py::test_beam_stops_only_when_no_live_hypothesis_can_still_win",
    ),
    (
        "random_shift never draws +max_shift",
        "pipeline/data/augment.py",
        "torch.randint(0, k, (2, b)",
        "torch.randint(0, k - 1, (2, b)",
        "tests/test_pinned_defects.py::test_random_shift_draws_every_offset_including_the_largest",
    ),
    (
        "random_crop never draws the last offset",
        "pipeline/data/augment.py",
        "torch.randint(0, h - size + 1,",
        "torch.randint(0, h - size,",
        "tests/test_pinned_defects.py::test_random_crop_draws_every_offset_including_the_last",
    ),
    (
        "AlexNet TF-SAME pooling pads left/top",
        "pipeline/models/alexnet.py",
        "F.pad(x, (0, 1, 0, 1)",
        "F.pad(x, (1, 0, 1, 0)",
        "tests/test_pinned_defects.py::test_alexnet_pooling_pads_right_and_bottom_as_tensorflow_same",
    ),
    (
        "EpochBatches ignores its seed",
        "pipeline/training/loop.py",
        "manual_seed(self.seed * 1_000_003 + epoch)",
        "manual_seed(epoch)",
        "tests/test_pinned_defects.py::test_epoch_batches_depend_on_their_seed_and_only_on_it",
    ),
    (
        "run_key does not hash the data file",
        "pipeline/training/run.py",
        "    h.update(bytes.fromhex(data_sha256))\n",
        "",
        "tests/test_integrity.py::test_the_run_key_hashes_the_data_file",
    ),
    (
        "a finished run is reused whatever its key",
        "pipeline/training/run.py",
        '(m := read_json(done)).get("key") == key',
        "(m := read_json(done)) is not None",
        "tests/test_integrity.py::test_a_finished_run_with_another_key_is_not_reused",
    ),
    (
        "t_grid_max == t_grid_min accepted",
        "pipeline/config/checks.py",
        'if c["t_grid_max"] <= c["t_grid_min"]:',
        'if c["t_grid_max"] < c["t_grid_min"]:',
        "tests/test_pinned_defects.py::test_an_empty_temperature_grid_is_refused",
    ),
    (
        "the Transformer's T fitted on the test tokens",
        "pipeline/text/evaluate.py",
        "fit = cal.fit_temperature(zv, yv)",
        "fit = cal.fit_temperature(zt, yt)",
        "tests/test_pinned_defects.py::test_transformer_temperature_is_fitted_on_validation_never_on_test",
    ),
    (
        "a damaged Transformer run reused",
        "pipeline/text/translation_run.py",
        "    finished = reuse_or_clear(run_dir, key, describe(cfg))\n",
        "    finished = (__import__('json').loads((run_dir / 'metrics.json').read_text())\n"
        "                if (run_dir / 'model.pt').exists() else reuse_or_clear(run_dir, key, describe(cfg)))\n",
        "tests/test_integrity.py::test_a_damaged_transformer_run_is_retrained_not_reused",
    ),
    (
        "Transformer embeddings left at N(0, 1)",
        "pipeline/models/transformer.py",
        "                if w.dim() > 1:\n",
        "                if w.dim() > 1 and w is not self.src_emb.weight:\n",
        "tests/test_pinned_defects.py::test_the_transformer_is_built_as_the_replications_get_model",
    ),
    (
        "data.val_size not checked against the dataset",
        "pipeline/config/checks.py",
        "        elif size > n_train // 2:",
        "        elif False:",
        "tests/test_config.py",
    ),
    (
        "epochs converted with the official (not the real) training size",
        "pipeline/run_configs.py",
        'n = read_json(prepared.paths(dataset)[1])["sizes"]["train"]',
        'n = read_json(prepared.paths(dataset)[1])["sizes"]["train"] + 600',
        "tests/test_pinned_defects.py::test_epoch_schedules_convert_with_the_real_training_split",
    ),
    (
        "Figure 2 examples augmented without the param",
        "pipeline/stages/project.py",
        'if split == "train" and train_augmented else',
        'if split == "train" else',
        "tests/test_pinned_defects.py::test_figure2_examples_are_drawn_without_augmentation_unless_the_param_says_so",
    ),
    (
        "a raw file read without verification",
        "pipeline/stages/preprocess.py",
        "    spec = verify_dataset(registry.get(name), RAW / name)  # also outside DVC; the official files or a "
        "stand-in\n",
        "    spec = registry.get(name)\n",
        "tests/test_fetch.py::test_a_stage_reading_an_altered_file_refuses_it_and_names_it",
    ),
    (
        "a quarantined file left in the output folder",
        "pipeline/data/fetch.py",
        '    bad = quarantine / (path.name + ".bad")\n',
        '    bad = path.with_name(path.name + ".bad")\n',
        "tests/test_fetch.py",
    ),
    (
        "a stage importing the training loop for its error class",
        "pipeline/stage.py",
        "import sys\nfrom typing import Callable\n",
        "import sys\nfrom typing import Callable\n\nfrom .training.loop import DivergenceError  # noqa: F401\n",
        "tests/test_stage_deps.py::test_every_stage_depends_on_every_file_it_imports",
    ),
    (
        "the convnets' cross-entropy x3 dropped for label-smoothed runs",
        "pipeline/training/run.py",
        'label_smoothing_ce(z, y, spec["alpha"], spec.get("scale", 1.0))',
        'label_smoothing_ce(z, y, spec["alpha"])',
        "tests/test_paper_settings.py::test_the_loss_is_cross_entropy_times_the_papers_scale_with_and_without_smoothing",
    ),
    (
        "ResNet-56's random flip dropped",
        "pipeline/data/inputs.py",
        'x = augment.random_flip(augment.random_shift(x, cfg["pad"], gen), gen)',
        'x = augment.random_shift(x, cfg["pad"], gen)',
        "tests/test_paper_settings.py::test_resnet56_pads_by_4_crops_back_and_flips",
    ),
    (
        "AlexNet's random flip dropped",
        "pipeline/data/inputs.py",
        'x = augment.random_flip(augment.random_crop(x, cfg["crop"], gen), gen)',
        'x = augment.random_crop(x, cfg["crop"], gen)',
        "tests/test_paper_settings.py::test_alexnet_crops_24_and_flips_for_training_and_takes_the_centre_at_test",
    ),
    (
        "the FCN's shift fixed at 1 px",
        "pipeline/data/inputs.py",
        'x = augment.random_shift(x, cfg["max_shift"], gen)',
        "x = augment.random_shift(x, 1, gen)",
        "tests/test_paper_settings.py::test_the_fcn_shifts_by_up_to_2_pixels_without_flipping",
    ),
    (
        "dropout rate read as a keep probability",
        "pipeline/models/fcn.py",
        "blocks.append(nn.Dropout(dropout))",
        "blocks.append(nn.Dropout(1 - dropout))",
        "tests/test_paper_settings.py::test_dropout_is_a_drop_probability",
    ),
    (
        "ResNet-56's projection shortcut on the raw input",
        "pipeline/models/resnet56.py",
        "self.shortcut(pre)",
        "self.shortcut(x)",
        "tests/test_paper_settings.py::test_resnet56_projection_shortcut_takes_the_pre_activated_input",
    ),
    (
        "AlexNet's LRN before the first pool",
        "pipeline/models/alexnet.py",
        "x = self.norm(self.pool(F.relu(self.conv1(x))))",
        "x = self.pool(self.norm(F.relu(self.conv1(x))))",
        "tests/test_paper_settings.py::test_alexnet_pools_then_normalises_in_block_1_and_normalises_then_pools_in_block_2",
    ),
    (
        "the linear decay one step ahead",
        "pipeline/training/builders.py",
        "max(0.0, 1.0 - t / steps)",
        "max(0.0, 1.0 - (t + 1) / steps)",
        "tests/test_paper_settings.py::test_the_linear_schedule_starts_at_the_full_rate_and_ends_at_zero",
    ),
    (
        "the per-layer SGD without its dampening",
        "pipeline/training/builders.py",
        "momentum=momentum, dampening=dampening,",
        "momentum=momentum, dampening=0.0,",
        "tests/test_paper_settings.py::test_the_fcn_optimiser_is_built_with_the_papers_rates_momentum_and_dampening",
    ),
    (
        "gradients clipped by value, not by global norm",
        "pipeline/training/loop.py",
        "nn.utils.clip_grad_norm_(model.parameters(), spec.clip_grad_norm)",
        "nn.utils.clip_grad_value_(model.parameters(), spec.clip_grad_norm)",
        "tests/test_paper_settings.py::test_gradients_are_clipped_by_their_global_norm",
    ),
    (
        "a milestone taking effect one step late",
        "pipeline/training/builders.py",
        "g ** sum(t >= m for m in ms)",
        "g ** sum(t > m for m in ms)",
        "tests/test_paper_settings.py::test_the_convnet_schedules_divide_the_rate_at_mullers_steps",
    ),
    # Written after the tests they meet (the verdict rule, snapshot records and pages, run-folder integrity):
    (
        "Holm's adjusted p-values not made monotone",
        "pipeline/formulas/verdict.py",
        "running = max(running, min(1.0, (m - i) * c[\"p\"]))",
        "running = min(1.0, (m - i) * c[\"p\"])",
        "tests/test_verdict.py",
    ),
    (
        "Welch-Satterthwaite without the n - 1",
        "pipeline/formulas/verdict.py",
        "(va ** 2 / (na - 1) + vb ** 2 / (nb - 1))",
        "(va ** 2 / na + vb ** 2 / nb)",
        "tests/test_verdict.py",
    ),
    (
        "a one-sided p-value",
        "pipeline/formulas/verdict.py",
        "p = 2 * _t.t.sf(abs(d) / se, df)",
        "p = _t.t.sf(abs(d) / se, df)",
        "tests/test_verdict.py",
    ),
    (
        "pooled degrees of freedom counting every run",
        "pipeline/formulas/verdict.py",
        "df = sum(len(g) - 1 for g in used)",
        "df = sum(len(g) for g in used)",
        "tests/test_verdict.py",
    ),
    (
        "Figure 7's M4 run left out of the difference's variance",
        "pipeline/reporting/claims_distillation.py",
        "factor = (1 - w) ** 2 / len(a0) + w ** 2 / len(a1) + 1 / len(acc)",
        "factor = (1 - w) ** 2 / len(a0) + w ** 2 / len(a1)",
        "tests/test_verdict.py",
    ),
    (
        "Müller's calibration claim tested on any network not under-confident",
        "pipeline/reporting/claims.py",
        "if gap0 <= OVERCONFIDENT_MARGIN:",
        "if gap0 <= 0:",
        "tests/test_verdict.py",
    ),
    (
        "aliases counted as trainings",
        "pipeline/snapshots/records.py",
        "return len({r[\"key\"] for r in records})",
        "return len(records)",
        "tests/test_snapshot_records.py",
    ),
    (
        "a run's training subset ignored in its recorded size",
        "pipeline/snapshots/writer.py",
        "min(prepared[\"train\"], cap) if cap else prepared[\"train\"]",
        "prepared[\"train\"]",
        "tests/test_snapshot_records.py",
    ),
    (
        "a figure not made at scale linked without saying so",
        "pipeline/snapshots/pages.py",
        "return text if name in at_scale else",
        "return text if True else",
        "tests/test_snapshot_pages.py",
    ),
    (
        "damaged run files not checked before the runs are sorted",
        "pipeline/training/many.py",
        "        drop_damaged_state(job.run_dir, describe(job.cfg))\n",
        "",
        "tests/test_backend.py::test_a_truncated_state_or_metrics_file_is_set_aside_and_the_run_trains_again_identically",
    ),
    (
        "a finished run's metrics never sealed",
        "pipeline/training/many.py",
        "            seal(j.run_dir)\n",
        "",
        "tests/test_backend.py::test_a_finished_runs_metrics_changed_by_hand_are_not_reused",
    ),
]


def main() -> int:
    rows = []
    for name, f, old, new, test in P:
        rows.append(check(name, ROOT / f, old, new, test))
        print(" | ".join(rows[-1]), flush=True)
    return 1 if any(r[2] == "MISSED" for r in rows) else 0


def check(name: str, p: Path, old: str, new: str, test: str) -> tuple[str, str, str, str]:
    orig = p.read_text()
    if orig.count(old) != 1:
        return name, test, "MISSED", f"the text to replace is not in {p} exactly once: update this table"
    p.write_text(orig.replace(old, new))
    try:
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        last = ([ln for ln in r.stdout.splitlines() if ln.strip()] or ["no output"])[-1]
        return name, test.split("::")[-1], "caught" if r.returncode != 0 else "MISSED", last
    finally:
        p.write_text(orig)


if __name__ == "__main__":
    sys.exit(main())
