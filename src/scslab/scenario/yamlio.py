"""Scenario YAML: a strict safe loader and the ``!replace`` tag.

In a derived file (``base: national``) every mapping merges key by key into the base's
resolved values. A mapping tagged ``!replace`` is taken as written instead: what it
leaves out gets the schema default, as in a file without ``base:``::

    policy:
      rules: !replace {court_default: 0}   # only this rule; no other act scores

The loader is a :class:`yaml.SafeLoader`: it builds plain data only (mappings, lists,
scalars and :class:`Replace`, a ``dict``); every other tag is refused.
"""

from __future__ import annotations

from typing import Any

import yaml

from scslab.errors import ScenarioError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "MAX_NODES", "REPLACE_TAG", "Replace", "plain"]

MAX_NODES = 20_000
MAX_DEPTH = 64
MAX_INT_DIGITS = 400
REPLACE_TAG = "!replace"


class Replace(dict):
    """A mapping marked ``!replace``: it replaces the base's mapping instead of merging."""


def plain(obj: Any) -> Any:
    """``obj`` with every :class:`Replace` turned into a plain ``dict`` (recursively)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML loader that refuses hostile or ambiguous input while parsing.

    It refuses aliases (alias bombs), duplicate keys, unknown tags, nesting deeper than
    MAX_DEPTH and more than MAX_NODES nodes, before anything is expanded or built.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._nesting = 0
        self._nodes = 0

    def compose_node(self, parent, index):  # noqa: D401
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ScenarioError(
                f"YAML aliases (*{event.anchor}) are not allowed in scenario files "
                f"(line {event.start_mark.line + 1}); write the values out")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            line = self.peek_event().start_mark.line + 1
            raise ScenarioError(f"more than {MAX_NODES:,} values (at line {line}); a scenario "
                                "file is much smaller than that")
        return super().compose_node(parent, index)

    def _nest(self, compose, anchor):
        self._nesting += 1
        if self._nesting > MAX_DEPTH:
            line = self.peek_event().start_mark.line + 1
            raise ScenarioError(f"nesting too deep (limit {MAX_DEPTH} levels, line {line})")
        try:
            return compose(anchor)
        finally:
            self._nesting -= 1

    def compose_sequence_node(self, anchor):
        return self._nest(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor):
        return self._nest(super().compose_mapping_node, anchor)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hashable = key in seen
            except TypeError:
                raise ScenarioError(f"a mapping key at line {key_node.start_mark.line + 1} is "
                                    "a list or a mapping; keys must be names") from None
            if hashable:
                raise ScenarioError(f"duplicate key {key!r} at line "
                                    f"{key_node.start_mark.line + 1}; each key may appear once")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise ScenarioError(f"a number with {digits:,} digits at line "
                                f"{node.start_mark.line + 1}; that is not a sensible value")
        return super().construct_yaml_int(node)

    def construct_refused_tag(self, node):
        raise ScenarioError(
            f"not valid YAML at line {node.start_mark.line + 1}: the tag "
            f"{_short_tag(node.tag)} is not allowed; scenario files hold plain data "
            "(mappings, lists, numbers, text), no language-specific tags")


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor(None, _StrictLoader.construct_refused_tag)


def _construct_replace(loader: _StrictLoader, node: yaml.Node) -> Replace:
    if not isinstance(node, yaml.MappingNode):
        what = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        raise ScenarioError(
            f"{REPLACE_TAG} at line {node.start_mark.line + 1} is on {what}; it marks a "
            "mapping that replaces the base's mapping whole (lists and values always "
            "replace whole, no tag needed)")
    return Replace(loader.construct_mapping(node, deep=True))


_StrictLoader.add_constructor(REPLACE_TAG, _construct_replace)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
