"""The map of "near me" and its distances: the projection puts north up and east right, the radius on
its circle, across the antimeridian the short way; distances read as people say them."""

from __future__ import annotations

import math

from shopfest.local.model import Point
from shopfest.web.local_map import RADIUS_PX, SIZE, distance_text, nearby_map, project


def test_the_map_projects_around_the_centre_and_numbers_the_shops_as_the_list() -> None:
    centre, half = Point(30.25, 120.17), SIZE / 2
    assert project(centre, centre=centre, radius_m=3000) == (half, half)
    north = project(Point(30.25 + 3000 / 111_195, 120.17), centre=centre, radius_m=3000)
    assert math.isclose(north[0], half) and math.isclose(north[1], half - RADIUS_PX, abs_tol=0.2)
    east_x, _ = project(Point(30.25, 120.18), centre=centre, radius_m=3000)
    assert east_x > half
    west_of_line, _ = project(Point(0, -179.99), centre=Point(0, 179.99), radius_m=3000)
    assert half < west_of_line < SIZE  # 2 km east across the antimeridian, not 40,000 km west
    drawing = nearby_map(centre, 3000, [Point(30.26, 120.17), Point(30.24, 120.16)], label='Map "a" <b>',
                         first_number=11)
    assert drawing.startswith("<svg") and 'role="img"' in drawing and "&lt;b&gt;" in drawing
    assert 'data-shop-number="11"' in drawing and 'data-shop-number="12"' in drawing
    zoomed = nearby_map(centre, 3000, [Point(30.2509, 120.17)], label="m", view_m=300)
    assert f'r="{RADIUS_PX * 10}.0"' in zoomed  # the radius runs past the edge
    dot_y = float(zoomed.split('class="map-shop"')[1].split('cy="')[1].split('"')[0])
    assert math.isclose(dot_y, half - 100 * RADIUS_PX / 300, abs_tol=0.5)  # 100 m north, at 300 m's scale


def test_distances_read_in_metres_then_kilometres_in_the_pages_language() -> None:
    assert distance_text(348, lang="en", locale="en_001") == "350 m"
    assert distance_text(3, lang="en", locale="en_001") == "10 m"
    assert distance_text(1234, lang="en", locale="en_001") == "1.2 km"
    assert distance_text(12_345, lang="en", locale="en_001") == "12.3 km"
    assert distance_text(1234, lang="zh", locale="zh_CN") == "1.2 公里"
    assert distance_text(450, lang="zh", locale="zh_CN") == "450 米"
