from __future__ import annotations

import pytest

from visualizer.errors import ClassNameError
from visualizer.mapping.classes import class_name, resolve_class, resolve_classes, search_classes


@pytest.mark.parametrize(
    ("spec", "index"),
    [
        ("tiger", 292),
        ("volcano", 980),
        ("Tiger", 292),
        ("  great_white-shark ", 2),  # case, spaces, _ and - are ignored
        ("Panthera tigris", 292),  # a WordNet synonym
        ("crane bird", 134),
        ("construction crane", 517),
        (0, 0),
        (999, 999),
        ("42", 42),
    ],
)
def test_resolve_class(spec, index):
    assert resolve_class(spec) == index


def test_all_1000_names_resolve_to_themselves():
    names = [class_name(i) for i in range(1000)]
    assert len(set(names)) == 1000
    assert resolve_classes(names) == list(range(1000))
    assert class_name(0) == "tench" and class_name(999) == "toilet paper"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ClassNameError, match=r"unknown class 'tigre' \(did you mean 'tiger'"):
        resolve_class("tigre")
    with pytest.raises(ClassNameError, match="unknown class 'qqqqzzz'; search"):
        resolve_class("qqqqzzz")


@pytest.mark.parametrize(
    ("spec", "candidates"), [("crane", ("134", "517")), ("panda", ("387", "388"))]
)
def test_ambiguous_name_lists_candidates(spec, candidates):
    with pytest.raises(ClassNameError, match=f"ambiguous class '{spec}'") as info:
        resolve_class(spec)
    for index in candidates:
        assert f"({index})" in str(info.value)


@pytest.mark.parametrize("spec", [1000, -1, "1000", True, 2.5, None])
def test_bad_index_or_type(spec):
    with pytest.raises(ClassNameError, match="0-999"):
        resolve_class(spec)


def test_class_name_out_of_range():
    with pytest.raises(ClassNameError, match="1000"):
        class_name(1000)


def test_search_ranks_exact_then_prefix_then_substring():
    results = search_classes("retriever", limit=3)
    assert len(results) == 3
    assert all("retriever" in name.lower() for _, name in results)
    assert search_classes("tiger")[0] == (292, "tiger")
    assert search_classes("crane", limit=5)[:2] == [
        (134, "crane bird"),
        (517, "construction crane"),
    ]
    assert search_classes("") == []
    assert search_classes("volcano", limit=0) == []
