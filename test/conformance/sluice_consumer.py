#!/usr/bin/python3
"""A service in another language reading a Sluice topology: Debian's python3 with only
python3-msgpack and python3-jsonschema, and NATS spoken over a plain socket (Debian packages no
NATS client for Python; the text protocol needs ~100 lines, which keeps this checkable in CI with
apt packages alone).

It reads the topology's contract (`sluice describe <topology> --json`), subscribes to every
output and dead-letter subject, decodes each message by its Content-Type (MessagePack unless it
says JSON) and validates it against the subject's published JSON Schema, and checks the headers
the contract says are always there. Core subjects are read as they are published; subjects kept
in a JetStream stream are read at the end with a pull consumer and acknowledged one by one.

    sluice_consumer.py --server 127.0.0.1:4222 --contract contract.json [--strict-integers]

Prints READY once subscribed; reads stdin until a line or end of input; then reads the streams
and prints one JSON summary line: {"received": {subject: n}, "invalid": [...]}. Exit status 0
when every message was valid, 1 otherwise, 2 on usage or connection errors.
"""
import argparse
import json
import os
import select
import socket
import sys
import time

import jsonschema
import msgpack


class Msg:
    def __init__(self, subject, sid, reply, headers, status, payload):
        self.subject, self.sid, self.reply = subject, sid, reply
        self.headers, self.status, self.payload = headers, status, payload


class Nats:
    """The client side of the NATS protocol: CONNECT, PING/PONG, SUB, PUB, MSG, HMSG."""

    def __init__(self, server, timeout=10.0):
        host, _, port = server.rpartition(':')
        self.sock = socket.create_connection((host or '127.0.0.1', int(port)), timeout=timeout)
        self.buf = bytearray()
        info = self._readline()
        if not info.startswith(b'INFO '):
            raise RuntimeError(f'not a NATS server: {info[:80]!r}')
        opts = {'verbose': False, 'pedantic': False, 'headers': True, 'no_responders': True,
                'protocol': 1, 'lang': 'python-socket', 'version': '1'}
        # Credentials from the environment, as the Sluice CLI reads them.
        if os.environ.get('NATS_TOKEN'):
            opts['auth_token'] = os.environ['NATS_TOKEN']
        if os.environ.get('NATS_USER'):
            opts['user'], opts['pass'] = os.environ['NATS_USER'], os.environ.get('NATS_PASSWORD', '')
        self._send(b'CONNECT ' + json.dumps(opts).encode() + b'\r\n')
        self.pending = []
        self.flush()
        self.inbox = f'_INBOX.py{os.getpid()}{int(time.time() * 1000)}'
        self.sub(self.inbox + '.*', 'inbox')
        self.requests = 0

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError('connection closed by the server')
        self.buf += chunk

    def _readline(self):
        while (end := self.buf.find(b'\r\n')) < 0:
            self._fill()
        line = bytes(self.buf[:end + 2])
        del self.buf[:end + 2]
        return line

    def _readn(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def readable(self, timeout):
        """Whether a message (or part of one) is waiting, within `timeout` seconds."""
        return bool(self.pending) or bool(self.buf) or bool(select.select([self.sock], [], [], timeout)[0])

    def sub(self, subject, sid):
        self._send(f'SUB {subject} {sid}\r\n'.encode())

    def pub(self, subject, payload=b'', reply=None):
        head = f'PUB {subject} {reply} {len(payload)}' if reply else f'PUB {subject} {len(payload)}'
        self._send(head.encode() + b'\r\n' + payload + b'\r\n')

    def flush(self):
        """PING and wait for the PONG: everything sent before has been processed by the server."""
        self._send(b'PING\r\n')
        while True:
            msg = self._read()
            if msg == 'PONG':
                return
            if isinstance(msg, Msg):
                self.pending.append(msg)

    def read_one(self):
        """The next protocol line: a Msg, 'PONG', or None for anything else (PING answered)."""
        return self._read()

    def _read(self):
        line = self._readline()
        if line.startswith(b'MSG '):
            parts = line.split()
            subject, sid, size = parts[1].decode(), parts[2].decode(), int(parts[-1])
            reply = parts[3].decode() if len(parts) == 5 else None
            payload = self._readn(size + 2)[:-2]
            return Msg(subject, sid, reply, {}, None, payload)
        if line.startswith(b'HMSG '):
            parts = line.split()
            subject, sid = parts[1].decode(), parts[2].decode()
            hsize, total = int(parts[-2]), int(parts[-1])
            reply = parts[3].decode() if len(parts) == 6 else None
            data = self._readn(total + 2)[:-2]
            head = data[:hsize].decode().split('\r\n')
            status = head[0][len('NATS/1.0'):].strip() or None
            headers = {}
            for h in head[1:]:
                if ':' in h:
                    k, _, v = h.partition(':')
                    headers.setdefault(k.strip(), v.strip())
            return Msg(subject, sid, reply, headers, status, data[hsize:])
        if line.startswith(b'PING'):
            self._send(b'PONG\r\n')
            return None
        if line.startswith(b'PONG'):
            return 'PONG'
        if line.startswith(b'-ERR'):
            raise RuntimeError(line.decode().strip())
        return None  # +OK, INFO updates

    def next_msg(self):
        while not self.pending:
            msg = self._read()
            if isinstance(msg, Msg):
                return msg
        return self.pending.pop(0)

    def request(self, subject, payload, timeout=5.0):
        self.requests += 1
        reply = f'{self.inbox}.{self.requests}'
        self.pub(subject, payload, reply)
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self._read()
            if isinstance(msg, Msg):
                if msg.subject == reply:
                    return msg
                self.pending.append(msg)
        raise RuntimeError(f'no answer on {subject}')


def debug(line):
    if os.environ.get('SLUICE_CONSUMER_DEBUG'):
        print(line, file=sys.stderr, flush=True)


def decode(msg):
    """A payload by its Content-Type: JSON when it says so, else MessagePack (Sluice's default)."""
    if msg.headers.get('Content-Type') == 'application/json':
        return json.loads(msg.payload)
    return msgpack.unpackb(msg.payload, raw=False, strict_map_key=False)


def validator_for(schema, strict_integers):
    def msgpack_bin(validator, value, instance, schema):
        if value == 'bin' and not isinstance(instance, (bytes, bytearray)):
            yield jsonschema.ValidationError(f'{instance!r} is not MessagePack bin')

    checker = jsonschema.Draft202012Validator.TYPE_CHECKER
    if strict_integers:
        # JSON Schema counts 3.0 as an integer; on the wire an integer must be a MessagePack int.
        checker = checker.redefine('integer', lambda _, v: isinstance(v, int) and not isinstance(v, bool))
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {'x-msgpack': msgpack_bin}, type_checker=checker)
    return cls(schema)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--server', required=True, help='host:port of the NATS server')
    ap.add_argument('--contract', required=True, help='file with `sluice describe --json` output')
    ap.add_argument('--strict-integers', action='store_true', help='integers must be MessagePack ints, not floats')
    args = ap.parse_args()
    with open(args.contract) as f:
        contract = json.load(f)

    targets = [s for s in contract['subjects'] if s['direction'] in ('out', 'dead-letter') and not s['subject'].startswith('(')]
    nc = Nats(args.server)
    by_sid = {}
    for i, t in enumerate(targets):
        t['validator'] = validator_for(t['payload'], args.strict_integers) if t.get('payload') is not None else None
        if t.get('stream') is None:
            sid = f'c{i}'
            by_sid[sid] = t
            nc.sub(t['subject'], sid)
    nc.flush()
    print('READY', flush=True)

    received, invalid = {}, []

    def check(t, msg):
        received[msg.subject] = received.get(msg.subject, 0) + 1
        problems = [f"header {h['name']} missing" for h in t['headers'] if h['presence'] == 'always' and h['name'] != '*' and h['name'] not in msg.headers]
        try:
            value = decode(msg)
            if t['validator'] is not None:
                problems += [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in t['validator'].iter_errors(value)]
        except Exception as e:  # noqa: BLE001 - any decode failure is a finding, not a crash
            problems.append(f'cannot decode: {e}')
        if problems:
            invalid.append({'subject': msg.subject, 'contract': t['subject'], 'problems': problems[:5]})

    # Core subjects: take what arrives until told to stop (a line or the end of stdin).
    while not select.select([sys.stdin], [], [], 0)[0]:
        if not nc.readable(0.2):
            continue
        # One protocol line at a time: a PING alone must not leave us blocked on a quiet socket.
        msg = nc.pending.pop(0) if nc.pending else nc.read_one()
        if isinstance(msg, Msg) and msg.sid in by_sid:
            check(by_sid[msg.sid], msg)
    sys.stdin.readline()
    # Take what was already on its way before the stop.
    nc.flush()
    for msg in nc.pending:
        if msg.sid in by_sid:
            check(by_sid[msg.sid], msg)
    nc.pending = []

    # Stream subjects: an ephemeral pull consumer per subject, every message acknowledged.
    fetch_inbox = nc.inbox + 'F'
    nc.sub(fetch_inbox, 'fetch')
    for t in targets:
        stream = t.get('stream')
        if stream is None:
            continue
        debug(f"consumer on {stream} for {t['subject']}")
        created = nc.request(f'$JS.API.CONSUMER.CREATE.{stream}', json.dumps({
            'stream_name': stream,
            'config': {'filter_subject': t['subject'], 'ack_policy': 'explicit', 'deliver_policy': 'all', 'inactive_threshold': 60_000_000_000},
        }).encode())
        answer = json.loads(created.payload)
        if 'error' in answer:
            if answer['error'].get('err_code') == 10059:  # stream not found: nothing was ever kept there
                continue
            raise RuntimeError(f"consumer on {stream} ({t['subject']}): {answer['error']}")
        consumer = answer['name']
        while True:
            nc.pub(f'$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}', json.dumps({'batch': 256, 'no_wait': True}).encode(), fetch_inbox)
            got = 0
            while True:
                msg = nc.next_msg()
                # Stream messages arrive on the fetch subscription under their own subject.
                if msg.sid != 'fetch':
                    continue
                if msg.status is not None:  # 404 No Messages / 408 Request Timeout: this batch is over
                    debug(f'  {got} then status {msg.status}')
                    break
                check(t, msg)
                nc.pub(msg.reply, b'+ACK')  # acknowledge: the consumer moves past it
                got += 1
            if got == 0:
                break
    nc.flush()
    print(json.dumps({'received': received, 'invalid': invalid}), flush=True)
    return 1 if invalid else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, RuntimeError) as e:
        print(f'sluice_consumer: {e}', file=sys.stderr)
        sys.exit(2)
