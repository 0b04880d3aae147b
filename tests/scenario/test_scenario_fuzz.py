"""Fuzzing the loader: whatever a user writes, only ScenarioError may escape."""

from __future__ import annotations

import copy
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab.errors import ScenarioError
from scslab.scenario import Scenario, load_scenario
from scslab.scenario.loader import parse_set, parse_yaml_text, resolve_raw

FUZZ = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

DEFAULTS = Scenario().model_dump(mode="json")


def _paths(node, prefix=()):
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(DEFAULTS) + _paths(resolve_raw("national")) + _paths(resolve_raw("rm1"))
KEYS = sorted({str(p[-1]) for p in PATHS if isinstance(p[-1], str)})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["national", "rm1", "transparent", "1e3", "0x10", "yes", "~", "-0.5"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers(-2, 20), st.booleans(),
                 st.none(), st.floats(allow_nan=False))
trees = st.recursive(scalars, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                   st.dictionaries(keys, ch, max_size=5)),
                     max_leaves=25)
bases = st.one_of(st.sampled_from(["national", "rm1", "transparent", "natinal", "x.yaml", ""]),
                  st.text(alphabet=string.ascii_letters, max_size=10), st.integers(), st.none(),
                  st.lists(st.integers(), max_size=2))


def _only_scenario_errors(fn, *args):
    try:
        fn(*args)
    except ScenarioError as e:
        assert str(e)


@FUZZ
@given(st.dictionaries(keys, trees, max_size=8), bases, st.booleans())
def test_random_mappings(data, base, with_base):
    if with_base:
        data = {**data, "base": base}
    else:
        data.pop("base", None)
    _only_scenario_errors(load_scenario, data)


@FUZZ
@given(st.sampled_from(["national", "rm1", "transparent", None]),
       st.lists(st.tuples(st.sampled_from(PATHS), trees), min_size=1, max_size=3))
def test_random_values_at_real_paths(base, mutations):
    data = copy.deepcopy(DEFAULTS) if base is None else resolve_raw(base)
    for path, value in mutations:
        node = data
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    _only_scenario_errors(load_scenario, data)


@FUZZ
@given(trees)
def test_random_top_level_values(value):
    _only_scenario_errors(load_scenario, {"days": value})
    _only_scenario_errors(load_scenario, {"population": value})


@FUZZ
@given(st.text(max_size=60))
def test_parse_set_random_text(expr):
    _only_scenario_errors(parse_set, expr)
    _only_scenario_errors(load_scenario, "rm1", [expr])


@FUZZ
@given(st.sampled_from([".".join(map(str, p)) for p in PATHS]),
       st.one_of(st.text(max_size=12), st.integers().map(str), st.floats().map(repr),
                 st.sampled_from(["[1, 2]", "{a: 1}", "&a 1", "*a", "!!python/object:os.system",
                                  "true", "null", "- x", ": :"])))
def test_set_real_paths_with_random_values(path, value):
    _only_scenario_errors(load_scenario, "national", [f"{path}={value}"])


yaml_fragments = st.sampled_from([
    "days: 3\n", "base: national\n", "base: rm1\n", "population:\n", "  agents: 10\n",
    "  regions: [{name: a, share: 1}]\n", "policy:\n", "  rules: {fraud: -5}\n", "- x\n",
    "{", "}", "[", "]", ": ", "&a ", "*a", "!!python/name:os.system ", "'", '"', "\t",
    "seed: -1\n", "days: .nan\n", "a: b: c\n", "? x\n", "%YAML 1.1\n---\n", "--- !!map\n",
    "population: {households: {size_shares: {0: 1}}}\n",
])


@FUZZ
@given(st.lists(st.one_of(yaml_fragments, st.text(max_size=5)), max_size=12))
def test_random_yaml_text(tmp_path_factory, parts):
    text = "".join(parts)
    _only_scenario_errors(parse_yaml_text, text, "fuzz")
    p = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    p.write_text(text, encoding="utf-8")
    _only_scenario_errors(load_scenario, p)


@FUZZ
@given(st.binary(max_size=64))
def test_random_bytes(tmp_path_factory, blob):
    _only_scenario_errors(parse_yaml_text, blob, "fuzz")


def test_python_tags_are_refused(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("days: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    try:
        load_scenario(p)
    except ScenarioError as e:
        assert "not valid YAML" in str(e)
    else:  # pragma: no cover - the safe loader must refuse the tag
        raise AssertionError("a python tag was accepted")
    assert yaml.safe_load("days: 3") == {"days": 3}
