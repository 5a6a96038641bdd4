"""Export an integer network as a self-contained C99 source and header.

The generated code has no heap, no float type and no multiplication: weights and bias indices
are bit-packed in ``const`` byte arrays and decoded on the fly with shifts and masks; tables are
``const`` arrays at the smallest standard integer width; activations live in static arenas planned
so that buffers never alive together share memory (see ``_c_plan.py``). One entry point,
``int <name>_predict(const <name>_input_t *input, <name>_output_t *output)``, runs one sample.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fourfold_common.__about__ import __version__
from fourfold_common.engine._artifact import from_bytes, load
from fourfold_common.engine._c_ops import Context, step_lines
from fourfold_common.engine._c_plan import C_SIZES, INPUT, OUTPUT, MemoryPlan, plan_memory
from fourfold_common.engine._c_source import Constants
from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._float32 import float32_bytes
from fourfold_common.engine._network import IntegerNetwork, infer_buffers
from fourfold_common.engine._ops import OP_TYPES, Add
from fourfold_common.io import atomic_write_text

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}\Z")
_SHORT = {"uint8_t": "u8", "uint16_t": "u16", "int32_t": "i32", "int64_t": "i64"}


@dataclass(frozen=True)
class CExport:
    """What :func:`export_c` wrote and the memory budget of the generated code.

    Attributes:
        source: Path of the ``.c`` file.
        header: Path of the ``.h`` file.
        function: Name of the entry point, ``<name>_predict``.
        input_ctype: C element type of the input array.
        output_ctype: C element type of the output array.
        input_size: Elements of one input sample.
        output_size: Elements of one output.
        input_levels: Inputs must lie in ``[0, input_levels)``.
        flash_bytes: Bytes of all ``const`` arrays (code not included).
        ram_bytes: Bytes of all static activation buffers (arenas and accumulator scratch; the
            caller's input and output arrays and a few stack scalars not included).
        float32_bytes: Bytes of the network's weights and biases as float32.
        flash_parts: ``flash_bytes`` by category (``weights``, ``table:<name>``, ...).
    """

    source: Path
    header: Path
    function: str
    input_ctype: str
    output_ctype: str
    input_size: int
    output_size: int
    input_levels: int
    flash_bytes: int
    ram_bytes: int
    float32_bytes: int
    flash_parts: Mapping[str, int]


def _as_network(network_or_artifact: IntegerNetwork | str | Path | bytes) -> IntegerNetwork:
    if isinstance(network_or_artifact, IntegerNetwork):
        return network_or_artifact
    if isinstance(network_or_artifact, (str, Path)):
        return load(network_or_artifact)
    if isinstance(network_or_artifact, (bytes, bytearray)):
        return from_bytes(bytes(network_or_artifact))
    raise EngineError(
        "export_c takes an IntegerNetwork, an artifact path or artifact bytes, "
        f"not {type(network_or_artifact).__name__}"
    )


def _budget_comment(name: str, plan: MemoryPlan, constants: Constants, float32: int) -> list[str]:
    lines = [
        "/*",
        f" * {name}: integer network exported by fourfold-common {__version__}.",
        " * Integer arithmetic only: table lookups, additions, shifts, comparisons.",
        " * No heap, no floating point, no multiplication.",
        " *",
        " * Memory budget",
        f" *   flash (const tables and packed indices): {constants.flash_bytes} bytes",
    ]
    lines += [f" *     {part}: {size} bytes" for part, size in sorted(constants.parts.items())]
    lines.append(f" *   peak RAM (static activation buffers): {plan.ram_bytes} bytes")
    for ctype, size in sorted(plan.arenas.items()):
        lines.append(f" *     arena {ctype}: {size} elements, {C_SIZES[ctype] * size} bytes")
    if plan.scratch:
        scratch = plan.scratch * C_SIZES[plan.accumulator_ctype]
        lines.append(f" *     accumulator scratch: {plan.scratch} elements, {scratch} bytes")
    lines += [
        f" *   float32 weights and biases, for comparison: {float32} bytes",
        " * Weight and bias indices are bit-packed (LSB first) and decoded with shifts and masks;",
        " * tables are stored at the smallest standard integer width.",
        " */",
    ]
    return lines


def _pointer(ctx: Context, buffer: str) -> str:
    slot = ctx.plan.slots[ctx.plan.root[buffer]]
    if slot.place == INPUT:
        return "input"
    if slot.place == OUTPUT:
        return "output"
    return f"{ctx.prefix}_arena_{_SHORT[slot.ctype]} + {slot.offset}"


@dataclass(frozen=True)
class CBudget:
    """Memory budget of a network's C export, computed without writing it.

    Attributes:
        flash_bytes: Bytes of all ``const`` arrays, as :attr:`CExport.flash_bytes`.
        ram_bytes: Bytes of all static activation buffers, as :attr:`CExport.ram_bytes`.
        flash_parts: ``flash_bytes`` by category, as :attr:`CExport.flash_parts`.
    """

    flash_bytes: int
    ram_bytes: int
    flash_parts: Mapping[str, int]


def c_budget(network: IntegerNetwork) -> CBudget:
    """Flash and RAM bytes :func:`export_c` would report for ``network``, without any C text.

    Raises:
        EngineError: As :func:`export_c` (invalid network, indices beyond 24 bits).
    """
    buffers = infer_buffers(network)
    plan = plan_memory(network, buffers)
    _, constants = _source(network, plan, "net", 0, emit=False)
    return CBudget(constants.flash_bytes, plan.ram_bytes, dict(constants.parts))


def _source(
    network: IntegerNetwork, plan: MemoryPlan, name: str, float32: int, *, emit: bool = True
) -> tuple[str, Constants]:
    constants = Constants(name, emit=emit)
    ctx = Context(network, plan, constants, name)
    functions: list[str] = []
    calls: list[str] = []
    for number, step in enumerate(plan.steps):
        op = network.ops[step.position]
        act = network.ops[step.fused] if step.fused >= 0 else None
        target = act.output if act is not None else op.output
        params = [f"const {ctx.ctype(op.input)} *x"]
        args = [_pointer(ctx, op.input)]
        if isinstance(op, Add):
            params.append(f"const {ctx.ctype(op.other)} *z")
            args.append(_pointer(ctx, op.other))
        params.append(f"{ctx.ctype(target)} *y")
        args.append(_pointer(ctx, target))
        kind = op.OP if act is None else f"{op.OP} + {act.OP}"
        functions += [
            "",
            f"/* step {number}: {kind} -> {target} */",
            f"static void {name}_step{number}({', '.join(params)}) {{",
            *["    " + line for line in step_lines(op, act, ctx)],
            "}",
        ]
        calls.append(f"    {name}_step{number}({', '.join(args)});")

    input_slot = plan.slots[network.input_name]
    output_slot = plan.slots[plan.root[network.output]]
    check = []
    if input_slot.ctype == "int32_t" or network.input_levels < 2 ** (8 * C_SIZES[input_slot.ctype]):
        lower = "input[i] < 0 || " if input_slot.ctype == "int32_t" else ""
        check = [
            f"    for (i = 0; i < {input_slot.size}; i++) {{",
            f"        if ({lower}input[i] >= {network.input_levels}) {{",
            "            return -1;",
            "        }",
            "    }",
        ]
    copy = []
    if output_slot.place == INPUT:
        copy = [
            f"    for (i = 0; i < {output_slot.size}; i++) {{",
            "        output[i] = input[i];",
            "    }",
        ]
    storage = [
        f"static {ctype} {name}_arena_{_SHORT[ctype]}[{size}];"
        for ctype, size in sorted(plan.arenas.items())
        if size
    ]
    if plan.scratch:
        storage.append(f"static {plan.accumulator_ctype} {name}_scratch[{plan.scratch}];")
    predict = [
        "",
        f"int {name}_predict(const {name}_input_t *input, {name}_output_t *output) {{",
        "    int32_t i, best;",
        *check,
        *calls,
        *copy,
        "    best = 0;",
        f"    for (i = 1; i < {output_slot.size}; i++) {{",
        "        if (output[i] > output[best]) {",
        "            best = i;",
        "        }",
        "    }",
        "    return best;",
        "}",
    ]
    lines = [
        *_budget_comment(name, plan, constants, float32),
        f'#include "{name}.h"',
        "",
        "/* constant tables and bit-packed indices (flash) */",
        *constants.lines,
        "",
        "/* static activation buffers (RAM) */",
        *storage,
        *functions,
        *predict,
    ]
    return "\n".join(lines) + "\n", constants


def _header(
    network: IntegerNetwork, plan: MemoryPlan, name: str, budget: list[str], sizes: tuple[int, int]
) -> str:
    macro = name.upper()
    input_slot = plan.slots[network.input_name]
    output_slot = plan.slots[plan.root[network.output]]
    return "\n".join(
        [
            *budget,
            f"#ifndef {macro}_H",
            f"#define {macro}_H",
            "",
            "#include <stdint.h>",
            "",
            f"typedef {input_slot.ctype} {name}_input_t;",
            f"typedef {output_slot.ctype} {name}_output_t;",
            "",
            f"#define {macro}_INPUT_SIZE {input_slot.size}",
            f"#define {macro}_INPUT_LEVELS {network.input_levels}",
            f"#define {macro}_OUTPUT_SIZE {output_slot.size}",
            f"#define {macro}_FLASH_BYTES {sizes[0]}",
            f"#define {macro}_RAM_BYTES {sizes[1]}",
            "",
            "/*",
            f" * Run the network on one sample: input holds {macro}_INPUT_SIZE integers in",
            f" * [0, {macro}_INPUT_LEVELS) (row-major, channels last); output receives",
            f" * {macro}_OUTPUT_SIZE integers (accumulators, or indices). Returns the position of",
            " * the first largest output (the class of a classifier), or -1 when an input is out",
            " * of range (output is then untouched). Not reentrant: uses static buffers.",
            " */",
            f"int {name}_predict(const {name}_input_t *input, {name}_output_t *output);",
            "",
            f"#endif /* {macro}_H */",
            "",
        ]
    )


def export_c(
    network_or_artifact: IntegerNetwork | str | Path | bytes,
    out_dir: str | Path,
    *,
    name: str = "net",
) -> CExport:
    """Write ``<name>.c`` and ``<name>.h``: a self-contained C99 version of an integer network.

    The C is bit-identical to :func:`fourfold_common.engine.run`: same accumulators, same
    indices. It needs only ``<stdint.h>``; it has no heap, no ``float``/``double`` and no ``*``
    other than in pointer declarations (no multiplication, division or modulo). Constants
    (product tables at the smallest integer width, bit-packed weight and bias indices, activation
    and requantization tables, boundaries) are ``const``; activations live in static arenas that
    reuse memory between layers; a table layer followed by its activation is fused so that its
    accumulators never need a full buffer. The memory budget is in a comment at the top of both
    files. Both files are written atomically.

    Args:
        network_or_artifact: An :class:`IntegerNetwork`, the path of an artifact written by
            :func:`fourfold_common.engine.save`, or artifact bytes.
        out_dir: Directory to write into (created if missing).
        name: C identifier used for the files, the entry point ``<name>_predict`` and every
            global symbol (letters, digits, ``_``; starts with a letter; at most 40 characters).

    Returns:
        The paths and the memory budget.

    Raises:
        EngineError: Invalid network or name, an op the exporter does not know, or indices that
            need more than 24 bits.
        ArtifactError: The artifact cannot be read or is malformed.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, export_c
        >>> net = IntegerNetwork((Dense("input", "out", "T", np.array([[0, 1]])),),
        ...                      {"T": np.array([[0, 0], [2, 3]], np.int32)}, (1,), 2, "out")
        >>> result = export_c(net, tempfile.mkdtemp(), name="tiny")
        >>> result.function, result.input_ctype, result.output_ctype
        ('tiny_predict', 'uint8_t', 'int32_t')
        >>> result.flash_bytes, result.ram_bytes  # 4-entry int8 table, 1 packed byte; no buffers
        (5, 0)
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise EngineError(
            f"name must be a C identifier (letter, then letters/digits/_; <= 40 chars): {name!r}"
        )
    network = _as_network(network_or_artifact)
    for position, op in enumerate(network.ops):
        if type(op) not in OP_TYPES.values():
            raise EngineError(f"op {position}: the C export cannot handle {type(op).__name__}")
    buffers = infer_buffers(network)
    plan = plan_memory(network, buffers)
    float32 = float32_bytes(network)
    source, constants = _source(network, plan, name, float32)
    budget = _budget_comment(name, plan, constants, float32)
    header = _header(network, plan, name, budget, (constants.flash_bytes, plan.ram_bytes))
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    header_path = atomic_write_text(directory / f"{name}.h", header)
    source_path = atomic_write_text(directory / f"{name}.c", source)
    input_slot = plan.slots[network.input_name]
    output_slot = plan.slots[plan.root[network.output]]
    return CExport(
        source=source_path,
        header=header_path,
        function=f"{name}_predict",
        input_ctype=input_slot.ctype,
        output_ctype=output_slot.ctype,
        input_size=input_slot.size,
        output_size=output_slot.size,
        input_levels=network.input_levels,
        flash_bytes=constants.flash_bytes,
        ram_bytes=plan.ram_bytes,
        float32_bytes=float32,
        flash_parts=dict(constants.parts),
    )
