"""A rule pack is validated on load and a bad one names file, line and field."""

import pytest

from careroute.config import STARTER_PACK
from careroute.rules import PackError, load_pack, load_pack_text

STARTER = STARTER_PACK.read_text()


def test_the_starter_pack_loads_with_a_stable_content_version() -> None:
    a, b = load_pack(STARTER_PACK), load_pack(STARTER_PACK)
    assert a.version == b.version and len(a.version) == 12
    assert "review" in a.queue_ids


def test_any_change_to_the_pack_changes_its_version() -> None:
    changed = STARTER.replace("capacity: 8", "capacity: 9", 1)
    assert load_pack_text(changed).version != load_pack(STARTER_PACK).version


def test_an_unknown_queue_is_named_with_its_line_and_field() -> None:
    bad = STARTER.replace("    queue: review\n", "    queue: reviw\n")
    with pytest.raises(PackError) as err:
        load_pack_text(bad, source="practice.yaml")
    line = next(i for i, t in enumerate(bad.splitlines(), 1) if "queue: reviw" in t)
    index = [r.id for r in load_pack(STARTER_PACK).spec.routing].index("route.low_confidence")
    assert f"practice.yaml, line {line}, routing[{index}].queue: unknown queue 'reviw'" in str(err.value)


def test_a_misspelt_field_is_an_error_not_a_silent_no_op() -> None:
    bad = STARTER.replace("when: {confidence_below: 0.35}", "when: {confidence_bellow: 0.35}")
    with pytest.raises(PackError, match=r"routing\[\d+\]\.when\.confidence_bellow: Extra inputs"):
        load_pack_text(bad)


def test_a_wrong_credential_is_named() -> None:
    with pytest.raises(PackError, match=r"staff\[\d+\]\.credential: Input should be 'coordinator'"):
        load_pack_text(STARTER.replace("credential: MA", "credential: XX"))


def test_a_missing_tag_and_a_queue_capacity_outside_the_persons_queues_are_both_reported() -> None:
    bad = STARTER.replace("  other: {queue: review", "  othr: {queue: review").replace(
        "queue_capacity: {results: 4}", "queue_capacity: {billing: 4}"
    )
    with pytest.raises(PackError) as err:
        load_pack_text(bad)
    text = str(err.value)
    assert "tags: tag 'other' of the taxonomy has no entry" in text
    assert "tags.othr: 'othr' is not a taxonomy tag" in text
    assert "queue_capacity.billing: 'billing' is not one of this person's queues" in text


def test_yaml_syntax_errors_name_the_line() -> None:
    with pytest.raises(PackError, match=r"p.yaml, line 3: expected ',' or '\]'.*starts on line 2"):
        load_pack_text("pack:\n  name: [unclosed\n", source="p.yaml")


def test_a_pack_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(PackError, match="a rule pack is a mapping"):
        load_pack_text("- just\n- a list\n")
