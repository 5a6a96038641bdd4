// delaunay-thumb decoder for the browser: bitstream version 0, no dependencies.
// Normative description: docs/delaunay-thumb/format.md (section numbers below refer to it).
//
// Number precision: every integer below stays far under 2^53, so plain doubles are exact.
// Grid coordinates are < 256: |orient| < 2^17 and |incircle| < 6e10 (section 5). Pixel
// containment uses coordinates scaled by 2(gw-1) and 2(gh-1): at most 2 * 255 * 4096 < 2^21,
// so the edge functions stay below 2^43. The range coder keeps 32-bit values in [0, 2^32)
// with `>>> 0`, and (range >>> 12) * p < 2^32.

/** The only error thrown for bad data: malformed, truncated or hostile input. */
export class DelaunayThumbError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DelaunayThumbError';
  }
}

/** Largest output side in pixels; the default longest side; the vertex cap of the format. */
export const MAX_SIDE = 4096;
export const DEFAULT_SIZE = 64;
export const MAX_VERTICES = 4096;

const GRID_LONG = [8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256];
const QSTEPS = [2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48];

const fail = (message) => {
  throw new DelaunayThumbError(message);
};

function toBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }
  if (typeof input !== 'string') fail('expected bytes, base64 text or a data: URI');
  let text = input.trim();
  if (text.startsWith('data:')) {
    const comma = text.indexOf(',');
    if (comma < 0 || !text.slice(0, comma).endsWith(';base64')) {
      fail('a data: URI must be base64-encoded');
    }
    text = text.slice(comma + 1);
  }
  let raw;
  try {
    raw = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    fail('invalid base64');
  }
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// Section 3: binary range decoder; bytes past the end read as zero.
function rangeDecoder(bytes) {
  let pos = 2;
  let range = 0xffffffff;
  let code = 0;
  const next = () => (pos < bytes.length ? bytes[pos++] : 0);
  for (let i = 0; i < 4; i++) code = ((code << 8) | next()) >>> 0;
  const bit = (p0) => {
    const bound = (range >>> 12) * p0;
    let b = 0;
    if (code < bound) {
      range = bound;
    } else {
      code -= bound;
      range -= bound;
      b = 1;
    }
    while (range < 0x1000000) {
      range = (range << 8) >>> 0;
      code = ((code << 8) | next()) >>> 0;
    }
    return b;
  };
  const bits = (k) => {
    let v = 0;
    while (k--) v = v * 2 + bit(2048);
    return v;
  };
  // Adaptive bit with its probability in probs[i].
  const adaptive = (probs, i) => {
    const p = probs[i];
    const b = bit(p);
    probs[i] = b ? p - (p >> 4) : p + ((4096 - p) >> 4);
    return b;
  };
  return { bit, bits, adaptive };
}

const bitLength = (v) => (v ? 32 - Math.clz32(v) : 0);

/**
 * Parse a stream: header, vertices, canonical triangulation and colours (sections 2-6).
 * @returns {object} see index.d.ts (Mesh)
 */
export function decodeMesh(input) {
  const bytes = toBytes(input);
  if (bytes.length < 2) fail('stream too short: a thumbnail has at least a 2-byte header');
  const head = bytes[0];
  const aspect = bytes[1];
  if (head >> 6) fail(`unsupported format version ${head >> 6}`);
  const grey = (head & 0x20) !== 0;
  const portrait = (head & 0x10) !== 0;
  const long = GRID_LONG[head & 15];
  const short = Math.max(2, Math.floor(((long - 1) * (aspect + 1) * 2 + 256) / 512) + 1);
  const gw = portrait ? short : long;
  const gh = portrait ? long : short;
  const rd = rangeDecoder(bytes);
  const qy = QSTEPS[rd.bits(4)];
  const qc = QSTEPS[grey ? 0 : rd.bits(4)];

  // Section 4: vertex count (Exp-Golomb of order 4) and gap-coded positions.
  const eligible = gw * gh - 4;
  let prefix = 0;
  while (rd.bit(2048)) if (++prefix > 16) fail('corrupt stream: vertex count too large');
  const n = 2 ** (prefix + 4) + rd.bits(prefix + 4) - 16;
  if (n > eligible || n + 4 > MAX_VERTICES) {
    fail(`corrupt stream: ${n} vertices do not fit the ${gw}x${gh} grid or exceed the cap`);
  }
  const used = new Uint8Array(gw * gh);
  used[0] = used[gw - 1] = used[gw * (gh - 1)] = used[gw * gh - 1] = 1;
  const gapProbs = new Array(8).fill(2048);
  let next = 0;
  for (let i = 0; i < n; i++) {
    const remV = n - i;
    const limit = eligible - next - remV;
    let gap = 0;
    if (limit > 0) {
      const k = bitLength(Math.floor(limit / (2 * remV)));
      let q = 0;
      while ((q + 1) << k <= limit && rd.adaptive(gapProbs, Math.min(q, 7))) q++;
      gap = (q << k) + rd.bits(k);
      if (gap > limit) fail('corrupt stream: vertex position outside the grid');
    }
    // Eligible index -> raster index (skip the corners).
    let r = next + gap + 1;
    if (r >= gw - 1) r++;
    if (r >= gw * (gh - 1)) r++;
    used[r] = 1;
    next += gap + 1;
  }
  const count = n + 4;
  const xs = new Int32Array(count);
  const ys = new Int32Array(count);
  for (let r = 0, v = 0; r < gw * gh; r++) {
    if (used[r]) {
      xs[v] = r % gw;
      ys[v++] = (r / gw) | 0;
    }
  }
  const tris = triangulate(xs, ys);

  // Section 6: colours predicted from the previously decoded neighbours.
  const before = Array.from({ length: count }, () => []);
  const edges = edgeMap(tris, count);
  edges.forEach((_, key) => {
    const a = Math.floor(key / count);
    const b = key % count;
    if (a < b || !edges.has(b * count + a)) before[Math.max(a, b)].push(Math.min(a, b));
  });
  const channels = grey ? 1 : 3;
  const idx = new Int32Array(count * 3);
  const zero = new Array(9).fill(2048);
  const sign = new Array(3).fill(2048);
  const mag = new Array(18).fill(2048);
  for (let v = 0; v < count; v++) {
    const nb = before[v];
    for (let ch = 0; ch < channels; ch++) {
      let pred = ch ? 0 : Math.floor((128 + (qy >> 1)) / qy);
      let bucket = 2;
      if (nb.length) {
        let sum = 0;
        let lo = Infinity;
        let hi = -Infinity;
        for (const u of nb) {
          const val = idx[u * 3 + ch];
          sum += val;
          lo = Math.min(lo, val);
          hi = Math.max(hi, val);
        }
        pred = Math.floor((2 * sum + nb.length) / (2 * nb.length));
        bucket = hi === lo ? 0 : hi - lo <= 2 ? 1 : 2;
      }
      let r = 0;
      if (rd.adaptive(zero, ch * 3 + bucket)) {
        const negative = rd.adaptive(sign, ch);
        let e = 0;
        while (rd.adaptive(mag, ch * 6 + Math.min(e, 5))) {
          if (++e > 10) fail('corrupt stream: colour residual too large');
        }
        r = 2 ** e + rd.bits(e);
        if (negative) r = -r;
      }
      idx[v * 3 + ch] = pred + r;
    }
  }
  const yMax = Math.floor((255 + (qy >> 1)) / qy);
  const cMax = Math.floor((128 + (qc >> 1)) / qc);
  const rgb = new Float64Array(count * 3);
  for (let v = 0; v < count; v++) {
    const iy = idx[v * 3];
    const ico = idx[v * 3 + 1];
    const icg = idx[v * 3 + 2];
    if (iy < 0 || iy > yMax) fail('corrupt stream: luma index out of range');
    if (Math.abs(ico) > cMax || Math.abs(icg) > cMax) {
      fail('corrupt stream: chroma index out of range');
    }
    const y = iy * qy;
    const co = ico * qc;
    const cg = icg * qc;
    rgb.set([y + co - cg, y + cg, y - co - cg], v * 3);
  }
  return { gw, gh, aspect, portrait, grey, qy, qc, xs, ys, triangles: tris, indices: idx, rgb };
}

// Directed edges (a -> b) of positively oriented triangles: key a * n + b -> 3 * t + side.
function edgeMap(tris, n) {
  const map = new Map();
  for (let s = 0; s < tris.length; s++) {
    map.set(tris[s] * n + tris[s - (s % 3) + ((s + 1) % 3)], s);
  }
  return map;
}

function orient(xs, ys, a, b, c) {
  return (xs[b] - xs[a]) * (ys[c] - ys[a]) - (ys[b] - ys[a]) * (xs[c] - xs[a]);
}

function incircle(xs, ys, a, b, c, d) {
  const adx = xs[a] - xs[d];
  const ady = ys[a] - ys[d];
  const bdx = xs[b] - xs[d];
  const bdy = ys[b] - ys[d];
  const cdx = xs[c] - xs[d];
  const cdy = ys[c] - ys[d];
  const al = adx * adx + ady * ady;
  const bl = bdx * bdx + bdy * bdy;
  const cl = cdx * cdx + cdy * cdy;
  return adx * (bdy * cl - cdy * bl) - ady * (bdx * cl - cdx * bl) + al * (bdx * cdy - cdx * bdy);
}

// Section 5: Bowyer-Watson insertion with exact predicates, starting from the two triangles
// of the grid rectangle (positively oriented), then co-circular faces fanned from their
// first raster vertex. Vertices are sorted in raster order, so index order is raster order
// and the corners are 0, the last of row 0 (c10), the first of the last row (c01) and n - 1.
function triangulate(xs, ys) {
  const n = xs.length;
  const c10 = xs.indexOf(xs[n - 1]);
  const c01 = xs.lastIndexOf(0);
  // Lowest y reached by a triangle's circumcircle (floating point, used with a margin): once
  // the sweep in raster order has passed it, no later vertex can fall inside the circle and
  // the triangle is final. This keeps the active set small.
  const low = (a, b, c) => {
    const [ax, ay, bx, by, cx, cy] = [xs[a], ys[a], xs[b], ys[b], xs[c], ys[c]];
    const d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
    const [al, bl, cl] = [ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy];
    const ux = (al * (by - cy) + bl * (cy - ay) + cl * (ay - by)) / d;
    const uy = (al * (cx - bx) + bl * (ax - cx) + cl * (bx - ax)) / d;
    return uy + Math.hypot(ax - ux, ay - uy);
  };
  const active = [0, c10, n - 1, 0, n - 1, c01];
  const lows = [low(0, c10, n - 1), low(0, n - 1, c01)];
  const done = [];
  const cavity = [];
  for (let p = 1; p < n - 1; p++) {
    if (p === c10 || p === c01) continue;
    let kept = 0;
    cavity.length = 0;
    for (let t = 0; t < lows.length; t++) {
      const a = active[3 * t];
      const b = active[3 * t + 1];
      const c = active[3 * t + 2];
      if (lows[t] < ys[p] - 1e-6) {
        done.push(a, b, c);
      } else if (incircle(xs, ys, a, b, c, p) > 0) {
        cavity.push(a, b, b, c, c, a);
      } else {
        active[3 * kept] = a;
        active[3 * kept + 1] = b;
        active[3 * kept + 2] = c;
        lows[kept++] = lows[t];
      }
    }
    active.length = 3 * kept;
    lows.length = kept;
    // The cavity's boundary: its directed edges whose reverse is not in the cavity.
    for (let e = 0; e < cavity.length; e += 2) {
      const a = cavity[e];
      const b = cavity[e + 1];
      let inner = false;
      for (let f = 0; f < cavity.length && !inner; f += 2) {
        inner = cavity[f] === b && cavity[f + 1] === a;
      }
      if (!inner && orient(xs, ys, a, b, p) > 0) {
        active.push(a, b, p);
        lows.push(low(a, b, p));
      }
    }
  }
  const tris = done.concat(active);
  // Merge triangles across co-circular edges (union-find), then fan each merged face.
  const m = tris.length / 3;
  const parent = Array.from({ length: m }, (_, i) => i);
  const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const edges = edgeMap(tris, n);
  let merged = false;
  edges.forEach((s, key) => {
    const twin = edges.get((key % n) * n + Math.floor(key / n));
    if (twin > s && incircle(xs, ys, ...tris.slice(s - (s % 3), s - (s % 3) + 3), opposite(tris, twin)) === 0) {
      parent[find(s / 3 | 0)] = find(twin / 3 | 0);
      merged = true;
    }
  });
  if (!merged) return Int32Array.from(tris);
  const out = [];
  const faces = new Map();
  for (let t = 0; t < m; t++) {
    const root = find(t);
    if (!faces.has(root)) faces.set(root, []);
    faces.get(root).push(t);
  }
  faces.forEach((members) => {
    if (members.length === 1) {
      out.push(...tris.slice(3 * members[0], 3 * members[0] + 3));
      return;
    }
    const dir = new Set();
    for (const t of members) {
      for (let j = 0; j < 3; j++) dir.add(tris[3 * t + j] * n + tris[3 * t + ((j + 1) % 3)]);
    }
    const nxt = new Map();
    dir.forEach((key) => {
      const a = Math.floor(key / n);
      const b = key % n;
      if (!dir.has(b * n + a)) nxt.set(a, b);
    });
    const start = Math.min(...nxt.keys());
    const ring = [start];
    for (let c = nxt.get(start); c !== start; c = nxt.get(c)) ring.push(c);
    for (let j = 1; j + 1 < ring.length; j++) out.push(start, ring[j], ring[j + 1]);
  });
  return Int32Array.from(out);
}

// The vertex of the triangle holding directed-edge slot s that is not on that edge.
const opposite = (tris, s) => tris[s - (s % 3) + ((s + 2) % 3)];

/**
 * Output (width, height) for a mesh and a requested size (section 7 and decode()).
 * @throws {RangeError} for a size that is not a positive integer (pair) up to MAX_SIDE
 */
export function outputSize(mesh, size = DEFAULT_SIZE) {
  const ok = (v) => Number.isInteger(v) && v >= 1 && v <= MAX_SIDE;
  if (Array.isArray(size)) {
    if (size.length !== 2 || !ok(size[0]) || !ok(size[1])) {
      throw new RangeError(`width and height must be integers in 1..${MAX_SIDE}`);
    }
    return [size[0], size[1]];
  }
  if (!ok(size)) throw new RangeError(`size must be an integer in 1..${MAX_SIDE}`);
  const short = Math.max(1, Math.floor((size * (mesh.aspect + 1) * 2 + 256) / 512));
  return mesh.portrait ? [short, size] : [size, short];
}

/**
 * Render a decoded mesh: Gouraud shading at pixel centres, rounded half up (section 7).
 * @returns {{width: number, height: number, data: Uint8ClampedArray}} RGBA, like ImageData
 */
export function renderMesh(mesh, size) {
  const [w, h] = outputSize(mesh, size);
  const { gw, gh, xs, ys, triangles: tris, rgb } = mesh;
  const data = new Uint8ClampedArray(w * h * 4).fill(255);
  const sx = w / (gw - 1);
  const sy = h / (gh - 1);
  for (let t = 0; t < tris.length; t += 3) {
    const [a, b, c] = [tris[t], tris[t + 1], tris[t + 2]];
    // Exact containment in units of 1 / (2 (gw - 1)) and 1 / (2 (gh - 1)) pixel.
    const X = [2 * xs[a] * w, 2 * xs[b] * w, 2 * xs[c] * w];
    const Y = [2 * ys[a] * h, 2 * ys[b] * h, 2 * ys[c] * h];
    // Colour planes as in the Python decoder: value = gx * x + gy * y + off per channel.
    const x0 = xs[a] * sx;
    const y0 = ys[a] * sy;
    const e1x = xs[b] * sx - x0;
    const e1y = ys[b] * sy - y0;
    const e2x = xs[c] * sx - x0;
    const e2y = ys[c] * sy - y0;
    const den = e1x * e2y - e2x * e1y;
    const planes = [];
    for (let ch = 0; ch < 3; ch++) {
      const c0 = rgb[a * 3 + ch];
      const d1 = rgb[b * 3 + ch] - c0;
      const d2 = rgb[c * 3 + ch] - c0;
      const gx = (d1 * e2y - d2 * e1y) / den;
      const gy = (d2 * e1x - d1 * e2x) / den;
      planes.push(gx, gy, c0 - gx * x0 - gy * y0);
    }
    // Bounding box, one pixel wider than needed: the exact test below decides.
    const i0 = Math.max(0, Math.floor(Math.min(...X) / (2 * (gw - 1)) - 0.5));
    const i1 = Math.min(w - 1, Math.ceil(Math.max(...X) / (2 * (gw - 1)) - 0.5));
    const j0 = Math.max(0, Math.floor(Math.min(...Y) / (2 * (gh - 1)) - 0.5));
    const j1 = Math.min(h - 1, Math.ceil(Math.max(...Y) / (2 * (gh - 1)) - 0.5));
    for (let j = j0; j <= j1; j++) {
      const py = (2 * j + 1) * (gh - 1);
      for (let i = i0; i <= i1; i++) {
        const px = (2 * i + 1) * (gw - 1);
        let inside = true;
        for (let k = 0; k < 3 && inside; k++) {
          const l = (k + 1) % 3;
          inside = (X[l] - X[k]) * (py - Y[k]) - (Y[l] - Y[k]) * (px - X[k]) >= 0;
        }
        if (!inside) continue;
        const o = (j * w + i) * 4;
        for (let ch = 0; ch < 3; ch++) {
          const v = planes[3 * ch] * (i + 0.5) + planes[3 * ch + 1] * (j + 0.5) + planes[3 * ch + 2];
          data[o + ch] = Math.floor(v + 0.5);
        }
      }
    }
  }
  return { width: w, height: h, data };
}

/**
 * Decode bytes, base64 text or a data: URI to RGBA pixels.
 * @param {Uint8Array|ArrayBuffer|string} input
 * @param {number|[number, number]} [size] longest side, or [width, height]; default 64
 * @throws {DelaunayThumbError} for malformed input; {RangeError} for a bad size
 */
export function decode(input, size) {
  return renderMesh(decodeMesh(input), size);
}

/** Decode to an ImageData (browsers). */
export function toImageData(input, size) {
  const { width, height, data } = decode(input, size);
  return new ImageData(data, width, height);
}

/** Decode into a canvas (resized to the output size) and return the canvas. */
export function drawToCanvas(canvas, input, size) {
  const image = toImageData(input, size);
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d').putImageData(image, 0, 0);
  return canvas;
}
