"""params.yaml is read as DVC reads it: pipeline/config/yaml12.py against ruamel (DVC's parser)."""
from __future__ import annotations

import math
from io import StringIO
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from pipeline.config import yaml12

ROOT = Path(__file__).resolve().parents[1]

SCALARS = ["1e-4", "1.0e-9", "-2E+3", "0.0001", ".5", "-.5", "1.", "+1", "012", "0", "-7", "0o17", "0x1F",
           "on", "off", "yes", "no", "y", "n", "true", "True", "FALSE", "null", "~", "Null", "", ".inf",
           "-.inf", "+.INF", ".nan", "1_000", "1:20", "2001-12-14", "0b101", "1e4", "12e03", "3.14", "abc",
           "'1e-4'", '"on"', "0.1.2", "1e", "e4", "+", "-0x1F", "0x_1F", "1_0.5"]


def ruamel_load(text: str):
    return YAML(typ="safe", pure=True).load(StringIO(text))


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("scalar", SCALARS)
def test_each_scalar_reads_as_ruamel_reads_it(scalar):
    ours, theirs = yaml12.load(f"k: {scalar}\n")["k"], ruamel_load(f"k: {scalar}\n")["k"]
    assert same(ours, theirs), (scalar, ours, theirs)


def test_the_values_pyyaml_gets_wrong_are_right_here():
    doc = "lr: 1e-4\nflag: on\nn: 012\nyes: 1\n"
    assert yaml.safe_load(doc) == {"lr": "1e-4", "flag": True, "n": 10, True: 1}  # YAML 1.1, the old reader
    assert yaml12.load(doc) == {"lr": 1e-4, "flag": "on", "n": 12, "yes": 1}


def test_params_yaml_reads_the_same_as_dvc_reads_it():
    text = (ROOT / "params.yaml").read_text()
    assert yaml12.load(text) == ruamel_load(text)


def test_a_params_file_with_a_bare_exponent_gives_a_float_to_the_stages(tmp_path):
    from pipeline.config import load_params
    text = (ROOT / "params.yaml").read_text().replace("t_grid_min: 0.25", "t_grid_min: 25e-2")
    assert "t_grid_min: 25e-2" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load_params(tmp_path / "params.yaml")["calibrate"]["t_grid_min"] == 0.25
