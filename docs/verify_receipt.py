#!/usr/bin/env python3
"""An independent check of a consultd receipt, written from docs/TRUST.md alone (Python's standard
library; the Ed25519 signature is checked too when the `cryptography` package is installed).

    python3 docs/verify_receipt.py RECEIPT.json [PUBLIC-KEY-FILE]
"""
import base64, hashlib, json, struct, sys, uuid


def leaf_input(e):
    text = lambda s: struct.pack(">I", len(s.encode())) + s.encode()
    return (b"consultd-leaf-v1\x00" + struct.pack(">q", e["position"]) + uuid.UUID(e["event_id"]).bytes
            + text(e["stream"]) + struct.pack(">q", e["version"]) + text(e["type"]) + text(e["data"])
            + text(e["metadata"]) + struct.pack(">q", e["recorded_at_us"]))


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
    receipt = json.load(open(sys.argv[1]))
    event, checkpoint = receipt["event"], receipt["checkpoint"]
    leaf = hashlib.sha256(b"\x00" + leaf_input(event)).digest()
    print("leaf hash matches:", leaf.hex() == receipt["leaf_hash"])
    proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
    included = verify_inclusion(leaf, event["position"] - 1, checkpoint["size"], proof, bytes.fromhex(checkpoint["root"]))
    print("included in the checkpoint's tree:", included)
    if len(sys.argv) > 2:
        raw = base64.b64decode(open(sys.argv[2]).read().split()[1])
        signed = f"consultd-checkpoint-v1\nsize {checkpoint['size']}\nroot {checkpoint['root']}\ntime_us {checkpoint['time_us']}\n"
        print("key id matches:", hashlib.sha256(raw).digest()[:16].hex() == checkpoint["key_id"])
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
            Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(checkpoint["signature"]), signed.encode())
            print("signature valid: True")
        except ImportError:
            print("signature not checked (pip install cryptography)")
        except Exception:
            print("signature valid: False")


if __name__ == "__main__":
    main()
