"""The packet kernel: from decoded headers to per-service counters.

For each packet of a batch, up to the end of the current interval: find
which end is the VM (direction), which service the packet belongs to, count
it, and hand its payload to the application decoder (datagram decoders for
UDP, stream framing for TCP). Fragments are left to the Python slow path
(:mod:`dpiaas.dpi.fragments`), which reassembles them and feeds the
datagram back through this kernel.
"""
import numba
import numpy as np

from dpiaas.dpi import headers as hdr
from dpiaas.dpi import metrics as m
from dpiaas.dpi import streams as sm
from dpiaas.dpi.dissectors import dns
from dpiaas.dpi.dissectors import sip
from dpiaas.dpi.dissectors import textstream

# Values of the per-packet ``app`` column the kernel writes.
PKT_OTHER = -2      # not a service packet
PKT_FRAGMENT = -1   # left for reassembly


@numba.njit(cache=True, _nrt=False)
def run(start, n, interval_end, ts_ns, wirelen, weight, pkttype, buf,
        status, proto, frag, src_hi, src_lo, dst_hi, dst_lo, src_mac,
        dst_mac, sport, dport, tcp_flags, tcp_seq, pl_off, pl_len, fhash, fdir,
        offered, consumed, row_app, vm_hi, vm_lo, vm_mac,
        cnt, st, lb, ststats, pend, lat, latn, rng, timeout_ns, app_col):
    """Process packets ``start..`` until ``n`` or one at/after
    ``interval_end``; return the index of the first one not processed."""
    n_ip = vm_hi.shape[0]
    n_mac = vm_mac.shape[0]
    have_identity = n_ip > 0 or n_mac > 0
    for i in range(start, n):
        ts = ts_ns[i]
        if ts >= interval_end:
            return i
        app_col[i] = PKT_OTHER
        if status[i] != hdr.ST_OK:
            continue
        pr = proto[i]
        if pr != 6 and pr != 17:
            continue
        if frag[i] != hdr.FRAG_NONE:
            app_col[i] = PKT_FRAGMENT
            continue
        li = 0 if pr == 6 else 1
        sp = sport[i]
        dp = dport[i]
        # ---- direction: towards the VM ("in") or from it
        known = False
        inbound = False
        if have_identity:
            # written out: a helper function here cost ten times as much
            vd = False
            vs = False
            dlo = dst_lo[i]
            slo = src_lo[i]
            for k in range(n_ip):
                if vm_lo[k] == dlo and vm_hi[k] == dst_hi[i]:
                    vd = True
                if vm_lo[k] == slo and vm_hi[k] == src_hi[i]:
                    vs = True
            for k in range(n_mac):
                if vm_mac[k] == dst_mac[i]:
                    vd = True
                if vm_mac[k] == src_mac[i]:
                    vs = True
            if vd != vs:
                known = True
                inbound = vd
        if not known and pkttype[i] >= 0:
            known = True
            inbound = pkttype[i] == 4    # PACKET_OUTGOING: into the tap
        row = -1
        if known:
            vm_port = dp if inbound else sp
            remote_port = sp if inbound else dp
            row = offered[li, vm_port]
            if row < 0:
                row = consumed[li, remote_port]
        else:
            row = offered[li, dp]
            inbound = True
            if row < 0:
                row = offered[li, sp]
                inbound = False
                if row < 0:
                    row = consumed[li, sp]
                    inbound = True
                    if row < 0:
                        row = consumed[li, dp]
                        inbound = False
        if row < 0:
            continue
        app = row_app[row]
        app_col[i] = app
        w = weight[i]
        if inbound:
            cnt[row, m.C_PKT_IN] += w
            cnt[row, m.C_BYTES_IN] += wirelen[i]
        else:
            cnt[row, m.C_PKT_OUT] += w
            cnt[row, m.C_BYTES_OUT] += wirelen[i]
        if app == m.APP_GENERIC:
            continue
        s = pl_off[i]
        e = s + pl_len[i]
        if pr == 17:
            if e <= s:
                continue
            if app == m.APP_SIP:
                sip.datagram(buf, s, e, cnt, row, ts, pend, lat, latn,
                             rng, timeout_ns)
            elif app == m.APP_DNS:
                dns.message(buf, s, e, cnt, row, np.int64(fhash[i]), ts,
                            pend, lat, latn, rng, timeout_ns)
            continue
        # ---- TCP stream of a decoded service
        flags = tcp_flags[i]
        key = np.int64(fhash[i])
        plen = e - s
        create = plen > 0 or (flags & 0x02) != 0
        slot = sm.lookup(st, ststats, key, ts, row, app, create)
        if slot < 0:
            continue
        d = fdir[i]   # 0: from the flow's lower end
        skip, gap = sm.sequence(st, ststats, slot, d, tcp_seq[i], flags,
                                plen)
        if skip >= 0 and s + skip < e:
            srow = st[slot, sm.S_ROW]
            sapp = st[slot, sm.S_APP]
            if sapp == m.APP_DNS:
                textstream.feed_dns(st, lb, slot, d, buf, s + skip, e, gap,
                                    ts, cnt, srow, key, pend, lat, latn,
                                    rng, timeout_ns)
            else:
                textstream.feed(st, lb, slot, d, buf, s + skip, e, gap, ts,
                                cnt, srow, sapp, pend, lat, latn, rng,
                                timeout_ns)
        if (flags & 0x04) != 0:
            sm.release(st, slot)
        elif (flags & 0x01) != 0:
            st[slot, sm.S_DIR0 + d * sm.D_SIZE + sm.D_FIN] = 1
            if st[slot, sm.S_DIR0 + sm.D_FIN] == 1 and \
                    st[slot, sm.S_DIR0 + sm.D_SIZE + sm.D_FIN] == 1:
                sm.release(st, slot)
    return n
