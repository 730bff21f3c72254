"""Where the pipeline's artefacts live. Stages import paths from here, never from each other."""
from __future__ import annotations

from pathlib import Path

RAW = Path("data/raw")                         # download: raw/<dataset>/<official file names>
QUARANTINE = Path("data/quarantine")           # files that failed verification: <dataset>/<name>.bad (no output)
# (the prepared tensors' folder, data/prepared, is pipeline/data/prepared.py's PREPARED_DIR)
CLASSIFIERS = Path("models/classifiers")      # Tables 2/3: classifiers/<arch>/<dataset>/alpha_<a>_seed_<s>
TRAIN_METRICS = Path("metrics/train.json")
TRAIN_CURVES = Path("plots/train")
CALIBRATION_METRICS = Path("metrics/calibration.json")
RELIABILITY_PLOTS = Path("plots/reliability")
PROJECTION_METRICS = Path("metrics/projection.json")
PROJECTION_PLOTS = Path("plots/projection")
FIGURES = Path("plots/figures")
TEACHERS = Path("models/teachers")             # Table 4 teachers: teachers/<name>/seed_<s>
STUDENTS = Path("models/students")             # Table 4 students: students/<name>/<variant>_seed_<s>
SWEEP_TEACHERS = Path("models/sweep_teachers")  # Figure 7 teachers: alpha_<a>_seed_<s>
DISTILLED = Path("models/distilled")           # Figure 7 students
TABLE4_METRICS = Path("metrics/table4")        # <name>.json per Table 4 teacher
DISTILL_METRICS = Path("metrics/distill.json")
DISTILL_PLOTS = Path("plots/distill")
MI_METRICS = Path("metrics/mutual_information.json")
MI_PLOTS = Path("plots/mutual_information")
TOKENIZERS = Path("models/tokenizers")         # {en,de}.json
TOKENIZED = Path("data/tokenized")              # multi30k.pt (ids), multi30k.json (sizes, references)
TRANSLATION = Path("models/translation")       # Transformers: alpha_<a>_seed_<s>
TRANSLATION_TRAIN_METRICS = Path("metrics/translation_train.json")
TRANSLATION_METRICS = Path("metrics/translation.json")
TRANSLATION_CURVES = Path("plots/translation_train.csv")
TRANSLATION_PLOTS = Path("plots/translation")
TRANSLATIONS = Path("models/translations")     # decoded test sets, for rescoring: alpha_<a>_seed_<s>.<decoder>.de
# Every folder that holds classifier runs: a run with the same key in one is adopted by another.
RUN_ROOTS = [CLASSIFIERS, TEACHERS, STUDENTS, SWEEP_TEACHERS, DISTILLED]
TABLES_MD = Path("metrics/tables.md")
TABLES_JSON = Path("metrics/tables.json")


def alpha_key(alpha: float) -> str:
    """``alpha_0``, ``alpha_0.05``, …: the key of a smoothing constant in metrics and folder names."""
    return f"alpha_{alpha:g}"


def run_dir(arch: str, dataset: str, alpha: float, seed: int) -> Path:
    """The Table 2/3 run of ``arch`` on ``dataset`` with label smoothing ``alpha``."""
    return CLASSIFIERS / arch / dataset / f"{alpha_key(alpha)}_seed_{seed}"


def translation_run_dir(alpha: float, seed: int) -> Path:
    """The Transformer trained with label smoothing ``alpha``."""
    return TRANSLATION / f"{alpha_key(alpha)}_seed_{seed}"
