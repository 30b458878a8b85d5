#!/usr/bin/python3
"""Runs a libtorrent 2.0 peer (Debian's python3-libtorrent) on loopback, for
the interop tests and benchmarks of btfs's transports.

  lt-peer.py seed  TORRENT DIR [options]   verify DIR, then seed until killed
  lt-peer.py leech TORRENT DIR [options]   download into DIR, exit 0 when done

Peers come from the torrent's tracker and from --peer; DHT, local peer
discovery, UPnP and NAT-PMP are off. Options:

  --port N            listen on 127.0.0.1:N (TCP and uTP)
  --enc POLICY        prefer (libtorrent's pe_enabled), require (pe_forced,
                      RC4 only) or off (pe_disabled); both directions
  --utp-only          no TCP at all, in or out
  --tcp-only          no uTP at all, in or out
  --peer HOST:PORT    connect to this peer too (repeatable)
  --timeout SECONDS   leech: give up (exit 1) after this long (default 120)

It prints one status line a second; a leecher prints "complete" at the end.
"""
import argparse
import sys
import time

import libtorrent as lt

# peer_info flags; the Python binding of 2.0 lacks utp_socket (1 << 17).
UTP_SOCKET = getattr(lt.peer_info, "utp_socket", 1 << 17)
RC4 = int(lt.peer_info.rc4_encrypted)


def settings(args):
    enc = {
        "prefer": lt.enc_policy.enabled,
        "require": lt.enc_policy.forced,
        "off": lt.enc_policy.disabled,
    }[args.enc]
    s = {
        "listen_interfaces": "127.0.0.1:%d" % args.port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "out_enc_policy": enc,
        "in_enc_policy": enc,
        "allowed_enc_level": lt.enc_level.rc4 if args.enc == "require" else lt.enc_level.both,
        "prefer_rc4": args.enc != "off",
        "allow_multiple_connections_per_ip": True,
        "user_agent": "lt-peer",
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    }
    if args.utp_only:
        s.update(enable_outgoing_tcp=False, enable_incoming_tcp=False)
    if args.tcp_only:
        s.update(enable_outgoing_utp=False, enable_incoming_utp=False)
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["seed", "leech"])
    p.add_argument("torrent")
    p.add_argument("dir")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--enc", choices=["prefer", "require", "off"], default="prefer")
    p.add_argument("--utp-only", action="store_true")
    p.add_argument("--tcp-only", action="store_true")
    p.add_argument("--peer", action="append", default=[])
    p.add_argument("--timeout", type=float, default=120)
    args = p.parse_args()

    ses = lt.session(settings(args))
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.dir
    h = ses.add_torrent(params)
    start = time.time()
    connected = set()
    while True:
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.listen_failed_alert)):
                print("error:", a.message(), flush=True)
        for peer in args.peer:
            if peer not in connected and h.status().state in (
                lt.torrent_status.downloading, lt.torrent_status.seeding, lt.torrent_status.finished
            ):
                host, port = peer.rsplit(":", 1)
                h.connect_peer((host, int(port)))
                connected.add(peer)
        st = h.status()
        peers = h.get_peer_info()
        kinds = ",".join(
            sorted(
                "%s%s"
                % (
                    "utp" if pi.flags & UTP_SOCKET else "tcp",
                    "+rc4" if pi.flags & RC4 else "",
                )
                for pi in peers
            )
        )
        print(
            "state=%s progress=%.3f down=%d up=%d peers=%d [%s]"
            % (st.state, st.progress, st.download_rate, st.upload_rate, st.num_peers, kinds),
            flush=True,
        )
        if args.mode == "leech" and st.is_seeding:
            print("complete in %.2fs" % (time.time() - start), flush=True)
            return 0
        if args.mode == "leech" and time.time() - start > args.timeout:
            print("timed out", flush=True)
            return 1
        time.sleep(1 if args.mode == "seed" else 0.2)


if __name__ == "__main__":
    sys.exit(main())
