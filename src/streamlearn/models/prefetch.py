"""A cache prefetch for compiled loops: ask the processor to start loading a table row that
a later iteration will read, without waiting for it.

The weight tables (2**20 rows and more) are bigger than the caches, and the rows an event
touches are random: a loop that fetches the rows of an event a few events ahead overlaps
those memory loads with the current event's arithmetic. numba has no prefetch of its own,
so this emits LLVM's ``llvm.prefetch`` (a hint: no result, no fault, no effect on values).

>>> import numba as nb, numpy as np
>>> from streamlearn.models.prefetch import prefetch_row
>>> @nb.njit
... def total(table, rows):
...     out = 0.0
...     for k in range(len(rows)):
...         if k + 1 < len(rows):
...             prefetch_row(table, rows[k + 1])
...         out += table[rows[k], 0]
...     return out
>>> float(total(np.arange(8.0).reshape(4, 2), np.array([3, 1])))
8.0
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# LLVM names the intrinsic by its pointer type: opaque pointers ("p0") since LLVM 15.
_NAME = "llvm.prefetch.p0" if llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"
_WRITE, _KEEP_IN_ALL_CACHES, _DATA = 1, 3, 1  # the rows are read, then updated


@intrinsic
def prefetch_row(typingctx, table, row):
    """Prefetch row ``row`` of the 2-D array ``table`` (no bounds check: a hint may point
    anywhere without harm, but callers pass valid rows)."""
    if not (isinstance(table, types.Array) and table.ndim == 2 and isinstance(row, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        table_type = signature.args[0]
        array = context.make_array(table_type)(context, builder, args[0])
        first = context.get_constant(types.intp, 0)
        at = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(
            context, builder, table_type, array, [at, first], wraparound=False
        )
        i8_pointer, i32 = ir.PointerType(ir.IntType(8)), ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8_pointer, i32, i32, i32]), _NAME
        )
        flags = [ir.Constant(i32, flag) for flag in (_WRITE, _KEEP_IN_ALL_CACHES, _DATA)]
        builder.call(function, [builder.bitcast(pointer, i8_pointer), *flags])
        return context.get_dummy_value()

    return types.void(table, row), codegen
