#!/usr/bin/env python3
"""Decode rate of panoramisk's own AMI parser on a capture stream.

Drives panoramisk.ami_protocol.AMIProtocol.data_received, the method asyncio calls
with each socket read, with READ-byte chunks of FILE: it decodes the bytes (utf8,
as panoramisk.Manager configures it), splits messages on CRLF CRLF and builds one
panoramisk.message.Message (a case-insensitive dict) per message. handle_message,
which then routes a message to futures and event handlers, is replaced by a counter
so that only parsing is timed. No event loop and no socket are involved.

Prints one JSON object: implementation, bytes, messages, seconds, mb_per_s,
messages_per_s. Interpreter start-up and imports are outside the timed part.
"""
import argparse
import json
import time

import panoramisk
from panoramisk.ami_protocol import AMIProtocol

try:
    from importlib.metadata import version
    VERSION = version("panoramisk")
except Exception:  # pragma: no cover
    VERSION = getattr(panoramisk, "__version__", "?")


class CountingProtocol(AMIProtocol):
    def handle_message(self, message):
        self.count += 1


class NullTransport:
    def write(self, data):
        pass

    def close(self):
        pass


def one_pass(data, read):
    p = CountingProtocol()
    p.connection_made(NullTransport())
    p.encoding = "utf8"
    p.count = 0
    for i in range(0, len(data), read):
        p.data_received(data[i:i + read])
    return p.count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--read", type=int, default=65536, help="bytes per data_received call")
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        data = f.read()
    one_pass(data[: 1 << 20], args.read)  # warm caches and allocator
    messages = 0
    start = time.perf_counter()
    for _ in range(args.repeat):
        messages += one_pass(data, args.read)
    seconds = time.perf_counter() - start
    total = len(data) * args.repeat
    print(json.dumps({
        "implementation": f"panoramisk {VERSION} (Python)",
        "bytes": total,
        "messages": messages,
        "messages_per_pass": messages // args.repeat,
        "seconds": seconds,
        "mb_per_s": total / 1e6 / seconds,
        "messages_per_s": messages / seconds,
    }))


if __name__ == "__main__":
    main()
