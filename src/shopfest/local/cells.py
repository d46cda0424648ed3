"""Where to look for what is near: H3 cells (Uber's hexagonal grid, the `h3` package) kept in ordinary
indexed integer columns, so that a nearby search reads the rows of a few dozen cells around a point,
the same way on SQLite and on PostgreSQL (which has no PostGIS here), and never scans the table.

Each shop row keeps its cell at two resolutions: res 8 (hexagons about 0.5 km across their edge)
serves the neighbourhood searches people make on foot, res 6 (about 3.7 km) the long ones, so that
either reads a disk of a few rings. `disk` chooses the finer grid whose disk stays small."""

from __future__ import annotations

import math
from collections.abc import Iterator

import h3

from shopfest.local.model import EARTH_RADIUS_M, Point

RESOLUTIONS = (8, 6)  # finest first; the shop table has a column for each (cell8, cell6)
MOST_RINGS = 6  # a disk of 6 rings is 127 cells: past that, the coarser grid reads fewer rows
SAFETY = 0.9  # edges vary across the grid (pentagons, distortion): count each as 10 % shorter


def cell(place: Point, resolution: int) -> int:
    """The cell holding `place` at `resolution`, as the integer the tables keep."""
    return int(h3.str_to_int(h3.latlng_to_cell(place.lat, place.lng, resolution)))


def cells(place: Point) -> dict[str, int]:
    """A shop's columns: its cell at each resolution the table keeps."""
    return {f"cell{r}": cell(place, r) for r in RESOLUTIONS}


def disk(place: Point, radius_m: float) -> tuple[int, list[int]]:
    """The resolution and the cells that together hold every point within `radius_m` of `place`.

    Cells of the k-th ring around a cell have centres at least 1.5·k·e from its centre (e: the edge
    length), and a point is at most e from its own cell's centre; so a point within r of `place` lies
    in the disk of k rings when r ≤ 1.5·(k+1)·e − 2·e, that is k ≥ (r + 2e) / 1.5e − 1. The edge is
    measured on the cell at hand, shortened by SAFETY."""
    resolution, centre, edge = _grid_for(place, radius_m)
    return resolution, _cells(centre, _rings(radius_m, edge))


def _grid_for(place: Point, radius_m: float) -> tuple[int, str, float]:
    """The finest resolution whose disk for `radius_m` stays within MOST_RINGS (else the coarsest),
    with the cell of `place` there and its shortest edge, shortened by SAFETY."""
    for resolution in RESOLUTIONS:
        centre = h3.latlng_to_cell(place.lat, place.lng, resolution)
        edge = _shortest_edge_m(centre) * SAFETY
        if _rings(radius_m, edge) <= MOST_RINGS or resolution == RESOLUTIONS[-1]:
            return resolution, centre, edge
    raise AssertionError("unreachable: the coarsest grid always answers")


def _rings(radius_m: float, edge: float) -> int:
    """How many rings hold every point within `radius_m` (see `disk`)."""
    return max(1, math.ceil((radius_m + 2 * edge) / (1.5 * edge) - 1))


def _cells(centre: str, rings: int) -> list[int]:
    return [int(h3.str_to_int(c)) for c in h3.grid_disk(centre, rings)]


def _shortest_edge_m(centre: str) -> float:
    corners = h3.cell_to_boundary(centre)
    return min(float(h3.great_circle_distance(a, b, unit="m"))
               for a, b in zip(corners, corners[1:] + corners[:1], strict=True))


Box = tuple[float, float, float, float]  # south, north, west, east, in degrees


def box(place: Point, radius_m: float) -> Box | None:
    """A latitude and longitude box holding every point within `radius_m` of `place` (with a margin),
    which the database checks on the rows of the cells it reads, so fewer reach the exact distance;
    None where the box would touch a pole or cross the antimeridian (then the cells alone serve)."""
    reach = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01
    south, north = place.lat - reach, place.lat + reach
    if south <= -89 or north >= 89:
        return None
    widest = math.cos(math.radians(max(abs(south), abs(north))))
    across = reach / widest
    west, east = place.lng - across, place.lng + across
    if west <= -180 or east >= 180:
        return None
    return south, north, west, east


def growing_disks(place: Point, radius_m: float, *, nearest_m: float = 0.0
                  ) -> Iterator[tuple[int, list[int], float]]:
    """Disks around `place` that grow until they hold every point within `radius_m`, as (resolution,
    cells, covered): every point within `covered` metres of `place` lies in the cells. The first
    covers at least `nearest_m` (where a page after a cursor starts); the last is `disk(place,
    radius_m)`, covering the radius. A search for the nearest few stops at the first disk that holds
    enough of them: in a crowded city that is a few cells, not the whole radius's hundred."""
    resolution, centre, edge = _grid_for(place, radius_m)
    if resolution == RESOLUTIONS[0]:
        rings = _rings(nearest_m, edge)
        while (covered := 1.5 * (rings + 1) * edge - 2 * edge) < radius_m and rings < MOST_RINGS:
            yield resolution, _cells(centre, rings), covered
            rings *= 3
    yield resolution, _cells(centre, _rings(radius_m, edge)), radius_m
