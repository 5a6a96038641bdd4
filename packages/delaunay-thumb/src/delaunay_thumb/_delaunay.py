"""Canonical Delaunay triangulation of integer grid points with exact predicates.

The decoder never receives connectivity: it rebuilds it from the vertex positions. To make
that reproducible bit for bit in any language, the result is defined mathematically rather than
by an algorithm (see ``docs/delaunay-thumb/format.md``, "Triangulation"):

1. take the *Delaunay subdivision* of the points (unique: its faces are the convex polygons whose
   vertices lie on a common empty circle);
2. split every face with more than three vertices into a fan from its *first* vertex in raster
   order (smallest ``y``, then smallest ``x``).

Any correct Delaunay algorithm followed by this canonicalisation yields the same triangles. Here
OpenCV's ``Subdiv2D`` proposes a triangulation, which is accepted only after exact integer checks
(orientation, coverage, local Delaunay property of every edge); otherwise a self-contained
incremental Bowyer-Watson construction with exact predicates is used.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


def orient(a: tuple[int, int], b: tuple[int, int], c: tuple[int, int]) -> int:
    """Twice the signed area of triangle ``abc`` (positive when ``a, b, c`` turn left).

    Example:
        >>> orient((0, 0), (1, 0), (0, 1))
        1
    """
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def incircle(a: tuple[int, int], b: tuple[int, int], c: tuple[int, int], d: tuple[int, int]) -> int:
    """Exact in-circle determinant: ``> 0`` when ``d`` is strictly inside circle ``abc``.

    ``a, b, c`` must have positive orientation (:func:`orient` > 0). Zero means co-circular.

    Example:
        >>> incircle((0, 0), (2, 0), (0, 2), (2, 2))
        0
        >>> incircle((0, 0), (2, 0), (0, 2), (1, 1)) > 0
        True
    """
    adx, ady = a[0] - d[0], a[1] - d[1]
    bdx, bdy = b[0] - d[0], b[1] - d[1]
    cdx, cdy = c[0] - d[0], c[1] - d[1]
    alift = adx * adx + ady * ady
    blift = bdx * bdx + bdy * bdy
    clift = cdx * cdx + cdy * cdy
    return (
        adx * (bdy * clift - cdy * blift)
        - ady * (bdx * clift - cdx * blift)
        + alift * (bdx * cdy - cdx * bdy)
    )


def _orient_v(p: IntArray, t: IntArray) -> IntArray:
    a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def _incircle_v(p: IntArray, t: IntArray, d: IntArray) -> IntArray:
    a, b, c, q = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]], p[d]
    ad, bd, cd = a - q, b - q, c - q
    al = (ad * ad).sum(1)
    bl = (bd * bd).sum(1)
    cl = (cd * cd).sum(1)
    return (
        ad[:, 0] * (bd[:, 1] * cl - cd[:, 1] * bl)
        - ad[:, 1] * (bd[:, 0] * cl - cd[:, 0] * bl)
        + al * (bd[:, 0] * cd[:, 1] - cd[:, 0] * bd[:, 1])
    )


def _check_input(points: IntArray) -> tuple[int, int, int, int]:
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 4:
        raise ValueError("points must be an (n, 2) integer array with n >= 4")
    x0, y0 = int(points[:, 0].min()), int(points[:, 1].min())
    x1, y1 = int(points[:, 0].max()), int(points[:, 1].max())
    if x0 == x1 or y0 == y1:
        raise ValueError("points must span a rectangle of positive area")
    span = y1 - y0 + 1
    keys = (points[:, 0] - x0) * span + (points[:, 1] - y0)
    if np.unique(keys).size != points.shape[0]:
        raise ValueError("points must be unique")
    corners = np.array([0, span - 1, (x1 - x0) * span, (x1 - x0) * span + span - 1])
    if not np.all(np.isin(corners, keys)):
        raise ValueError("the four corners of the bounding box must be among the points")
    return x0, y0, x1, y1


def bowyer_watson(points: IntArray) -> IntArray:
    """A Delaunay triangulation by incremental Bowyer-Watson insertion with exact predicates.

    The reference construction (pure Python, quadratic time): it starts from the two triangles
    of the bounding rectangle, whose four corners must be among ``points``, and inserts the other
    points in the given order. Co-circular ties are left as they fall; :func:`triangulate`
    canonicalises them.

    Args:
        points: ``(n, 2)`` unique integer points including the four bounding-box corners.

    Returns:
        ``(m, 3)`` vertex indices, each triangle with positive orientation.

    Example:
        >>> pts = np.array([[0, 0], [4, 0], [0, 4], [4, 4], [1, 2]])
        >>> len(bowyer_watson(pts))
        4
    """
    pts = np.asarray(points, dtype=np.int64)
    x0, y0, x1, y1 = _check_input(pts)
    P = [(int(x), int(y)) for x, y in pts]
    index = {p: i for i, p in enumerate(P)}
    c00, c10, c01, c11 = index[(x0, y0)], index[(x1, y0)], index[(x0, y1)], index[(x1, y1)]
    tris: list[tuple[int, int, int]] = []
    for t in ((c00, c10, c11), (c00, c11, c01)):
        tris.append(t if orient(P[t[0]], P[t[1]], P[t[2]]) > 0 else (t[0], t[2], t[1]))
    corners = {c00, c10, c01, c11}
    for i, p in enumerate(P):
        if i in corners:
            continue
        bad = [t for t in tris if incircle(P[t[0]], P[t[1]], P[t[2]], p) > 0]
        bad_set = set(bad)
        edges: dict[tuple[int, int], int] = {}
        for t in bad:
            for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                key = (min(e), max(e))
                edges[key] = edges.get(key, 0) + 1
        kept = [t for t in tris if t not in bad_set]
        for t in bad:
            for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                if edges[(min(a, b), max(a, b))] == 1 and orient(P[a], P[b], p) > 0:
                    kept.append((a, b, i))
        tris = kept
    return np.array(tris, dtype=np.int64).reshape(-1, 3)


def _fast(points: IntArray) -> IntArray | None:
    """OpenCV's Delaunay triangulation, or ``None`` when it is unavailable or fails."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv is a dependency
        return None
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    big = int(64 * max(x1 - x0, y1 - y0) + 64)
    try:
        sub = cv2.Subdiv2D((int(x0) - big, int(y0) - big, 3 * big, 3 * big))
        sub.insert(points.astype(np.float64).tolist())
        tl = sub.getTriangleList()
    except cv2.error:
        return None
    if tl is None or len(tl) == 0:
        return None
    xy = np.rint(np.asarray(tl, dtype=np.float64).reshape(-1, 3, 2)).astype(np.int64)
    w = int(x1 - x0) + 1
    lookup = np.full(w * (int(y1 - y0) + 1), -1, dtype=np.int64)
    lookup[(points[:, 1] - y0) * w + (points[:, 0] - x0)] = np.arange(points.shape[0])
    gx, gy = xy[..., 0] - x0, xy[..., 1] - y0
    if gx.min() < 0 or gy.min() < 0 or gx.max() > x1 - x0 or gy.max() > y1 - y0:
        return None
    tris = lookup[gy * w + gx]
    if np.any(tris < 0):
        return None
    return tris


def _validate(points: IntArray, tris: IntArray) -> IntArray | None:
    """Orient ``tris`` positively; ``None`` unless they form a Delaunay triangulation.

    Exact checks: no degenerate triangle, every point used, every directed edge used once,
    the unmatched edges lie on the bounding rectangle, the areas add up to the rectangle's, and
    every interior edge is locally Delaunay.
    """
    checked = _validate_paired(points, tris)
    return None if checked is None else checked[0]


_Pairing = tuple[IntArray, IntArray, IntArray]


def _validate_paired(points: IntArray, tris: IntArray) -> tuple[IntArray, _Pairing] | None:
    """:func:`_validate`, also returning the interior edge pairs and their in-circle values."""
    n = points.shape[0]
    o = _orient_v(points, tris)
    if np.any(o == 0):
        return None
    tris = tris.copy()
    neg = o < 0
    tris[neg] = tris[neg][:, [0, 2, 1]]
    if np.unique(tris).size != n:
        return None
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    if int(np.abs(o).sum()) != 2 * int((x1 - x0) * (y1 - y0)):
        return None
    a = tris.ravel()
    b = tris[:, [1, 2, 0]].ravel()
    key = a * n + b
    order = np.argsort(key)
    skey = key[order]
    if np.any(skey[1:] == skey[:-1]):
        return None
    rkey = b * n + a
    pos = np.minimum(np.searchsorted(skey, rkey), key.size - 1)
    has = skey[pos] == rkey
    pa, pb = points[a[~has]], points[b[~has]]
    on_edge = ((pa[:, 0] == pb[:, 0]) & ((pa[:, 0] == x0) | (pa[:, 0] == x1))) | (
        (pa[:, 1] == pb[:, 1]) & ((pa[:, 1] == y0) | (pa[:, 1] == y1))
    )
    if not np.all(on_edge):
        return None
    src = np.nonzero(has)[0]
    dst = order[pos[has]]
    opp = tris[:, [2, 0, 1]].ravel()
    inc = _incircle_v(points, tris[src // 3], opp[dst])
    if np.any(inc > 0):
        return None
    return tris, (src, dst, inc)


def _canonical(points: IntArray, tris: IntArray, pairing: _Pairing | None = None) -> IntArray:
    """Fan-split co-circular faces from their first raster vertex; sort the triangles.

    ``pairing`` passes the interior edge pairs already found by :func:`_validate_paired`.
    """
    n = points.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((points[:, 0], points[:, 1]))] = np.arange(n)
    m = tris.shape[0]
    a = tris.ravel()
    b = tris[:, [1, 2, 0]].ravel()
    opp = tris[:, [2, 0, 1]].ravel()
    if pairing is None:
        key = a * n + b
        order = np.argsort(key)
        skey = key[order]
        rkey = b * n + a
        pos = np.minimum(np.searchsorted(skey, rkey), key.size - 1)
        has = skey[pos] == rkey
        src = np.nonzero(has)[0]
        dst = order[pos[has]]
        keep = src < dst
        src, dst = src[keep], dst[keep]
        zero = _incircle_v(points, tris[src // 3], opp[dst]) == 0
    else:
        src, dst, inc = pairing
        keep = src < dst
        src, dst = src[keep], dst[keep]
        zero = inc[keep] == 0
    if np.any(zero):
        src, dst = src[zero], dst[zero]
        t1, t2 = src // 3, dst // 3
        count = np.bincount(np.concatenate([t1, t2]), minlength=m)
        pair = (count[t1] == 1) & (count[t2] == 1)
        # Isolated co-circular quads: keep the diagonal u-v unless w or z ranks first.
        ps, pd = src[pair], dst[pair]
        u, v, w, z = a[ps], b[ps], opp[ps], opp[pd]
        flip = np.minimum(rank[w], rank[z]) < np.minimum(rank[u], rank[v])
        tris = tris.copy()
        tris[ps[flip] // 3] = np.stack([w[flip], u[flip], z[flip]], axis=1)
        tris[pd[flip] // 3] = np.stack([w[flip], z[flip], v[flip]], axis=1)
        big_src, big_dst = src[~pair], dst[~pair]
        if big_src.size:
            parent = list(range(m))

            def find(x: int) -> int:
                while parent[x] != x:
                    parent[x] = parent[parent[x]]
                    x = parent[x]
                return x

            for s, d in zip((big_src // 3).tolist(), (big_dst // 3).tolist(), strict=True):
                rs, rd = find(s), find(d)
                if rs != rd:
                    parent[rs] = rd
            groups: dict[int, list[int]] = {}
            for i in sorted(set((big_src // 3).tolist()) | set((big_dst // 3).tolist())):
                groups.setdefault(find(i), []).append(i)
            drop: list[int] = []
            extra: list[list[int]] = []
            for members in groups.values():
                directed: set[tuple[int, int]] = set()
                for i in members:
                    p, q, r = tris[i].tolist()
                    directed.update(((p, q), (q, r), (r, p)))
                nxt = {p: q for (p, q) in directed if (q, p) not in directed}
                start = min(nxt, key=lambda c: int(rank[c]))
                ring = [start]
                cur = nxt[start]
                while cur != start:
                    ring.append(cur)
                    cur = nxt[cur]
                drop.extend(members)
                extra.extend([ring[0], ring[j], ring[j + 1]] for j in range(1, len(ring) - 1))
            tris = np.concatenate(
                [np.delete(tris, drop, axis=0), np.array(extra, dtype=np.int64).reshape(-1, 3)]
            )
    # Rotate each triangle to start at its first raster vertex (orientation kept), then sort.
    r = rank[tris]
    shift = np.argmin(r, axis=1)
    idx = (np.arange(3)[None, :] + shift[:, None]) % 3
    tris = np.take_along_axis(tris, idx, axis=1)
    r = rank[tris]
    order = np.lexsort((r[:, 2], r[:, 1], r[:, 0]))
    return tris[order]


def triangulate(points: IntArray, *, reference: bool = False) -> IntArray:
    """The canonical Delaunay triangulation of unique integer points (see the module docs).

    Args:
        points: ``(n, 2)`` unique integer ``(x, y)`` points whose bounding-box corners are among
            them; coordinates must stay below ``2**15`` so the exact predicates fit in int64.
        reference: Skip the OpenCV fast path and use the pure-Python Bowyer-Watson construction.

    Returns:
        ``(m, 3)`` int64 vertex indices; each triangle has positive orientation and starts at its
        first vertex in raster order; triangles are sorted by their vertices' raster ranks.

    Raises:
        ValueError: For points that violate the preconditions.

    Example:
        >>> pts = np.array([[0, 0], [2, 0], [0, 2], [2, 2], [1, 1]])
        >>> triangulate(pts).tolist()
        [[0, 1, 4], [0, 4, 2], [1, 3, 4], [4, 3, 2]]
    """
    pts = np.asarray(points)
    if not np.issubdtype(pts.dtype, np.integer):
        raise ValueError("points must be integers")
    pts = pts.astype(np.int64)
    _check_input(pts)
    if np.abs(pts).max() >= 1 << 15:
        raise ValueError("coordinates must be below 2**15")
    if not reference:
        fast = _fast(pts)
        checked = None if fast is None else _validate_paired(pts, fast)
        if checked is not None:
            return _canonical(pts, checked[0], checked[1])
    return _canonical(pts, bowyer_watson(pts))
