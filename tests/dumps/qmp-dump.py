#!/usr/bin/env python3
"""Take QEMU's own dumps of a panicked guest over QMP (used by make-test-dumps.sh).

Waits until the guest has panicked (a GUEST_PANICKED event from -device pvpanic,
or "Kernel panic - not syncing" on the serial console log, for guests whose
pvpanic driver did not load), stops the VM, runs dump-guest-memory once per
requested output, then quits QEMU.

usage: qmp-dump.py SOCKET CONSOLE_LOG TIMEOUT_SECS FORMAT:PATH [FORMAT:PATH ...]
  FORMAT is elf (paging=false) or one of QEMU's kdump formats (kdump-zlib, ...)
Prints one line per step on stdout; exit status 0 if every dump was written.
"""
import json
import os
import socket
import sys
import time


class QMP:
    def __init__(self, path, deadline):
        self.deadline = deadline
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise SystemExit("qmp-dump: cannot connect to " + path)
                time.sleep(0.2)
        self.buf = b""
        self.events = []
        self.read_msg(block=True)  # greeting
        self.command("qmp_capabilities")

    def read_msg(self, block, timeout=0.5):
        while b"\n" not in self.buf:
            self.sock.settimeout(None if block else timeout)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                raise SystemExit("qmp-dump: QEMU closed the QMP connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self.read_msg(block=True)
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError("%s: %s" % (name, reply["error"]))
            return reply.get("return")


def console_panicked(path):
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError:
        return False
    return b"Kernel panic - not syncing" in text


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    sock_path, console, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    outputs = [a.split(":", 1) for a in sys.argv[4:]]
    deadline = time.time() + timeout
    q = QMP(sock_path, deadline)
    print("qmp-dump: connected", flush=True)

    how = None
    panic_seen_at = None
    while how is None:
        if time.time() > deadline:
            print("qmp-dump: timed out waiting for the guest to panic", flush=True)
            q.command("quit")
            return 1
        msg = q.read_msg(block=False)
        if msg and msg.get("event") == "GUEST_PANICKED":
            how = "GUEST_PANICKED event (pvpanic)"
            break
        if msg and "event" in msg:
            q.events.append(msg)
        if any(e.get("event") == "GUEST_PANICKED" for e in q.events):
            how = "GUEST_PANICKED event (pvpanic)"
            break
        if panic_seen_at is None and console_panicked(console):
            panic_seen_at = time.time()
        # No pvpanic notification: give the panic path a few seconds to stop
        # the other CPUs, then stop the VM ourselves.
        if panic_seen_at is not None and time.time() - panic_seen_at > 5:
            how = "panic message on the console (no pvpanic event)"
    print("qmp-dump: guest panicked: " + how, flush=True)
    q.command("stop")
    status = q.command("query-status")
    print("qmp-dump: vm status: %s" % json.dumps(status), flush=True)

    ok = True
    for fmt, path in outputs:
        path = os.path.abspath(path)
        t0 = time.time()
        args = {"paging": False, "protocol": "file:" + path}
        if fmt != "elf":
            args["format"] = fmt
        try:
            q.command("dump-guest-memory", **args)
            print("qmp-dump: %s -> %s in %.1f s (dump-guest-memory %s)"
                  % (fmt, path, time.time() - t0, json.dumps(args)), flush=True)
        except RuntimeError as e:
            print("qmp-dump: %s failed: %s" % (fmt, e), flush=True)
            ok = False
    try:
        q.command("quit")
    except SystemExit:
        pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
