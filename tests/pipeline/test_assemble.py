"""assemble.py helpers that need no Ray (the concatenation itself runs in tests/faults and test_plan)."""

from __future__ import annotations

from rayqe.pipeline.assemble import descriptive_tags


def test_descriptive_tags_drop_what_a_reencode_makes_false():
    source = {
        "title": "Holiday 1987",
        "creation_time": "1987-07-01T12:00:00Z",
        "location": "+48.85+002.35/",
        "language": "fra",
        "encoder": "Lavf58.76.100",
        "major_brand": "isom",
        "compatible_brands": "isomiso2avc1mp41",
        "DURATION": "00:00:10.000000000",
        "BPS": "812345",
        "NUMBER_OF_FRAMES": "250",
        "_STATISTICS_TAGS": "BPS DURATION NUMBER_OF_FRAMES",
    }
    assert descriptive_tags(source) == {
        "title": "Holiday 1987",
        "creation_time": "1987-07-01T12:00:00Z",
        "location": "+48.85+002.35/",
        "language": "fra",
    }
