// Types of the delaunay-thumb decoder (delaunay-thumb.js).

/** The only error thrown for malformed, truncated or hostile input. */
export class DelaunayThumbError extends Error {
  name: 'DelaunayThumbError';
}

/** Largest accepted output side in pixels (4096). */
export const MAX_SIDE: number;
/** Longest output side when no size is given (64). */
export const DEFAULT_SIZE: number;
/** Most vertices a stream may declare, corners included (4096). */
export const MAX_VERTICES: number;

/** Raw bytes, base64 text (padding optional), or a `data:...;base64,` URI. */
export type ThumbInput = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Longest side in pixels, or an explicit `[width, height]`. */
export type ThumbSize = number | [number, number];

/** Everything a stream carries, after the canonical triangulation. */
export interface Mesh {
  /** Grid size (grid points along x and y). */
  gw: number;
  gh: number;
  /** Header aspect byte: short side / long side = (aspect + 1) / 256. */
  aspect: number;
  portrait: boolean;
  grey: boolean;
  /** Quantiser steps of luma and chroma. */
  qy: number;
  qc: number;
  /** Grid coordinates of the vertices, in raster order (corners included). */
  xs: Int32Array;
  ys: Int32Array;
  /** Vertex indices, three per triangle, each triangle positively oriented. */
  triangles: Int32Array;
  /** Quantiser indices (Y, Co, Cg) per vertex. */
  indices: Int32Array;
  /** Dequantised, unclamped (R, G, B) per vertex. */
  rgb: Float64Array;
}

/** RGBA pixels, row-major; the shape of an ImageData. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Parse a stream. Throws DelaunayThumbError for bad input. */
export function decodeMesh(input: ThumbInput): Mesh;
/** Output [width, height] for a size. Throws RangeError for a bad size. */
export function outputSize(mesh: Mesh, size?: ThumbSize): [number, number];
/** Render a parsed mesh. Throws RangeError for a bad size. */
export function renderMesh(mesh: Mesh, size?: ThumbSize): Pixels;
/** Decode to RGBA pixels (default: longest side 64). */
export function decode(input: ThumbInput, size?: ThumbSize): Pixels;
/** Decode to an ImageData (browsers). */
export function toImageData(input: ThumbInput, size?: ThumbSize): ImageData;
/** Decode into a canvas, resizing it to the output size; returns the canvas. */
export function drawToCanvas<C extends HTMLCanvasElement | OffscreenCanvas>(
  canvas: C,
  input: ThumbInput,
  size?: ThumbSize,
): C;
