"""The small map of "near me", drawn on the server as inline SVG from the shops' coordinates: an
equirectangular projection around the search's centre (true enough over a few kilometres), the
radius as a circle and a numbered dot per shop, the numbers those of the list. No tiles, no script."""

from __future__ import annotations

import math
from collections.abc import Sequence

from babel.numbers import format_decimal
from markupsafe import Markup, escape

from shopfest.local.model import EARTH_RADIUS_M, Point

SIZE = 320  # the drawing's side, in SVG units; it scales to its box
RADIUS_PX = 140  # the search radius on the drawing, leaving room for dots on the edge
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def project(place: Point, *, centre: Point, radius_m: float) -> tuple[float, float]:
    """Where a place falls on the drawing: east to the right, north up, the centre in the middle."""
    east_deg = (place.lng - centre.lng + 540) % 360 - 180  # across the antimeridian, the short way
    east_m = east_deg * METRES_PER_DEGREE * math.cos(math.radians(centre.lat))
    north_m = (place.lat - centre.lat) * METRES_PER_DEGREE
    scale = RADIUS_PX / radius_m
    half = SIZE / 2
    return round(half + east_m * scale, 1), round(half - north_m * scale, 1)


def nearby_map(centre: Point, radius_m: float, places: Sequence[Point], *, label: str,
               first_number: int = 1, view_m: float | None = None) -> Markup:
    """The drawing, named by `label` for screen readers; dot n is the list's shop n. `view_m`, when
    the shops all stand well inside the radius, zooms in so their dots part (the circle then runs
    past the edge, as the search does)."""
    half, view_m = SIZE / 2, min(view_m or radius_m, radius_m)
    circle = round(RADIUS_PX * radius_m / view_m, 1)
    parts = [f'<svg class="local-map" role="img" aria-label="{escape(label)}" viewBox="0 0 {SIZE} {SIZE}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<rect width="{SIZE}" height="{SIZE}" class="map-ground"/>',
             f'<circle cx="{half}" cy="{half}" r="{circle}" class="map-radius"/>',
             f'<circle cx="{half}" cy="{half}" r="5" class="map-centre"/>']
    for number, place in enumerate(places, start=first_number):
        x, y = project(place, centre=centre, radius_m=view_m)
        parts.append(f'<g class="map-shop" data-shop-number="{number}"><circle cx="{x}" cy="{y}" r="9"/>'
                     f'<text x="{x}" y="{y}" dy="3.5" text-anchor="middle">{number}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def distance_text(metres: float, *, lang: str, locale: str) -> str:
    """350 m, 1.2 km (米, 公里 on a Chinese page): metres to the ten under a kilometre."""
    if metres < 1000:
        number, unit = format_decimal(max(10, round(metres, -1)), locale=locale), "m"
    else:
        number, unit = format_decimal(round(metres / 1000, 1), format="#,##0.#", locale=locale), "km"
    if lang == "zh":
        return f"{number} {'米' if unit == 'm' else '公里'}"
    return f"{number} {unit}"
