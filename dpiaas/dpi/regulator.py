"""FlowRegulator: a small probabilistic counter in front of the flow table.

Why: the flow table is tens of megabytes, so a packet that touches it costs
a cache miss. Jang et al.'s FlowRegulator puts a small two-layer sketch
(built on Recyclable Counters with Confinement, RCC) in front of the table
and only passes the sketch's saturation events on, so that about one packet
in a hundred reaches the table. This module is that sketch and the presence
filter beside it; :mod:`dpiaas.dpi.flowaccounting` decides, with them, when
a packet touches the table.

One layer (RCC): an array of 32-bit words. A key (one direction of one
flow) hashes to one word and to a "virtual vector" of ``v`` of the word's
32 bit positions (one of ``PATTERNS`` random v-subsets, rotated by the
hash, so that keys sharing a word mostly use different bits). Each unit
counted sets one pseudo-random bit of the key's vector. When at most
``thr`` of its bits are still zero the vector is saturated: the layer
passes on the units that take a vector that far (a coupon-collector
expectation) and clears ("recycles") the key's bits.

Two layers: each layer-1 saturation (E1 units) is one unit of layer 2,
whose saturation (about E1 * E2 units) is what reaches the table. With
v = 8, thr = 2 in both layers E1 = E2 = 9.74: a flow touches the table
about once per 95 packets. The error of such a count is a renewal error:
for a flow of N units its variance is about (F1 + E1 * F2) * N, F being
var/mean of a layer's saturation time (0.82 here), so the relative error
falls as 1 / sqrt(N): about 9 % at 1,000 packets, 3 % at 10,000 and
0.9 % at 100,000, whatever the memory. Layers with more bits per key
count more evenly (smaller F) but collide more; the measurements in
doc/source/flow-regulator.rst chose these.

Bytes: a second pair of layers counts units of ``unit_bytes`` bytes; a
packet adds wirelen / unit_bytes units with probabilistic rounding (so the
count stays unbiased). A separate byte sketch, rather than bytes inferred
from the packets that happen to trigger a saturation, stays right when a
flow mixes packet sizes (data and acknowledgements). 512-byte units with
layers (8, 1) and (8, 2), about 68 KB per table update, measured as
accurate as 256-byte units and cost half the time (fewer bits per packet).

Noise: other keys' bits inside a key's vector make it saturate early, and
recycling a vector clears other keys' bits. The word's bits outside the
vector tell how full it is with other keys' bits (the same rate falls
inside, by symmetry), so every estimate is corrected for it: ``fire`` and
``res`` are tables indexed by [zeros in the vector, noise bits outside].

Residue: units counted but not passed on yet are read back by linear
counting (``res``), left unclipped (it can be slightly negative) so that
the sum over many small flows stays unbiased. The accounting reads them
when a flow leaves the table and when an interval closes, then clears the
whole sketch, so that bits of finished flows never pile up as noise.

Presence filter: one 64-bit entry per slot, the flow's fingerprint, the
epoch and four "dirty" bits (packets, bytes; per direction). It tells
whether a flow has touched the table in the current epoch (a new epoch
needs no clearing: the epoch is in the entry) and what of it may have
residue in the sketch. Flows turning dirty join a list, so that closing an
interval reads back only them, not the whole table, and only what they
put in the sketch (reading an untouched vector would only add noise).

Every per-layer table is stacked into one array indexed by layer, and the
functions take the whole :class:`Sketch`: numba passes a namedtuple down
without reference counting, where passing its members would not be free.
The njit functions are compiled without NRT (``_nrt=False``): they never
allocate, and without it numba emits no reference counting at all, which
otherwise costs more than the counting itself.
"""
import collections
import math

import numba
import numpy as np

from dpiaas.dpi import bytescan
from dpiaas.dpi import headers

PATTERNS = 256
WORD_BITS = 32

# Layers, in the stacked arrays of a Sketch: packets 1 and 2, bytes 1 and 2.
P1, P2, B1, B2 = 0, 1, 2, 3
LAYERS = 4

# Indices into ``Sketch.par`` (int64).
P_UNIT_BYTES = 0    # bytes per unit of the byte layers
P_EPOCH_NS = 1      # presence epoch
P_SIZE = 2

Sketch = collections.namedtuple('Sketch', [
    'words',        # uint32: the layers' words, one after the other
    'off', 'nw',    # int64 [LAYERS]: first word and number of words
    'pat',          # uint32 [LAYERS, PATTERNS]: vector masks
    'pos',          # uint8 [LAYERS, PATTERNS, 32]: their bit positions
    'fire', 'res',  # float64 [LAYERS, 33, 33]: estimates by [zeros, noise]
    'vt',           # int64 [LAYERS, 2]: v, thr
    'e',            # float64 [LAYERS]: units of a saturation without noise
    'seen',         # uint64: presence filter, power-of-two length
    'par',
    'rng',          # uint64 [2]: xorshift64* state, per-packet counter
    'dirty',        # uint64: fhash of flows given residue since the harvest
    'ndirty',       # int64 [2]: entries in dirty; 1 if it overflowed
])

# Default split of the sketch memory: layer 2 only sees keys that saturated
# layer 1, so it needs fewer words.
SPLIT = (0.375, 0.125, 0.375, 0.125)   # P1, P2, B1, B2
# (v, thr) of layers 1 and 2, for packets and for bytes.
PACKET_LAYERS = ((8, 2), (8, 2))
BYTE_LAYERS = ((8, 1), (8, 2))
UNIT_BYTES = 512
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Presence filter entries: fingerprint | epoch << 32 | four dirty bits,
# bit 60 + j for j = D_PACKETS + fdir or D_BYTES + fdir (see dirty()).
FP_MASK = np.uint64(0xFFFFFFFF)
EPOCH_MASK = np.uint64(0x0FFFFFFF)
DIRTY = np.uint64(15 << 60)
D_PACKETS = 0
D_BYTES = 2


def _harmonic(x):
    """H(x) for real x >= 0 (H(n) = 1 + 1/2 + ... + 1/n)."""
    return math.fsum(1.0 / i for i in range(1, int(x) + 1)) + (
        (x - int(x)) / (int(x) + 1))


def estimate_tables(v):
    """``fire[z, k]`` and ``res[z, k]`` for a v-bit vector in a 32-bit word.

    z is the number of zero bits in the key's vector, k the number of set
    bits among the word's other 32 - v positions (other keys' noise, which
    by symmetry falls inside the vector at the same rate q = k / (32 - v)).

    fire: the expected units that take a vector from its v (1 - q) noise-
    free zeros down to z (coupon collector: sum of v / i); the right value
    for a count that stops when a threshold is hit.

    res: the linear-counting estimate of the units behind z zeros,
    ln(z / (v (1 - q))) / ln(1 - 1 / v); the right value for a vector
    read at an arbitrary time.
    """
    nout = WORD_BITS - v
    fire = np.zeros((v + 1, nout + 1), np.float64)
    res = np.zeros((v + 1, nout + 1), np.float64)
    for k in range(nout + 1):
        free = v * (1.0 - k / nout) if nout else float(v)
        for z in range(v + 1):
            if z < free:
                fire[z, k] = v * (_harmonic(free) - _harmonic(z))
            res[z, k] = math.log(max(z, 0.5) / max(free, 0.5)) / math.log(
                1.0 - 1.0 / v)
    return fire, res


def _patterns(v, rs):
    pat = np.zeros(PATTERNS, np.uint32)
    pos = np.zeros((PATTERNS, WORD_BITS), np.uint8)
    for k in range(PATTERNS):
        bits = np.sort(rs.choice(WORD_BITS, size=v, replace=False))
        pos[k, :v] = bits
        pat[k] = np.bitwise_or.reduce(np.uint32(1) << bits.astype(np.uint32))
    return pat, pos


# (seed, layers) -> (rng seeds, [(pat, pos, fire, res)] per layer): the
# random draws and estimate tables of new_sketch, which cost more than a
# whole interval of packets (13 ms) and are the same for every collector.
_LAYOUTS = {}


def _layout(seed, vts):
    """The deterministic part of a sketch, computed once per process."""
    key = (seed, tuple(vts))
    got = _LAYOUTS.get(key)
    if got is None:
        rs = np.random.RandomState(seed)
        rng = (rs.randint(1, 2**62), rs.randint(1, 2**62))
        layers = []
        for v, thr in vts:
            if not 1 <= v <= WORD_BITS or not 0 <= thr < v:
                raise ValueError('a layer needs 0 <= thr < v <= 32, got '
                                 'v=%s thr=%s' % (v, thr))
            pat, pos = _patterns(v, rs)
            fire, res = estimate_tables(v)
            layers.append((pat, pos, fire, res))
        got = _LAYOUTS[key] = (rng, layers)
    return got


def new_sketch(total_bytes, seen_slots, epoch_ns, packet_layers=None,
               byte_layers=None, unit_bytes=UNIT_BYTES, split=SPLIT, seed=1):
    """Allocate a sketch of ``total_bytes`` (counter layers) and its filter.

    The presence filter (``seen_slots`` entries of 8 bytes) is sized from
    the flow table, not from ``total_bytes``: it is what lets every new
    flow into the table.
    """
    vts = list(packet_layers or PACKET_LAYERS) + list(
        byte_layers or BYTE_LAYERS)
    rng, layers = _layout(seed, vts)
    nw = np.array([max(1, int(total_bytes * f) // 4) for f in split],
                  np.int64)
    off = np.concatenate([[0], np.cumsum(nw)[:-1]]).astype(np.int64)
    n = WORD_BITS + 1
    sk = Sketch(
        words=np.zeros(int(nw.sum()), np.uint32), off=off, nw=nw,
        pat=np.zeros((LAYERS, PATTERNS), np.uint32),
        pos=np.zeros((LAYERS, PATTERNS, WORD_BITS), np.uint8),
        fire=np.zeros((LAYERS, n, n)), res=np.zeros((LAYERS, n, n)),
        vt=np.array(vts, np.int64).reshape(LAYERS, 2),
        e=np.zeros(LAYERS), par=np.zeros(P_SIZE, np.int64),
        seen=np.zeros(1 << max(4, int(seen_slots - 1).bit_length()),
                      np.uint64),
        rng=np.array(rng, np.uint64),
        dirty=np.zeros(max(16, seen_slots), np.uint64),
        ndirty=np.zeros(2, np.int64))
    for la, (v, thr) in enumerate(vts):
        pat, pos, fire, res = layers[la]
        sk.pat[la], sk.pos[la] = pat, pos
        sk.fire[la, :v + 1, :WORD_BITS - v + 1] = fire
        sk.res[la, :v + 1, :WORD_BITS - v + 1] = res
        sk.e[la] = fire[thr, 0]
    sk.par[P_UNIT_BYTES] = unit_bytes
    sk.par[P_EPOCH_NS] = epoch_ns
    return sk


def counter_bytes(sk):
    """Memory of the counting layers (what the paper's 128 KB measures)."""
    return sk.words.nbytes


@numba.njit(cache=True, _nrt=False, inline='always')
def rand(sk):
    """xorshift64*: a fast, good enough stream for picking bits."""
    x = sk.rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    sk.rng[0] = x
    return x * np.uint64(0x2545F4914F6CDD1D)


@numba.njit(cache=True, _nrt=False, inline='always')
def prob_round(sk, x):
    """floor(x) or floor(x) + 1, unbiased: E[result] = x."""
    f = math.floor(x)
    u = np.float64(rand(sk) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return np.int64(f) + (1 if u < x - f else 0)


@numba.njit(cache=True, inline='always')
def popcount32(x):
    """Set bits among the low 32 bits of x (POPCNT; see bytescan)."""
    return bytescan.popcount(np.uint64(x) & np.uint64(0xFFFFFFFF))


@numba.njit(cache=True, inline='always')
def rotl32(x, r):
    x = np.uint64(x)
    r = np.uint64(r)
    return ((x << r) | (x >> ((np.uint64(32) - r) & np.uint64(31)))) \
        & np.uint64(0xFFFFFFFF)


@numba.njit(cache=True, inline='always')
def key_of(fhash, fdir):
    """The sketch key of one direction of a flow (fhash is well mixed)."""
    return fhash ^ (np.uint64(fdir + 1) * GOLDEN)


@numba.njit(cache=True, _nrt=False, inline='always')
def _word(sk, la, key):
    """Index of key's word in layer la (multiply-shift on the low bits)."""
    return sk.off[la] + np.int64(
        ((key & np.uint64(0xFFFFFFFF)) * np.uint64(sk.nw[la]))
        >> np.uint64(32))


@numba.njit(cache=True, _nrt=False, inline='always')
def add(sk, la, key, m, r):
    """Count m units for ``key`` in layer la; the units it passes on.

    ``r`` is 64 random bits (16 per unit; more are drawn by remixing).
    Returns the estimated units of the saturations that happened (0.0 if
    none), already corrected for noise.
    """
    v = sk.vt[la, 0]
    thr = sk.vt[la, 1]
    idx = _word(sk, la, key)
    k = np.int64((key >> np.uint64(32)) & np.uint64(PATTERNS - 1))
    rot = np.int64((key >> np.uint64(40)) & np.uint64(31))
    vmask = rotl32(sk.pat[la, k], rot)
    w = np.uint64(sk.words[idx])
    z = v - popcount32(w & vmask)
    out = 0.0
    bits = r
    for i in range(m):
        if i > 0 and (i & 3) == 0:
            bits = headers.mix64(r + np.uint64(i) * GOLDEN)
        j = np.int64(((bits & np.uint64(0xFFFF)) * np.uint64(v))
                     >> np.uint64(16))
        bits >>= np.uint64(16)
        bit = np.uint64(1) << np.uint64(
            (np.int64(sk.pos[la, k, j]) + rot) & 31)
        if w & bit == 0:
            w |= bit
            z -= 1
        if z <= thr:
            noise = popcount32(w & ~vmask & np.uint64(0xFFFFFFFF))
            out += sk.fire[la, z, noise]
            w &= ~vmask
            z = v
    sk.words[idx] = np.uint32(w)
    return out


@numba.njit(cache=True, _nrt=False, inline='always')
def residue(sk, la, key, clear):
    """Linear-counting estimate of the units ``key`` holds in layer la."""
    v = sk.vt[la, 0]
    idx = _word(sk, la, key)
    k = np.int64((key >> np.uint64(32)) & np.uint64(PATTERNS - 1))
    rot = np.int64((key >> np.uint64(40)) & np.uint64(31))
    vmask = rotl32(sk.pat[la, k], rot)
    w = np.uint64(sk.words[idx])
    z = v - popcount32(w & vmask)
    noise = popcount32(w & ~vmask & np.uint64(0xFFFFFFFF))
    if clear:
        sk.words[idx] = np.uint32(w & ~vmask)
    return sk.res[la, z, noise]


@numba.njit(cache=True, inline='always')
def _rotl64(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@numba.njit(cache=True, inline='always')
def layer2_key(key):
    """Layer 2's key: other bits of the (already well mixed) key."""
    return headers.mix64(key ^ np.uint64(0xD6E8FEB86659FD93))


@numba.njit(cache=True, inline='always')
def bytes_key(key):
    return headers.mix64(key ^ np.uint64(0xA0761D6478BD642F))


@numba.njit(cache=True, _nrt=False, inline='always')
def count(sk, l1, key, m, r):
    """Count m units for key through layers l1 and l1 + 1.

    Returns the units that reached the top (0.0 most of the time).
    """
    a1 = add(sk, l1, key, m, r)
    if a1 == 0.0:
        return 0.0
    e1 = sk.e[l1]
    m2 = prob_round(sk, a1 / e1)
    if m2 == 0:
        return 0.0
    return add(sk, l1 + 1, layer2_key(key), m2, rand(sk)) * e1


@numba.njit(cache=True, _nrt=False, inline='always')
def held(sk, l1, key, clear):
    """Units counted for key in layers l1, l1 + 1 and not passed on yet."""
    r2 = residue(sk, l1 + 1, layer2_key(key), clear)
    return r2 * sk.e[l1] + residue(sk, l1, key, clear)


@numba.njit(cache=True, _nrt=False, inline='always')
def byte_units(sk, nbytes, r):
    """nbytes in units of unit_bytes, rounded at random (unbiased).

    Uses bits 40-63 of the packet's random bits ``r``.
    """
    x = nbytes / sk.par[P_UNIT_BYTES]
    f = math.floor(x)
    u = np.float64(r >> np.uint64(40)) * (1.0 / 16777216.0)
    return np.int64(f) + (1 if u < x - f else 0)


@numba.njit(cache=True, _nrt=False, inline='always')
def count_packet(sk, key, npk, units, r):
    """Count one packet: ``npk`` wire packets and ``units`` byte units.

    ``r`` is 64 random bits for this packet (its low 16 pick the packet
    bit). Returns (packets, bytes) that reached the top of the sketch.
    """
    dp = count(sk, P1, key, npk, r)
    db = 0.0
    if units > 0:
        db = count(sk, B1, bytes_key(key), units, headers.mix64(r)) \
            * sk.par[P_UNIT_BYTES]
    return dp, db


@numba.njit(cache=True, _nrt=False, inline='always')
def packet_random(sk, i):
    """64 random bits for packet i of a batch (splitmix64 of a counter)."""
    return headers.mix64(sk.rng[1] + np.uint64(i + 1) * GOLDEN)


@numba.njit(cache=True, _nrt=False, inline='always')
def end_batch(sk, n):
    """Advance the per-packet stream past a batch of n packets."""
    sk.rng[1] += np.uint64(n + 1) * GOLDEN


@numba.njit(cache=True, _nrt=False, inline='always')
def held_packet(sk, key, clear, packets, nbytes):
    """(packets, bytes) counted for key and not yet passed on.

    Only the parts asked for are read: reading an empty vector only adds
    noise.
    """
    dp = 0.0
    db = 0.0
    if packets:
        dp = held(sk, P1, key, clear)
    if nbytes:
        db = held(sk, B1, bytes_key(key), clear) * sk.par[P_UNIT_BYTES]
    return dp, db


@numba.njit(cache=True, _nrt=False, inline='always')
def clear_counters(sk):
    """Empty every layer and the dirty list (after a harvest)."""
    sk.words[:] = 0
    sk.ndirty[0] = 0
    sk.ndirty[1] = 0


@numba.njit(cache=True, inline='always')
def _seen_slot(sk, fhash):
    return np.int64((fhash >> np.uint64(32)) & np.uint64(len(sk.seen) - 1))


@numba.njit(cache=True, _nrt=False, inline='always')
def first_in_epoch(sk, fhash, ep):
    """True (and remembered) if this flow has not been seen in epoch ep.

    An entry is the flow's 32-bit fingerprint, the epoch (28 bits) and the
    dirty bits; a new epoch needs no clearing, and a stale or foreign entry
    just costs one more table touch.
    """
    s = _seen_slot(sk, fhash)
    e = sk.seen[s]
    fp = fhash & FP_MASK
    tag = fp | ((np.uint64(ep) & EPOCH_MASK) << np.uint64(32))
    if (e & ~DIRTY) == tag:
        return False
    if (e & FP_MASK) == fp:
        tag |= e & DIRTY    # same flow, new epoch: still dirty
    sk.seen[s] = tag
    return True


@numba.njit(cache=True, _nrt=False, inline='always')
def mark_dirty(sk, fhash, fdir, with_bytes):
    """The flow (just checked) now has residue in this direction.

    Packet residue always, byte residue if ``with_bytes``. When the flow's
    entry turns dirty the flow joins the dirty list, the flows to read back
    at the next harvest (a flow may be listed twice).
    """
    s = _seen_slot(sk, fhash)
    e = sk.seen[s]
    bits = np.uint64(1) << np.uint64(60 + D_PACKETS + fdir)
    if with_bytes:
        bits |= np.uint64(1) << np.uint64(60 + D_BYTES + fdir)
    if (e & bits) == bits:
        return
    sk.seen[s] = e | bits
    if e & DIRTY:
        return
    n = sk.ndirty[0]
    if n < len(sk.dirty):
        sk.dirty[n] = fhash
        sk.ndirty[0] = n + 1
    else:
        sk.ndirty[1] = 1


@numba.njit(cache=True, _nrt=False, inline='always')
def dirty(sk, fhash):
    """What of the flow may have residue: bit D_PACKETS + fdir for packets,
    D_BYTES + fdir for bytes.

    Sure when the flow's own entry is in the filter; when another flow took
    the slot it cannot be told, and all may.
    """
    e = sk.seen[_seen_slot(sk, fhash)]
    if (e & FP_MASK) != (fhash & FP_MASK):
        return 15
    return np.int64(e >> np.uint64(60))


@numba.njit(cache=True, _nrt=False, inline='always')
def harvested(sk, fhash):
    """Clear the flow's dirty bits once its residue was read back."""
    s = _seen_slot(sk, fhash)
    if (sk.seen[s] & FP_MASK) == (fhash & FP_MASK):
        sk.seen[s] &= ~DIRTY


@numba.njit(cache=True, _nrt=False, inline='always')
def forget(sk, fhash):
    """Make the flow's next packet touch the table again (it left it)."""
    sk.seen[_seen_slot(sk, fhash)] = 0
