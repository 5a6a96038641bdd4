"""C99 code of each op of an integer network (one ``static void`` function per step).

The generated arithmetic uses table lookups, additions, subtractions, shifts, masks and
comparisons only. Array positions are advanced by adding constant strides computed at export
time, never by multiplying. The only ``*`` in the text declares a pointer (``<type> *name``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fourfold_common.engine._c_plan import MemoryPlan
from fourfold_common.engine._c_source import (
    Constants,
    Packed,
    c_int,
    index_bits,
    reader_declarations,
    reader_next,
    reader_reset,
)
from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._network import IntegerNetwork
from fourfold_common.engine._ops import (
    Add,
    Conv,
    Dense,
    Lookup,
    MaxPool,
    Op,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)


@dataclass(frozen=True)
class Table:
    """A product or requantization table in C: flat array plus its row addressing."""

    name: str
    ctype: str
    rows: str  # name of the row-offset array, or "" when rows are addressed by a shift
    log2_columns: int

    def row(self, index: str) -> str:
        """C expression of the flat offset of row ``index``."""
        if self.rows:
            return f"{self.rows}[{index}]"
        return f"((uint32_t){index} << {self.log2_columns})"


def declare_table(constants: Constants, table: np.ndarray, hint: str, category: str) -> Table:
    """Declare a 2-D table flat; rows are addressed by a shift (power-of-two widths) or offsets."""
    rows, columns = (int(v) for v in table.shape)
    name = constants.array(hint, table, category)
    ctype = constants.ctypes[name]
    if columns & (columns - 1) == 0:
        return Table(name, ctype, "", columns.bit_length() - 1)
    offsets = np.cumsum(np.full(rows, columns, dtype=np.int64)) - columns
    return Table(name, ctype, constants.array(f"{hint}rows", offsets, category, signed=False), 0)


@dataclass
class Context:
    """Everything the op emitters share."""

    network: IntegerNetwork
    plan: MemoryPlan
    constants: Constants
    prefix: str
    tables: dict[str, Table] = field(default_factory=dict)

    def ctype(self, buffer: str) -> str:
        """C element type of a buffer."""
        return self.plan.slots[self.plan.root[buffer]].ctype

    def size(self, buffer: str) -> int:
        """Elements per sample of a buffer."""
        return int(np.prod(self.plan.buffers[buffer].shape, dtype=np.int64))

    def product_table(self, name: str) -> Table:
        """The C form of the shared product table ``name`` (declared on first use)."""
        if name not in self.tables:
            self.tables[name] = declare_table(
                self.constants, self.network.tables[name], "t", f"table:{name}"
            )
        return self.tables[name]


def activation_lines(op: Op, ctx: Context, source: str, target: str) -> list[str]:
    """Statements mapping the value ``source`` to the index stored in ``target``.

    Locals used: ``int64_t av; int32_t lo, hi, mid;``.
    """
    if isinstance(op, ShiftActivation):
        table = ctx.constants.array("act", op.table, "activation_tables", signed=False)
        last = int(op.table.size) - 1
        lines = [f"av = (int64_t){source};"]
        if op.shift:
            lines.append(f"av = (av >= 0) ? (av >> {op.shift}) : ~((~av) >> {op.shift});")
        # Clamp by comparisons, then subtract: nothing can overflow (the executor does the same).
        lines += [
            f"if (av < {c_int(op.low, 'int64_t')}) {{",
            "    av = 0;",
            f"}} else if (av > {c_int(op.low + last, 'int64_t')}) {{",
            f"    av = {last};",
            "} else {",
            f"    av -= {c_int(op.low, 'int64_t')};",
            "}",
            f"{target} = {table}[av];",
        ]
        return lines
    if isinstance(op, ThresholdActivation):
        count = int(op.boundaries.size)
        if count == 0:
            return [f"{target} = 0;"]
        bounds = ctx.constants.array("bnd", op.boundaries, "boundaries")
        return [
            f"av = (int64_t){source};",
            "lo = 0;",
            f"hi = {count};",
            "while (lo < hi) {",
            "    mid = (lo + hi) >> 1;",
            f"    if ((int64_t){bounds}[mid] <= av) {{",
            "        lo = mid + 1;",
            "    } else {",
            "        hi = mid;",
            "    }",
            "}",
            f"{target} = ({ctx.ctype(op.output)})lo;",
        ]
    raise EngineError(f"internal: {type(op).__name__} is not an activation")


def activation_locals(op: Op) -> list[str]:
    """Locals used by :func:`activation_lines` for ``op``."""
    if isinstance(op, ThresholdActivation):
        return ["int64_t av;", "int32_t lo, hi, mid;"] if op.boundaries.size else []
    return ["int64_t av;"]


def _bias_setup(op: Dense | Conv, ctx: Context) -> tuple[list[str], list[str], list[str]]:
    """Declarations, per-position reset, and per-unit statements setting ``acc[o]``."""
    if op.bias is not None:
        bias = ctx.constants.array("b", op.bias, "bias")
        return [], [], [f"acc[o] = {bias}[o];"]
    if op.bias_index is not None:
        table = ctx.product_table(op.table)
        columns = int(ctx.network.tables[op.table].shape[1])
        stream = ctx.constants.packed("bi", op.bias_index, "bias_index")
        base = c_int(op.bias_row * columns + stream.offset)  # export-time constant
        return (
            reader_declarations("r", stream),
            reader_reset("r", stream),
            [*reader_next("r", stream), f"acc[o] = {table.name}[{base} + rv];"],
        )
    return [], [], ["acc[o] = 0;"]


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return [("    " * depth) + line for line in lines]


def _unit_loop(count: int, body: list[str]) -> list[str]:
    return [f"for (o = 0; o < {count}; o++) {{", *_indent(body), "}"]


@dataclass(frozen=True)
class _TableParts:
    declarations: list[str]
    start: list[str]  # point acc at its storage, set the biases, restart the weight stream
    offset: int  # first weight index (added to every row pointer)
    run: list[str]  # add the next ``run`` weights' table entries to acc[o], acc[o + 1], ...
    epilogue: list[str]  # fused activation of the units at acc, written from y[opos]


def _byte_run(stream: Packed, run: int) -> list[str]:
    """Decode a byte-aligned run whole bytes at a time, every value by shift and mask."""
    per_byte = 8 // stream.bits
    mask = (1 << stream.bits) - 1
    body = ["wv = wp[0];", "wp++;"]
    for position in range(per_byte):
        shift = position * stream.bits
        if per_byte == 1:
            value = "wv"
        elif shift == 0:
            value = f"wv & {mask}u"
        elif shift + stream.bits == 8:
            value = f"wv >> {shift}"
        else:
            value = f"(wv >> {shift}) & {mask}u"
        target = "acc[o]" if position == 0 else f"acc[o + {position}]"
        body.append(f"{target} += row[{value}];")
    return [
        f"for (j = 0; j < {run}; j += {per_byte}) {{",
        *_indent(body),
        f"    o += {per_byte};",
        "}",
    ]


def _table_parts(
    op: Dense | Conv, act: Op | None, ctx: Context, units: int, run: int
) -> _TableParts:
    """Pieces of a table op whose weights are consumed in runs of ``run`` consecutive units.

    When ``bits`` divides 8 and every run fills whole bytes, each run starts on a byte boundary
    and is decoded a byte at a time (no bit buffer); otherwise a bit buffer decodes one value
    at a time. Both read the same plain bit-packed stream.
    """
    table = ctx.product_table(op.table)
    bits = index_bits(op.weights)
    aligned = bits in (1, 2, 4, 8) and (run * bits) % 8 == 0
    stream = ctx.constants.packed("w", op.weights, "weights", byte_aligned=aligned)
    bias_declarations, bias_reset, bias_unit = _bias_setup(op, ctx)
    declarations = [
        f"{ctx.plan.accumulator_ctype} *acc;",
        f"const {table.ctype} *row;",
        "int32_t o, j, opos;",
        *(["const uint8_t *wp;", "uint32_t wv;"] if aligned else reader_declarations("w", stream)),
        *bias_declarations,
    ]
    if act is None:
        start = ["acc = y + opos;"]
        epilogue: list[str] = []
    else:
        declarations += activation_locals(act)
        start = [f"acc = {ctx.prefix}_scratch;"]
        epilogue = _unit_loop(units, activation_lines(act, ctx, "acc[o]", "y[opos + o]"))
    reset = [f"wp = {stream.name};"] if aligned else reader_reset("w", stream)
    start += [*bias_reset, *_unit_loop(units, bias_unit), *reset]
    if aligned:
        body = _byte_run(stream, run)
    else:
        body = [
            f"for (j = 0; j < {run}; j++) {{",
            *_indent([*reader_next("w", stream), "acc[o] += row[wv];", "o++;"]),
            "}",
        ]
    return _TableParts(declarations, start, stream.offset, body, epilogue)


def dense_lines(op: Dense, act: Op | None, ctx: Context) -> list[str]:
    """Body of a dense step (optionally fused with the activation ``act``)."""
    table = ctx.product_table(op.table)
    fan_in, units = (int(v) for v in op.weights.shape)
    parts = _table_parts(op, act, ctx, units, units)
    return [
        *parts.declarations,
        "int32_t k;",
        "opos = 0;",
        *parts.start,
        f"for (k = 0; k < {fan_in}; k++) {{",
        f"    row = {table.name} + {table.row('x[k]')} + {parts.offset};",
        "    o = 0;",
        *_indent(parts.run),
        "}",
        *parts.epilogue,
    ]


def conv_lines(op: Conv, act: Op | None, ctx: Context) -> list[str]:
    """Body of a convolution step: incremental offsets, padding tests only where padded."""
    table = ctx.product_table(op.table)
    height, width, channels = ctx.plan.buffers[op.input].shape
    out_h, out_w, cout = ctx.plan.buffers[op.output].shape
    kh, kw, cin_g, _ = (int(v) for v in op.weights.shape)
    sy, sx = op.stride
    top, _, left, _ = op.padding
    per_group = cout // op.groups
    padded = any(op.padding)
    row_stride = width * channels
    parts = _table_parts(op, act, ctx, cout, per_group)
    index = f"(valid ? x[off + ch] : {op.pad_index})" if padded else "x[off + ch]"
    tap = [
        f"for (c = 0; c < {cin_g}; c++) {{",
        "    ch = c;",
        "    o = 0;",
        f"    for (g = 0; g < {op.groups}; g++) {{",
        f"        row = {table.name} + {table.row(index)} + {parts.offset};",
        *_indent(parts.run, 2),
        f"        ch += {cin_g};",
        "    }",
        "}",
    ]

    # Row/column positions are only tracked when padding makes some taps invalid.
    def when(*code: str) -> list[str]:
        return list(code) if padded else []

    lines = [
        *parts.declarations,
        "int32_t oy, ox, dy, dx, c, g, ch, yoff0, xoff0, yoff, off;",
        *when("int32_t iy, ix, iy0, ix0, valid;"),
        "opos = 0;",
        *when(f"iy0 = {-top};"),
        f"yoff0 = {-top * row_stride};",
        f"for (oy = 0; oy < {out_h}; oy++) {{",
        *when(f"    ix0 = {-left};"),
        f"    xoff0 = {-left * channels};",
        f"    for (ox = 0; ox < {out_w}; ox++) {{",
        *_indent(parts.start, 2),
        "        yoff = yoff0;",
        f"        for (dy = 0; dy < {kh}; dy++) {{",
        *when("            iy = iy0 + dy;"),
        "            off = yoff + xoff0;",
        f"            for (dx = 0; dx < {kw}; dx++) {{",
        *when(
            "                ix = ix0 + dx;",
            f"                valid = (iy >= 0) && (iy < {height}) && (ix >= 0) && (ix < {width});",
        ),
        *_indent(tap, 4),
        f"                off += {channels};",
        "            }",
        f"            yoff += {row_stride};",
        "        }",
        *_indent(parts.epilogue, 2),
        f"        opos += {cout};",
        *when(f"        ix0 += {sx};"),
        f"        xoff0 += {sx * channels};",
        "    }",
        *when(f"    iy0 += {sy};"),
        f"    yoff0 += {sy * row_stride};",
        "}",
    ]
    return lines


def _window_lines(
    op: MaxPool | SumPool, ctx: Context, combine: str, lookup: Lookup | None = None
) -> list[str]:
    """Pooling over valid windows; the taps are unrolled with constant offsets.

    With ``lookup`` (a fused value lookup) the pool reads indices and looks their values up.
    """
    ctype = ctx.ctype(op.output)
    load = "x[base + c + {tap}]"
    if lookup is not None:
        levels = ctx.plan.buffers[lookup.input].levels
        table = ctx.constants.array("lut", lookup.table[:levels], "lookups")
        load = f"{table}[{load}]"
    _, width, channels = ctx.plan.buffers[op.input].shape
    out_h, out_w, _ = ctx.plan.buffers[op.output].shape
    wy, wx = op.window
    sy, sx = op.stride
    taps = [dy * width * channels + dx * channels for dy in range(wy) for dx in range(wx)]
    body = [f"m = {load.format(tap=taps[0])};"]
    for tap in taps[1:]:
        body += [f"v = {load.format(tap=tap)};", combine]
    return [
        "int32_t oy, ox, c, base, ybase, opos;",
        f"{ctype} m, v;" if len(taps) > 1 else f"{ctype} m;",
        "opos = 0;",
        "ybase = 0;",
        f"for (oy = 0; oy < {out_h}; oy++) {{",
        "    base = ybase;",
        f"    for (ox = 0; ox < {out_w}; ox++) {{",
        f"        for (c = 0; c < {channels}; c++) {{",
        *_indent(body, 3),
        "            y[opos] = m;",
        "            opos++;",
        "        }",
        f"        base += {sx * channels};",
        "    }",
        f"    ybase += {sy * width * channels};",
        "}",
    ]


def elementwise_lines(op: Op, ctx: Context) -> list[str]:
    """Body of a lookup, activation or add step (one loop over the elements)."""
    size = ctx.size(op.output)
    if isinstance(op, Lookup):
        levels = ctx.plan.buffers[op.input].levels
        lut = ctx.constants.array("lut", op.table[:levels], "lookups", signed=op.kind == "value")
        body = [f"y[i] = {lut}[x[i]];"]
        declarations: list[str] = []
    elif isinstance(op, Add):
        rows = ctx.plan.buffers[op.input].levels
        columns = ctx.plan.buffers[op.other].levels
        table = declare_table(ctx.constants, op.table[:rows, :columns], "add", "requant_tables")
        body = [f"y[i] = {table.name}[{table.row('x[i]')} + z[i]];"]
        declarations = []
    elif isinstance(op, (ShiftActivation, ThresholdActivation)):
        body = activation_lines(op, ctx, "x[i]", "y[i]")
        declarations = activation_locals(op)
    else:
        raise EngineError(f"internal: {type(op).__name__} is not element-wise")
    return [*declarations, "int32_t i;", f"for (i = 0; i < {size}; i++) {{", *_indent(body), "}"]


def step_lines(op: Op, act: Op | None, ctx: Context) -> list[str]:
    """Body of the C function of one step."""
    if isinstance(op, Dense):
        return dense_lines(op, act, ctx)
    if isinstance(op, Conv):
        return conv_lines(op, act, ctx)
    if isinstance(op, MaxPool):
        return _window_lines(op, ctx, "if (v > m) m = v;")
    if isinstance(op, SumPool):
        return _window_lines(op, ctx, "m += v;")
    if isinstance(op, Lookup) and isinstance(act, SumPool):
        return _window_lines(act, ctx, "m += v;", lookup=op)
    if isinstance(op, (Lookup, Add, ShiftActivation, ThresholdActivation)):
        return elementwise_lines(op, ctx)
    raise EngineError(f"the C export does not support op type {type(op).__name__}")
