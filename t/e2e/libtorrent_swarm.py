#!/usr/bin/python3
"""Two real BitTorrent clients (libtorrent sessions) swap a file on loopback.

DHT, LSD, PEX, UPnP and NAT-PMP are off, so the tracker given with --tracker
is the only way the seeder and the leecher can learn about each other.

Steps: write a random payload under --workdir/seed, make a .torrent for it
(v1-only or v1+v2 hybrid) announcing to the tracker, start the seeder, wait
for its first tracker reply, start an empty leecher in --workdir/leech, wait
until it has every piece, hash-check its file piece by piece, wait until its
"completed" announce has been answered, and ask libtorrent to scrape.

Then one JSON object goes to stdout.  With --hold the sessions stay up until
stdin is closed (so the caller can look at the tracker while both peers are
in the swarm); then both sessions stop, which announces "stopped".

Exits 0 when the transfer completed and verified, 1 on failure or timeout
(the JSON still says how far it got), 2 on bad usage.
"""

import argparse
import hashlib
import json
import os
import select
import sys
import time

import libtorrent as lt

EVENTS = {lt.event_t.none: "none", lt.event_t.completed: "completed",
          lt.event_t.started: "started", lt.event_t.stopped: "stopped",
          lt.event_t.paused: "paused"}
VERSIONS = {lt.protocol_version.V1: "v1", lt.protocol_version.V2: "v2"}
PARENT = os.getppid()


class Failure(Exception):
    pass


def settings(port):
    return {
        "listen_interfaces": "127.0.0.1:%d" % port,
        # the tracker must be the only source of peers
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        # both clients share 127.0.0.1
        "allow_multiple_connections_per_ip": True,
        # ssrf mitigation restricts trackers on loopback addresses
        "ssrf_mitigation": False,
        # a hybrid torrent announces each hash; do not stop at the first
        "announce_to_all_tiers": True,
        "announce_to_all_trackers": True,
        # plain TCP between the peers: one transport to reason about
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_tcp": True,
        "enable_incoming_tcp": True,
        "alert_mask": (lt.alert.category_t.error_notification
                       | lt.alert.category_t.status_notification
                       | lt.alert.category_t.tracker_notification
                       | lt.alert.category_t.connect_notification
                       | lt.alert.category_t.storage_notification),
    }


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_pieces(ti, path):
    """How many pieces of the file match the torrent's SHA-1 piece hashes."""
    good = 0
    with open(path, "rb") as f:
        for i in range(ti.num_pieces()):
            piece = f.read(ti.piece_size(i))
            if hashlib.sha1(piece).digest() == ti.hash_for_piece(i):
                good += 1
    return good


def make_torrent(args, seed_dir):
    payload = os.path.join(seed_dir, "payload.bin")
    with open(payload, "wb") as f:
        f.write(os.urandom(args.size))

    fs = lt.file_storage()
    lt.add_files(fs, payload)
    flags = lt.create_torrent.v1_only if args.flavour == "v1" else 0
    ct = lt.create_torrent(fs, args.piece_size, flags)
    ct.add_tracker(args.tracker)
    ct.set_creator("ngx_tracker e2e test")
    lt.set_piece_hashes(ct, seed_dir)
    data = lt.bencode(ct.generate())

    path = os.path.join(args.workdir, "payload.torrent")
    with open(path, "wb") as f:
        f.write(data)
    return payload, lt.torrent_info(path)


class Peer:
    """One session with one torrent, and what its alerts told us."""

    def __init__(self, name, port, ti, save_path):
        self.name = name
        self.ses = lt.session(settings(port), 0)   # 0: no PEX/ut_metadata
        self.ti = ti
        self.save_path = save_path
        self.handle = None
        self.announces = []      # [event, version, replied, peers, error]
        self.scrapes = []
        self.errors = []
        self.connections = 0
        self.finished = False
        self.listening = None    # True/False once libtorrent has said

    def add(self):
        atp = lt.add_torrent_params()
        atp.ti = self.ti
        atp.save_path = self.save_path
        atp.flags |= (lt.torrent_flags.disable_dht
                      | lt.torrent_flags.disable_lsd
                      | lt.torrent_flags.disable_pex)
        self.handle = self.ses.add_torrent(atp)

    def _pending(self, version):
        for a in reversed(self.announces):
            if a["version"] == version and a["replied"] is None:
                return a
        return None

    def poll(self):
        for a in self.ses.pop_alerts():
            if isinstance(a, lt.tracker_announce_alert):
                self.announces.append({"event": EVENTS.get(a.event, "?"),
                                       "version": VERSIONS.get(a.version),
                                       "replied": None})
            elif isinstance(a, lt.tracker_reply_alert):
                p = self._pending(VERSIONS.get(a.version))
                if p is not None:
                    p["replied"] = True
                    p["peers"] = a.num_peers
            elif isinstance(a, lt.tracker_error_alert):
                p = self._pending(VERSIONS.get(a.version))
                if p is not None:
                    p["replied"] = False
                self.errors.append("tracker: " + a.message())
            elif isinstance(a, lt.scrape_reply_alert):
                self.scrapes.append({"complete": a.complete,
                                     "incomplete": a.incomplete})
            elif isinstance(a, lt.scrape_failed_alert):
                self.errors.append("scrape: " + a.message())
            elif isinstance(a, lt.listen_succeeded_alert):
                self.listening = True
            elif isinstance(a, lt.listen_failed_alert):
                self.listening = False
                self.errors.append("listen: " + a.message())
            elif isinstance(a, lt.peer_connect_alert):
                self.connections += 1
            elif isinstance(a, lt.torrent_finished_alert):
                self.finished = True
            elif isinstance(a, (lt.torrent_error_alert,
                                lt.file_error_alert)):
                self.errors.append(a.message())

    def replied(self, event):
        return [a["version"] for a in self.announces
                if a["event"] == event and a["replied"]]

    def report(self):
        st = self.handle.status() if self.handle else None
        return {
            "announces": self.announces,
            "scrapes": self.scrapes,
            "errors": self.errors,
            "connections": self.connections,
            "state": str(st.state) if st else None,
            "pieces": sum(1 for p in st.pieces if p) if st else 0,
            "uploaded": st.total_payload_upload if st else 0,
            "downloaded": st.total_payload_download if st else 0,
        }


def wait(peers, what, cond, deadline):
    while True:
        # orphaned (the test was killed): nobody will read our results
        if os.getppid() != PARENT:
            raise Failure("the parent process exited")
        for p in peers:
            p.poll()
        if cond():
            return
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for " + what)
        peers[0].ses.wait_for_alert(50)


def run(args, result):
    seed_dir = os.path.join(args.workdir, "seed")
    leech_dir = os.path.join(args.workdir, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)

    payload, ti = make_torrent(args, seed_dir)
    ih = ti.info_hashes()
    result["info_hash_v1"] = str(ih.v1) if ih.has_v1() else None
    # a v2 (SHA-256) hash goes to trackers truncated to 20 bytes (BEP 52)
    result["info_hash_v2"] = str(ih.v2) if ih.has_v2() else None
    result["info_hash_v2_truncated"] = (str(ih.v2)[:40] if ih.has_v2()
                                       else None)
    result["payload"] = payload
    result["payload_sha256"] = sha256_file(payload)
    result["size"] = args.size
    result["pieces"] = ti.num_pieces()
    versions = [v for v, ok in (("v1", ih.has_v1()), ("v2", ih.has_v2()))
                if ok]
    result["announced_versions"] = versions

    deadline = time.monotonic() + args.timeout
    seeder = Peer("seeder", args.seed_port, ti, seed_dir)
    leecher = Peer("leecher", args.leech_port, ti, leech_dir)
    peers = [seeder, leecher]
    result["peers"] = peers

    # A peer that cannot listen would announce a port nobody answers on.
    wait(peers, "both sessions to listen",
         lambda: all(p.listening is not None for p in peers), deadline)
    if not all(p.listening for p in peers):
        raise Failure("a session could not listen on its port")

    # The seeder first: the leecher's "started" then gets it as a peer.
    seeder.add()
    wait(peers, "the seeder to check its data",
         lambda: seeder.handle.status().is_seeding, deadline)
    wait(peers, "the seeder's first tracker reply",
         lambda: set(seeder.replied("started")) >= set(versions), deadline)

    leecher.add()
    added = time.monotonic()
    wait(peers, "the leecher to finish",
         lambda: leecher.finished and leecher.handle.status().is_seeding,
         deadline)
    result["transfer_seconds"] = round(time.monotonic() - added, 3)

    # Hash-check what the leecher wrote, from disk, against the torrent.
    # (Not libtorrent's force_recheck: it re-announces stopped + started,
    # which would briefly take the leecher out of the swarm.)
    leech_file = os.path.join(leech_dir, "payload.bin")
    result["download"] = leech_file
    result["download_sha256"] = sha256_file(leech_file)
    result["verified_pieces"] = verify_pieces(ti, leech_file)

    wait(peers, "the leecher's completed announce to be answered",
         lambda: set(leecher.replied("completed")) >= set(versions),
         deadline)

    # libtorrent's own reading of our scrape reply
    for p in peers:
        p.handle.scrape_tracker()
    wait(peers, "scrape replies",
         lambda: all(p.scrapes or p.errors for p in peers), deadline)

    result["completed"] = (
        result["download_sha256"] == result["payload_sha256"]
        and result["verified_pieces"] == result["pieces"])


def hold(timeout):
    """Keep the peers in the swarm until the caller closes our stdin."""
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if ready:
        sys.stdin.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracker", required=True, help="announce URL")
    ap.add_argument("--workdir", required=True, help="an empty directory")
    ap.add_argument("--flavour", choices=("v1", "hybrid"), default="v1")
    ap.add_argument("--seed-port", type=int, required=True)
    ap.add_argument("--leech-port", type=int, required=True)
    ap.add_argument("--size", type=int, default=4 << 20)
    ap.add_argument("--piece-size", type=int, default=64 << 10)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--hold", action="store_true",
                    help="stay in the swarm until stdin is closed")
    args = ap.parse_args()

    result = {"flavour": args.flavour, "tracker": args.tracker,
              "completed": False, "error": None}
    try:
        run(args, result)
    except Failure as e:
        result["error"] = str(e)

    peers = result.pop("peers", [])
    for p in peers:
        p.poll()
        result[p.name] = p.report()
    print(json.dumps(result, sort_keys=True), flush=True)

    if args.hold:
        hold(args.timeout)
    # Deleting a session announces "stopped" and waits for the replies
    # (bounded by libtorrent's stop_tracker_timeout).
    for p in peers:
        del p.ses
    return 0 if result["completed"] else 1


if __name__ == "__main__":
    sys.exit(main())
