"""The cells a nearby search reads hold every point within its radius, wherever on the globe."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from shopfest.local import cells
from shopfest.local.model import EARTH_RADIUS_M, LONGEST_RADIUS_M, Point, distance_m


def _towards(start: Point, bearing: float, metres: float) -> Point:
    """The point `metres` from `start` along `bearing` (radians), on the sphere distance_m measures."""
    d, phi, lam = metres / EARTH_RADIUS_M, math.radians(start.lat), math.radians(start.lng)
    phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(bearing))
    lam2 = lam + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(phi),
                            math.cos(d) - math.sin(phi) * math.sin(phi2))
    return Point(math.degrees(phi2), (math.degrees(lam2) + 540) % 360 - 180)


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-80, 80), lng=st.floats(-180, 180), radius=st.floats(1, LONGEST_RADIUS_M),
       bearing=st.floats(0, 2 * math.pi), share=st.floats(0, 1))
def test_every_point_within_the_radius_lies_in_a_cell_of_the_disk(lat: float, lng: float, radius: float,
                                                                  bearing: float, share: float) -> None:
    centre = Point(lat, lng)
    there = _towards(centre, bearing, radius * share)
    assert distance_m(centre, there) <= radius + 1e-6 * radius
    resolution, disk = cells.disk(centre, radius)
    assert cells.cell(there, resolution) in disk


def test_a_walk_reads_the_fine_grid_and_a_long_drive_the_coarse_one() -> None:
    hangzhou = Point(30.2741, 120.1551)
    walk, drive = cells.disk(hangzhou, 3_000), cells.disk(hangzhou, 50_000)
    assert walk[0] == 8 and drive[0] == 6
    assert len(walk[1]) <= 127 and len(drive[1]) < 1_000


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-88, 88), lng=st.floats(-180, 180), radius=st.floats(1, LONGEST_RADIUS_M),
       bearing=st.floats(0, 2 * math.pi), share=st.floats(0, 1))
def test_each_growing_disk_and_its_box_hold_every_point_they_say_they_cover(
        lat: float, lng: float, radius: float, bearing: float, share: float) -> None:
    centre = Point(lat, lng)
    disks = list(cells.growing_disks(centre, radius))
    assert disks[-1] == (*cells.disk(centre, radius), radius)  # the last is the radius's own disk
    assert [covered for _, _, covered in disks] == sorted(covered for _, _, covered in disks)
    for resolution, disk, covered in disks:
        there = _towards(centre, bearing, min(covered, radius) * share)
        assert cells.cell(there, resolution) in disk
        box = cells.box(centre, min(covered, radius))
        if box is not None:
            south, north, west, east = box
            assert south <= there.lat <= north and west <= there.lng <= east


def test_a_page_after_a_cursor_starts_from_a_disk_that_reaches_it() -> None:
    hangzhou = Point(30.2741, 120.1551)
    first = next(cells.growing_disks(hangzhou, 3_000, nearest_m=1_800))
    assert first[2] >= 1_800 and len(first[1]) < 127
    assert cells.box(Point(89.5, 0), 5_000) is None and cells.box(Point(0, 179.99), 5_000) is None
