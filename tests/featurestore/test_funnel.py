"""The one funnel builder: rows removed per stage, shares of all bars, and the only-removes invariant."""

from __future__ import annotations

from featurestore.compute.funnel import funnel_stages, is_monotone


def test_stages_count_what_each_filter_removed() -> None:
    stages = funnel_stages(200, [("bars", 200), ("eligible", 150), ("labelled", 120)])
    assert [(s.name, s.remaining, s.removed) for s in stages] == [
        ("bars", 200, 0),
        ("eligible", 150, 50),
        ("labelled", 120, 30),
    ]
    assert [s.share_of_bars for s in stages] == [1.0, 0.75, 0.6]
    assert is_monotone(stages)


def test_a_stage_with_more_rows_than_the_one_before_breaks_the_invariant() -> None:
    assert not is_monotone(funnel_stages(10, [("bars", 10), ("a", 4), ("b", 5)]))
    assert funnel_stages(0, [("bars", 0)])[0].share_of_bars == 0.0
