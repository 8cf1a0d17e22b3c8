#!/usr/bin/env python3
"""Signing key, JWKS and tokens for scripts/bench-auth.sh, as an identity provider would issue
them: a fresh key of the chosen algorithm (RS256 is what Keycloak, Entra ID and Okta sign with
by default; ES256 and EdDSA are the smaller alternatives; HS256 is csops-suite's dev key).

  bench-tokens.py ALG DIR   writes DIR/jwks.json, DIR/load.token (a supervisor, for the load
                            tool), DIR/service.token (the service role, for calls between
                            services); issuer "csops-bench", audience "csops", valid 1 day.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int, size: int) -> str:
    return b64(n.to_bytes(size, "big"))


def key_for(alg: str):
    """Returns (jwk, sign) for a fresh key of `alg`."""
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": uint(pub.n, 256), "e": uint(pub.e, 3)}
        return jwk, lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA256())
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": uint(pub.x, 32), "y": uint(pub.y, 32)}

        def sign(m: bytes) -> bytes:
            r, s = utils.decode_dss_signature(key.sign(m, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        return jwk, sign
    if alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}, key.sign
    if alg == "HS256":
        secret = os.urandom(32)
        jwk = {"kty": "oct", "k": b64(secret)}
        return jwk, lambda m: hmac.new(secret, m, hashlib.sha256).digest()
    sys.exit(f"unknown algorithm {alg!r}: RS256, ES256, EdDSA or HS256")


def main() -> None:
    alg, out = sys.argv[1], sys.argv[2]
    jwk, sign = key_for(alg)
    jwk.update({"kid": f"bench-{alg.lower()}", "alg": alg, "use": "sig"})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump({"keys": [jwk]}, f)
    now = int(time.time())
    for name, sub, roles in [
        ("load", "lead-1", ["supervisor"]),
        ("service", "csops-complaints", ["service"]),
    ]:
        header = {"alg": alg, "typ": "JWT", "kid": jwk["kid"]}
        claims = {"iss": "csops-bench", "aud": "csops", "sub": sub, "roles": roles,
                  "iat": now, "nbf": now, "exp": now + 86400}
        signing_input = ".".join(
            b64(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims)
        ).encode()
        token = signing_input.decode() + "." + b64(sign(signing_input))
        with open(os.path.join(out, f"{name}.token"), "w") as f:
            f.write(token + "\n")


if __name__ == "__main__":
    main()
