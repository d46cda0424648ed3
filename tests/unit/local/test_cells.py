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
