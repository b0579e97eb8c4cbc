#!/usr/bin/env python3
"""An independent check of a consultd receipt in tlog-proof form, written from docs/TRUST.md and the
C2SP specs alone (Python's standard library and the `cryptography` package for Ed25519).

    python3 docs/verify_tlog_proof.py K.tlog-proof LOG-VKEY QUORUM [WITNESS-VKEY ...]

A vkey may be given as the string or as a file holding it. Prints one line per check and exits 1
if any fails.
"""
import base64, hashlib, os, struct, sys, uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def vkey(text):
    if os.path.exists(text):
        text = open(text).read().strip()
    name, key_id, material = text.split("+", 2)
    raw = base64.b64decode(material, validate=True)
    computed = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]  # name, 0x0A, type byte, key
    assert computed.hex() == key_id, "the vkey's key ID does not match its name and key"
    return name, computed, raw[0], Ed25519PublicKey.from_public_bytes(raw[1:])


def parse_leaf(data):
    tag = b"consultd-leaf-v1\x00"
    assert data.startswith(tag), "not a consultd leaf input"
    at = len(tag)

    def take(n):
        nonlocal at
        chunk = data[at:at + n]
        assert len(chunk) == n, "the leaf input is truncated"
        at += n
        return chunk

    def text():
        return take(struct.unpack(">I", take(4))[0]).decode()

    position = struct.unpack(">q", take(8))[0]
    event_id = uuid.UUID(bytes=take(16))
    stream = text()
    version = struct.unpack(">q", take(8))[0]
    kind, data_text, metadata = text(), text(), text()
    recorded_at_us = struct.unpack(">q", take(8))[0]
    assert at == len(data), "bytes after the leaf input's last field"
    return dict(position=position, event_id=str(event_id), stream=stream, version=version, type=kind,
                data=data_text, metadata=metadata, recorded_at_us=recorded_at_us)


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162, 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def main():
    data = open(sys.argv[1], "rb").read().decode()
    log = vkey(sys.argv[2])
    quorum = int(sys.argv[3])
    witnesses = [vkey(w) for w in sys.argv[4:]]
    head, _, note = data.partition("\n\n")  # the proof's block ends at its first blank line
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1", "not a tlog-proof"
    assert lines[1].startswith("extra "), "no extra line"
    extra = base64.b64decode(lines[1][6:], validate=True)
    index = int(lines[2][len("index "):])
    proof = [base64.b64decode(line, validate=True) for line in lines[3:]]
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    origin, size, root = text.split("\n")[:3]
    size, root = int(size), base64.b64decode(root, validate=True)
    event = parse_leaf(extra)
    results = [("the event at position %d is leaf %d" % (event["position"], index), event["position"] == index + 1)]
    signed_by_log, cosigned = False, set()
    for line in signatures.strip("\n").split("\n"):
        assert line.startswith("\u2014 "), "a signature line starts with an em dash and a space"
        name, blob = line[2:].split(" ")
        blob = base64.b64decode(blob, validate=True)
        key_id, signature = blob[:4], blob[4:]
        if (name, key_id) == (log[0], log[1]) and log[2] == 0x01:
            log[3].verify(signature, text.encode())  # raises if it does not verify
            signed_by_log = True
        for w in witnesses:
            if (name, key_id) == (w[0], w[1]) and w[2] == 0x04:
                timestamp = struct.unpack(">Q", signature[:8])[0]
                w[3].verify(signature[8:], b"cosignature/v1\ntime %d\n" % timestamp + text.encode())
                cosigned.add(name)
    results.append(("the log %s signed the checkpoint" % origin, signed_by_log and origin == log[0]))
    results.append(("%d of %d witnesses cosigned it (quorum %d)" % (len(cosigned), len(witnesses), quorum), len(cosigned) >= quorum))
    leaf = hashlib.sha256(b"\x00" + extra).digest()
    results.append(("the event is in the tree of size %d" % size, verify_inclusion(leaf, index, size, proof, root)))
    for check, passed in results:
        print(("ok   " if passed else "FAIL ") + check)
    print("event:", event["type"], event["stream"], event["event_id"])
    sys.exit(0 if all(passed for _, passed in results) else 1)


if __name__ == "__main__":
    main()
