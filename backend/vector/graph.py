"""Centre-line skeleton → the strokes an artist drew, as ordered point runs.

skan cuts the skeleton into branches between junction and end pixels. Raw branches are not
strokes: a crossing is a cluster of junction pixels joined by stubs, a thick line's outline
bumps grow hair-like spurs, and every crossing cuts two strokes into four branches. So:
stubs inside a junction are contracted to one point (branches then meet exactly there);
branches from a junction to a free end shorter than the junction's stroke width are pruned;
at each junction the branches that continue each other most straightly (and are about as
wide) are chained into one stroke, the others end on the junction point.

A page has hundreds of thousands of skeleton pixels, so per-pixel work is done on skan's
flat path arrays at once; only per-junction decisions loop in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skan import Skeleton

JUNCTION_MIN = 2.0  # px: stubs at least this short are always inside their junction
DIRECTION_REACH = 1.5  # stroke widths along a branch to read its direction at a node
WIDTH_WINDOW = 3  # pixels each side summed for a local width
POLLUTED = 1.5  # stroke widths around a junction where widths read the branch's median
CROSSING = 5.0  # stroke widths: two junctions this close may be one shallow crossing


@dataclass
class Graph:
    """Branches as flat arrays. Branch e runs from node a[e] to node b[e] through the inner
    pixels points[start[e]:stop[e]] (row/col), whose local widths are widths[...] (NaN
    near a junction, where other lines' ink is mixed in)."""

    a: np.ndarray
    b: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    points: np.ndarray
    widths: np.ndarray
    width: np.ndarray  # median width of each branch
    sure: np.ndarray  # whether it was measured away from junctions (else: as it reads there)
    length: np.ndarray  # node to node along the branch, px
    along: np.ndarray  # cumulative distance over all inner pixels, branch after branch
    alive: np.ndarray
    position: np.ndarray  # node (skeleton pixel index) → row/col of its junction's centre
    isolated: np.ndarray  # row/col of skeleton pixels on their own (dots)

    def ends(self) -> dict[int, list[tuple[int, int]]]:
        """node → its live (branch, side) ends; side 0 is a branch's start."""
        out: dict[int, list[tuple[int, int]]] = {}
        for e in np.flatnonzero(self.alive).tolist():
            out.setdefault(int(self.a[e]), []).append((e, 0))
            out.setdefault(int(self.b[e]), []).append((e, 1))
        return out

    def polyline(self, e: int, side: int) -> np.ndarray:
        """Branch e from its `side` end to the other, node points included."""
        run = np.concatenate(
            [
                self.position[self.a[e]][None],
                self.points[self.start[e] : self.stop[e]],
                self.position[self.b[e]][None],
            ]
        )
        return run if side == 0 else run[::-1]


def _root(parent: dict, x: int) -> int:
    while parent.get(x, x) != x:
        parent[x] = parent.get(parent[x], parent[x])
        x = parent[x]
    return x


def grouped_median(values: np.ndarray, group: np.ndarray, count: int) -> np.ndarray:
    """Median of values per group id in [0, count); NaN for an empty group."""
    order = np.lexsort((values, group))
    sizes = np.bincount(group, minlength=count)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ranked = values[order]
    low = ranked[np.minimum(first + (sizes - 1) // 2, len(ranked) - 1)] if len(ranked) else 0
    high = ranked[np.minimum(first + sizes // 2, len(ranked) - 1)] if len(ranked) else 0
    return np.where(sizes > 0, (low + high) / 2.0, np.nan)


def windowed_ratio(ink, share, owner, points) -> np.ndarray:
    """Local width at each inner pixel: ink over length, both over WIDTH_WINDOW pixels each
    side within its branch. The length is the window's chord: a slanted line's pixel
    staircase is longer than the line (by 8 % at 28°), its chord is not."""
    if len(ink) == 0:
        return np.zeros(0)
    k = np.arange(len(ink))
    first = np.searchsorted(owner, owner, side="left")
    last = np.searchsorted(owner, owner, side="right") - 1
    lo = np.maximum(first, k - WIDTH_WINDOW)
    hi = np.minimum(last, k + WIDTH_WINDOW)
    ink_sum = np.concatenate([[0.0], np.cumsum(ink, dtype=np.float64)])
    steps = hi - lo
    chord = np.hypot(*(points[hi] - points[lo]).T) * (steps + 1) / np.maximum(steps, 1)
    length = np.where(steps > 0, chord, share)
    return (ink_sum[hi + 1] - ink_sum[lo]) / np.maximum(length, 1e-6)


def build(skeleton: np.ndarray, ink: np.ndarray, junction: float) -> Graph:
    """The branch graph with junction clusters contracted.

    ink: per skeleton pixel, how many line pixels are nearest to it (its share of the line);
    over the length of centre line a pixel stands for, that is the line's local width.
    """
    skel = Skeleton(skeleton)
    coords = skel.coordinates.astype(np.float64)
    degrees = np.asarray(skel.degrees)
    indptr = np.asarray(skel.paths.indptr)
    indices = np.asarray(skel.paths.indices)
    n = skel.n_paths
    first, last = indices[indptr[:-1]], indices[indptr[1:] - 1]
    seq = coords[indices]
    step = np.hypot(*np.diff(seq, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(step)])
    length = arc[indptr[1:] - 1] - arc[indptr[:-1]]
    inner = np.ones(len(indices), bool)
    inner[indptr[:-1]] = False
    inner[indptr[1:] - 1] = False
    where = np.flatnonzero(inner)
    owner = np.repeat(np.arange(n), np.diff(indptr))[where]
    pixels = indices[where]
    share = (step[where - 1] + step[where]) / 2.0
    ink_at = ink[skel.coordinates[pixels, 0], skel.coordinates[pixels, 1]]
    widths = windowed_ratio(ink_at, share, owner, coords[pixels])
    width = grouped_median(widths, owner, n)
    # near a junction a pixel's nearest ink includes the other lines': read the branch there
    junctions = np.ones(skeleton.shape, np.uint8)
    hubs = skel.coordinates[degrees >= 3]
    junctions[hubs[:, 0], hubs[:, 1]] = 0
    near = cv2.distanceTransform(junctions, cv2.DIST_L2, 3)
    rows, cols = skel.coordinates[pixels, 0], skel.coordinates[pixels, 1]
    reach = POLLUTED * np.maximum(2.0, np.nan_to_num(width[owner], nan=2.0))
    polluted = near[rows, cols] < reach
    clean = grouped_median(widths[~polluted], owner[~polluted], n)
    sure = np.isfinite(clean)  # a branch inside a junction has no width of its own
    width = np.where(sure, clean, width)
    widths = np.where(polluted, np.nan, widths)
    # stubs between junction pixels, no longer than the widest branch at either end is wide
    widest = np.zeros(len(coords))
    known = np.nan_to_num(width)
    np.maximum.at(widest, first, known)
    np.maximum.at(widest, last, known)
    stub = (degrees[first] >= 3) & (degrees[last] >= 3) & (first != last)
    stub &= length <= np.maximum(JUNCTION_MIN, junction * np.maximum(widest[first], widest[last]))
    parent: dict[int, int] = {}
    for e in np.flatnonzero(stub).tolist():
        parent[_root(parent, int(first[e]))] = _root(parent, int(last[e]))
    root = np.arange(len(coords))
    for node in list(parent):
        root[node] = _root(parent, node)
    sums = np.zeros((len(coords), 2))
    np.add.at(sums, root, coords)
    counts = np.bincount(root, minlength=len(coords))[:, None]
    position = sums[root] / counts[root]
    keep = ~stub
    a, b = root[first][keep], root[last][keep]
    sizes = np.diff(indptr) - 2
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])[keep]
    stop = start + sizes[keep]
    pts = coords[pixels]
    width, sure = width[keep], sure[keep]
    fallback = np.nanmedian(width) if np.isfinite(width).any() else 1.0
    width = np.where(np.isfinite(width) & (width > 0), width, fallback)
    # node to node: the inner run plus its links to the (moved) node points
    has_inner = stop > start
    head = np.where(has_inner, start, 0)
    tail = np.where(has_inner, stop - 1, 0)
    inner_arc = np.where(has_inner, arc[where][tail] - arc[where][head], 0.0) if len(where) else 0
    links = np.where(
        has_inner,
        np.hypot(*(position[a] - pts[head]).T) + np.hypot(*(pts[tail] - position[b]).T)
        if len(pts)
        else 0.0,
        np.hypot(*(position[a] - position[b]).T),
    )
    return Graph(
        a=a,
        b=b,
        start=start,
        stop=stop,
        points=pts,
        widths=widths,
        width=width,
        sure=sure,
        length=inner_arc + links,
        along=np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
        if len(pts)
        else np.zeros(1),
        alive=np.ones(len(a), bool),
        position=position,
        isolated=coords[degrees == 0],
    )


def prune_spurs(graph: Graph, spur: float, passes: int = 3) -> None:
    """Drop branches from a junction to a free end shorter than `spur` × the junction's
    widest stroke (hairs from bumps in a thick line's outline, forks at a blunt line end).

    A junction keeps its longest branch, so a small mark made only of short branches stays.
    """
    for _ in range(passes):
        ends = graph.ends()
        pruned = False
        for here in ends.values():
            if len(here) < 3:
                continue
            widest = max(graph.width[e] for e, _ in here)
            limit = max(JUNCTION_MIN, spur * widest)
            short = [
                (graph.length[e], e)
                for e, side in here
                if len(ends[int(graph.b[e] if side == 0 else graph.a[e])]) == 1
                and graph.length[e] < limit
            ]
            if len(short) == len(here):
                short.remove(max(short))
            for _, e in short:
                graph.alive[e] = False
                pruned = True
        if not pruned:
            return


def merge_crossings(graph: Graph, max_turn: float) -> None:
    """Two lines crossing at a shallow angle overlap along a stretch: the skeleton has two
    three-way junctions joined by a branch. Where the four outer branches continue each
    other in two straight pairs across that branch, it is one crossing: the junctions are
    merged at their midpoint and the branch between them dropped."""
    ends = graph.ends()
    limit = np.cos(np.radians(max_turn))
    for e in np.flatnonzero(graph.alive).tolist():
        a, b = int(graph.a[e]), int(graph.b[e])
        if a == b or len(ends.get(a, ())) != 3 or len(ends.get(b, ())) != 3:
            continue
        outer_a = [end for end in ends[a] if end[0] != e]
        outer_b = [end for end in ends[b] if end[0] != e]
        widest = max(graph.width[x] for x, _ in outer_a + outer_b)
        if len(outer_a) != 2 or len(outer_b) != 2 or graph.length[e] > CROSSING * widest:
            continue
        d = directions(graph, outer_a + outer_b)
        straight = -(d[:2] @ d[2:].T)  # a's outer ends (rows) against b's (columns)
        crossed = (
            min(straight[0, 0], straight[1, 1]) >= limit
            or min(straight[0, 1], straight[1, 0]) >= limit
        )
        if not crossed:
            continue
        graph.alive[e] = False
        graph.position[a] = (graph.position[a] + graph.position[b]) / 2
        for x, side in outer_b:
            if side == 0:
                graph.a[x] = a
            else:
                graph.b[x] = a
        ends[a] = outer_a + outer_b
        del ends[b]


def directions(graph: Graph, ends: list[tuple[int, int]]) -> np.ndarray:
    """Unit direction in which each (branch, side) end leaves its node, read about
    DIRECTION_REACH widths along the branch (the pixels next to a junction bend into it)."""
    e = np.array([x for x, _ in ends], int)
    side = np.array([s for _, s in ends], int)
    node = np.where(side == 0, graph.a[e], graph.b[e])
    other = np.where(side == 0, graph.b[e], graph.a[e])
    origin = graph.position[node]
    far = graph.position[other].copy()
    reach = np.maximum(3.0, DIRECTION_REACH * graph.width[e])
    pts = graph.points
    has = graph.stop[e] > graph.start[e]
    if len(pts):
        along = graph.along
        lo, hi = graph.start[e], np.maximum(graph.stop[e] - 1, graph.start[e])
        near = np.where(side == 0, lo, hi)
        base = along[np.minimum(near, len(pts) - 1)]
        forward = np.searchsorted(along, base + reach)
        backward = np.searchsorted(along, base - reach, side="right") - 1
        idx = np.clip(np.where(side == 0, forward, backward), lo, hi)
        far = np.where(has[:, None], pts[np.minimum(idx, len(pts) - 1)], far)
    v = far - origin
    norm = np.hypot(*v.T)[:, None]
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def pair_ends(graph: Graph, max_turn: float, width_ratio: float) -> dict:
    """(branch, side) → the (branch, side) it continues through its node.

    Two ends at a node form one stroke when one leaves about straight on from where the
    other comes in (a turn of at most max_turn degrees) and their widths are within
    width_ratio; the straightest pairs are taken first. At a node with only two ends they
    always continue each other.
    """
    partner: dict = {}
    limit = np.cos(np.radians(max_turn))
    junctions = []
    for here in graph.ends().values():
        if len(here) == 2:
            partner[here[0]], partner[here[1]] = here[1], here[0]
        elif len(here) > 2:
            junctions.append(here)
    flat = [end for here in junctions for end in here]
    if not flat:
        return partner
    dirs = directions(graph, flat)
    k = 0
    for here in junctions:
        d = dirs[k : k + len(here)]
        k += len(here)
        straight = -(d @ d.T)  # 1 = straight on
        w = graph.width[[e for e, _ in here]]
        unsure = ~graph.sure[[e for e, _ in here]]
        alike = np.maximum.outer(w, w) <= width_ratio * np.minimum.outer(w, w)
        alike |= unsure[:, None] | unsure[None, :]
        x, y = np.nonzero(np.triu((straight >= limit) & alike, 1))
        used: set[int] = set()
        for i in np.argsort(-straight[x, y], kind="stable"):
            p, q = int(x[i]), int(y[i])
            if p not in used and q not in used:
                used |= {p, q}
                partner[here[p]], partner[here[q]] = here[q], here[p]
    return partner


def _filled(widths: np.ndarray, fallback: float) -> np.ndarray:
    """Unknown (NaN) widths interpolated from the known ones along the stroke."""
    known = np.isfinite(widths)
    if known.all():
        return widths
    if not known.any():
        return np.full(len(widths), fallback)
    at = np.arange(len(widths))
    return np.interp(at, at[known], widths[known])


def chains(graph: Graph, partner: dict) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """(row/col points, width at each point, closed) of every stroke: branches chained
    through their paired ends, from free ends first, then whatever is left, which closes."""
    seen = np.zeros(len(graph.a), bool)
    out = []
    fallback = float(np.median(graph.width)) if len(graph.width) else 1.0

    def walk(e: int, side: int) -> tuple[np.ndarray, np.ndarray, bool]:
        begin = (e, side)
        runs: list[np.ndarray] = []
        widths: list[np.ndarray] = []
        while True:
            seen[e] = True
            run = graph.polyline(e, side)
            inner = graph.widths[graph.start[e] : graph.stop[e]]
            w = np.concatenate([[np.nan], inner if side == 0 else inner[::-1], [np.nan]])
            runs.append(run if not runs else run[1:])
            widths.append(w if not widths else w[1:])
            nxt = partner.get((e, 1 - side))
            closed = nxt == begin
            if nxt is None or closed or seen[nxt[0]]:
                return np.concatenate(runs), _filled(np.concatenate(widths), fallback), closed
            e, side = nxt

    alive = np.flatnonzero(graph.alive).tolist()
    for e in alive:
        for side in (0, 1):
            if not seen[e] and (e, side) not in partner:
                out.append(walk(e, side))
    for e in alive:
        if not seen[e]:
            out.append(walk(e, 0))
    return out
