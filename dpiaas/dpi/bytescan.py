"""Finding a byte in a payload eight bytes at a time; bit tricks.

Text protocols spend most of their time looking for the end of a line.
A byte-by-byte loop costs about a nanosecond per byte here; loading eight
bytes at once (an unaligned 64-bit load, which numba cannot express, hence
the small LLVM intrinsic) and testing them together with the classic
"has a zero byte" bit trick is several times faster on lines of typical
header length; sixteen at a time by a vector compare is faster again.
"""
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)


@intrinsic
def _load_u64(typingctx, arr, idx):
    """Little-endian uint64 at arr[idx:idx+8] (caller checks bounds)."""
    sig = types.uint64(arr, idx)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        p64 = builder.bitcast(ptr, ir.IntType(64).as_pointer())
        return builder.load(p64, align=1)
    return sig, codegen


@intrinsic
def _match16(typingctx, arr, idx, ch):
    """Bit k set when arr[idx + k] == ch, for k < 16 (caller checks
    bounds): one unaligned 16-byte load and compare (SSE2, every x86-64)."""
    sig = types.uint32(arr, idx, ch)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8 = ir.IntType(8)
        vty = ir.VectorType(i8, 16)
        vec = builder.load(builder.bitcast(ptr, vty.as_pointer()), align=1)
        c = builder.trunc(args[2], i8) if args[2].type != i8 else args[2]
        splat = ir.Constant(vty, [ir.Undefined] * 16)
        for k in range(16):
            splat = builder.insert_element(splat, c, ir.Constant(
                ir.IntType(32), k))
        eq = builder.icmp_unsigned('==', vec, splat)
        bits = builder.bitcast(eq, ir.IntType(16))
        return builder.zext(bits, ir.IntType(32))
    return sig, codegen


@numba.njit(cache=True, inline='always', _nrt=False)
def find_byte(a, s, e, ch):
    """Index of the first ``ch`` in a[s:e], or ``e`` when there is none.

    Sixteen bytes per step by vector compare, the position of the first
    match by counting trailing zeros of the match mask (a byte loop over
    the last word cost a branch mispredict per line); eight bytes by the
    bit trick, then bytes, for the tail.
    """
    i = s
    while i + 16 <= e:
        mk = _match16(a, i, np.uint8(ch))
        if mk != 0:
            return i + np.int64(trailing_zeros(mk))
        i += 16
    if i + 8 <= e:
        x = _load_u64(a, i) ^ (np.uint64(ch) * _ONES)
        z = (x - _ONES) & ~x & _HIGHS
        if z != 0:
            # exact for the lowest set bit: false positives only come from
            # a borrow out of a real zero byte below them
            return i + np.int64(trailing_zeros(z) >> 3)
        i += 8
    while i < e:
        if a[i] == ch:
            return i
        i += 1
    return e


@intrinsic
def popcount(typingctx, x):
    """Number of set bits of the uint64 ``x``: one POPCNT instruction.

    LLVM did not recognise the bit-twiddling count of
    :func:`dpiaas.dpi.regulator.popcount32` (a dozen dependent operations
    and a multiply, twice per packet in the sketch): written as its
    intrinsic, it is one instruction on any x86-64 with POPCNT.
    """
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch the cache line of arr[idx] (no fault, no
    effect on results). Packet bytes come from a capture larger than any
    cache and are walked by offsets the hardware cannot predict, so a
    loop that knows where it goes next says so."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty,
                                            'llvm.prefetch.p0i8')
        # read, high locality, data cache
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return sig, codegen
