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
  throw new DelaunayThumbError('delaunay-thumb: ' + message);
};

function toBytes(input) {
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }
  if (typeof input !== 'string') fail('expected bytes, base64 or a data: URI');
  let raw;
  try {
    raw = atob(input.replace(/^\s*data:[^,]*;base64,/, ''));
  } catch {
    fail('invalid base64');
  }
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

const bitLength = (v) => (v ? 32 - Math.clz32(v) : 0);

/**
 * Parse a stream: header, vertices, canonical triangulation and colours (sections 2-6).
 * @returns {object} see index.d.ts (Mesh)
 */
export function decodeMesh(input) {
  const bytes = toBytes(input);
  if (bytes.length < 2) fail('stream too short');
  const head = bytes[0];
  const aspect = bytes[1];
  if (head >> 6) fail('unsupported version ' + (head >> 6));
  const grey = (head & 0x20) !== 0;
  const portrait = (head & 0x10) !== 0;
  const long = GRID_LONG[head & 15];
  const short = Math.max(2, Math.floor(((long - 1) * (aspect + 1) * 2 + 256) / 512) + 1);
  const gw = portrait ? short : long;
  const gh = portrait ? long : short;
  // Section 3: binary range decoder; bytes past the end read as zero.
  let pos = 2;
  let range = 0xffffffff;
  let code = 0;
  const byte = () => (pos < bytes.length ? bytes[pos++] : 0);
  for (let i = 0; i < 4; i++) code = ((code << 8) | byte()) >>> 0;
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
      code = ((code << 8) | byte()) >>> 0;
    }
    return b;
  };
  const bits = (k) => {
    let v = 0;
    while (k--) v = v * 2 + bit(2048);
    return v;
  };
  // Adaptive bit with its probability of a 0 in probs[i].
  const adaptive = (probs, i) => {
    const p = probs[i];
    const b = bit(p);
    probs[i] = b ? p - (p >> 4) : p + ((4096 - p) >> 4);
    return b;
  };
  const qy = QSTEPS[bits(4)];
  const qc = QSTEPS[grey ? 0 : bits(4)];

  // Section 4: vertex count (Exp-Golomb of order 4) and gap-coded positions.
  const eligible = gw * gh - 4;
  let prefix = 0;
  while (bit(2048)) if (++prefix > 16) fail('bad vertex count');
  const n = 2 ** (prefix + 4) + bits(prefix + 4) - 16;
  if (n > eligible || n + 4 > MAX_VERTICES) {
    fail('bad vertex count');
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
      while ((q + 1) << k <= limit && adaptive(gapProbs, Math.min(q, 7))) q++;
      gap = (q << k) + bits(k);
      if (gap > limit) fail('vertex outside the grid');
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
  tris.forEach((a, s) => {
    const b = tris[s - (s % 3) + ((s + 1) % 3)];
    const list = before[a > b ? a : b];
    if (!list.includes(a < b ? a : b)) list.push(a < b ? a : b);
  });
  const idx = new Int32Array(count * 3);
  const zero = new Array(9).fill(2048);
  const sign = [2048, 2048, 2048];
  const mag = new Array(18).fill(2048);
  for (let v = 0; v < count; v++) {
    const nb = before[v];
    for (let ch = 0; ch < (grey ? 1 : 3); ch++) {
      let pred = ch ? 0 : Math.floor((128 + (qy >> 1)) / qy);
      let bucket = 2;
      if (nb.length) {
        let sum = 0;
        let lo = 1e9;
        let hi = -1e9;
        for (const u of nb) {
          const val = idx[u * 3 + ch];
          sum += val;
          if (val < lo) lo = val;
          if (val > hi) hi = val;
        }
        pred = Math.floor((2 * sum + nb.length) / (2 * nb.length));
        bucket = hi === lo ? 0 : hi - lo <= 2 ? 1 : 2;
      }
      let r = 0;
      if (adaptive(zero, ch * 3 + bucket)) {
        const negative = adaptive(sign, ch);
        let e = 0;
        while (adaptive(mag, ch * 6 + (e < 5 ? e : 5))) {
          if (++e > 10) fail('residual too large');
        }
        r = 2 ** e + bits(e);
        if (negative) r = -r;
      }
      idx[v * 3 + ch] = pred + r;
    }
  }
  const yMax = Math.floor((255 + (qy >> 1)) / qy);
  const cMax = Math.floor((128 + (qc >> 1)) / qc);
  const rgb = new Float64Array(count * 3);
  for (let v = 0; v < 3 * count; v += 3) {
    const y = idx[v] * qy;
    const co = idx[v + 1] * qc;
    const cg = idx[v + 2] * qc;
    if (idx[v] < 0 || idx[v] > yMax || Math.abs(co) > cMax * qc || Math.abs(cg) > cMax * qc) {
      fail('colour out of range');
    }
    rgb[v] = y + co - cg;
    rgb[v + 1] = y + cg;
    rgb[v + 2] = y - co - cg;
  }
  return { gw, gh, aspect, portrait, grey, qy, qc, xs, ys, triangles: tris, indices: idx, rgb };
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
  // Largest y reached by a triangle's circumcircle (floating point, used with a margin):
  // once the raster-order sweep has passed it, no later vertex can fall inside the circle
  // and the triangle is final. This keeps the active set small.
  // Active triangles: (a, b, c, y) with y the largest y its circumcircle reaches (floating
  // point, used with a margin). Once the sweep in raster order passes y, no later vertex can
  // fall inside the circle and the triangle is final: this keeps the active set small.
  let active = [];
  const add = (a, b, c) => {
    const ax = xs[a];
    const ay = ys[a];
    const bx = xs[b] - ax;
    const by = ys[b] - ay;
    const cx = xs[c] - ax;
    const cy = ys[c] - ay;
    const d = 2 * (bx * cy - by * cx);
    const bl = bx * bx + by * by;
    const cl = cx * cx + cy * cy;
    const uy = (bx * cl - cx * bl) / d;
    active.push(a, b, c, ay + uy + Math.hypot((cy * bl - by * cl) / d, uy));
  };
  add(0, c10, n - 1);
  add(0, n - 1, c01);
  const tris = [];
  for (let p = 1; p < n - 1; p++) {
    if (p === c10 || p === c01) continue;
    const list = active;
    const cavity = [];
    active = [];
    for (let t = 0; t < list.length; t += 4) {
      const a = list[t];
      const b = list[t + 1];
      const c = list[t + 2];
      if (list[t + 3] < ys[p] - 1e-6) tris.push(a, b, c);
      else if (incircle(xs, ys, a, b, c, p) > 0) cavity.push(a, b, b, c, c, a);
      else active.push(a, b, c, list[t + 3]);
    }
    // The cavity's boundary: its directed edges whose reverse is not in the cavity.
    for (let e = 0; e < cavity.length; e += 2) {
      const a = cavity[e];
      const b = cavity[e + 1];
      let f = 0;
      while (f < cavity.length && (cavity[f] !== b || cavity[f + 1] !== a)) f += 2;
      // Keep the new triangle (a, b, p) unless p lies on the edge (on the grid border).
      if (f === cavity.length && (xs[b] - xs[a]) * (ys[p] - ys[a]) !== (ys[b] - ys[a]) * (xs[p] - xs[a])) {
        add(a, b, p);
      }
    }
  }
  for (let t = 0; t < active.length; t += 4) tris.push(active[t], active[t + 1], active[t + 2]);
  // Canonical form: flip each co-circular edge (a, b) whose quadrilateral's other diagonal
  // (c, d) has a smaller first vertex. Every flip lowers the sum of the edges' first vertices,
  // so this ends, and then every co-circular face is the fan from its first raster vertex.
  const edges = new Map();
  const link = (t) => {
    for (let k = 0; k < 3; k++) edges.set(tris[t + k] * n + tris[t + ((k + 1) % 3)], t);
  };
  for (let t = 0; t < tris.length; t += 3) link(t);
  for (let again = true; again; ) {
    again = false;
    for (let t = 0; t < tris.length; t += 3) {
      for (let k = 0; k < 3; k++) {
        const a = tris[t + k];
        const b = tris[t + ((k + 1) % 3)];
        const c = tris[t + ((k + 2) % 3)];
        const u = edges.get(b * n + a);
        if (u === undefined) continue;
        const d = tris[u] + tris[u + 1] + tris[u + 2] - a - b;
        if (Math.min(c, d) < Math.min(a, b) && !incircle(xs, ys, a, b, c, d)) {
          edges.delete(a * n + b);
          edges.delete(b * n + a);
          tris.splice(t, 3, c, a, d);
          tris.splice(u, 3, d, b, c);
          link(t);
          link(u);
          again = true;
          break;
        }
      }
    }
  }
  return Int32Array.from(tris);
}

/**
 * Output (width, height) for a mesh and a requested size (section 7 and decode()).
 * @throws {RangeError} for a size that is not a positive integer (pair) up to MAX_SIDE
 */
export function outputSize(mesh, size = DEFAULT_SIZE) {
  const ok = (v) => Number.isInteger(v) && v >= 1 && v <= MAX_SIDE;
  if (Array.isArray(size) ? size.length !== 2 || !ok(size[0]) || !ok(size[1]) : !ok(size)) {
    throw new RangeError('size: an integer or [width, height] in 1..4096');
  }
  if (Array.isArray(size)) return [size[0], size[1]];
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
  const fx = 2 * (gw - 1);
  const fy = 2 * (gh - 1);
  for (let t = 0; t < tris.length; t += 3) {
    const a = tris[t];
    const b = tris[t + 1];
    const c = tris[t + 2];
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
    // Exact containment on integers: x scaled by 2 (gw - 1), y by 2 (gh - 1). Edge k -> l
    // keeps q when (X[l] - X[k]) (qy - Y[k]) - (Y[l] - Y[k]) (qx - X[k]) >= 0; along a row
    // qx grows by fx per pixel, so each edge value changes by a constant step.
    const X = [2 * xs[a] * w, 2 * xs[b] * w, 2 * xs[c] * w];
    const Y = [2 * ys[a] * h, 2 * ys[b] * h, 2 * ys[c] * h];
    // Bounding box, one pixel wider than needed: the exact test decides.
    const i0 = Math.max(0, Math.floor(Math.min(...X) / fx) - 1);
    const i1 = Math.min(w - 1, Math.ceil(Math.max(...X) / fx));
    const j0 = Math.max(0, Math.floor(Math.min(...Y) / fy) - 1);
    const j1 = Math.min(h - 1, Math.ceil(Math.max(...Y) / fy));
    const dx0 = X[1] - X[0];
    const dy0 = Y[1] - Y[0];
    const dx1 = X[2] - X[1];
    const dy1 = Y[2] - Y[1];
    const dx2 = X[0] - X[2];
    const dy2 = Y[0] - Y[2];
    const qx = (2 * i0 + 1) * (gw - 1);
    for (let j = j0; j <= j1; j++) {
      const qy = (2 * j + 1) * (gh - 1);
      let f0 = dx0 * (qy - Y[0]) - dy0 * (qx - X[0]);
      let f1 = dx1 * (qy - Y[1]) - dy1 * (qx - X[1]);
      let f2 = dx2 * (qy - Y[2]) - dy2 * (qx - X[2]);
      for (let i = i0, o = (j * w + i0) * 4; i <= i1; i++, o += 4) {
        if (f0 >= 0 && f1 >= 0 && f2 >= 0) {
          for (let ch = 0; ch < 3; ch++) {
            const k = 3 * ch;
            data[o + ch] = Math.floor(planes[k] * (i + 0.5) + planes[k + 1] * (j + 0.5) + planes[k + 2] + 0.5);
          }
        }
        f0 -= dy0 * fx;
        f1 -= dy1 * fx;
        f2 -= dy2 * fx;
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
