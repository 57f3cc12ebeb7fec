"""What DKIM signing adds to a send: hosts with and without ``[dkim]``, memory transport.

    python benchmarks/bench_dkim.py

The baseline is the same send without ``[dkim]``, in the same run. dkimpy does
RSA in Python (``pow``), so an RSA-2048 signature costs tens of milliseconds;
Ed25519 goes through PyNaCl (libsodium).
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import PARAMS, per_call  # noqa: E402

from emailactions import ActionHost  # noqa: E402


def keys(folder: Path) -> dict[str, Path]:
    import nacl.signing
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    seed = base64.b64encode(bytes(nacl.signing.SigningKey.generate()))
    paths = {"rsa-sha256": folder / "rsa.key", "ed25519-sha256": folder / "ed25519.key"}
    for path, data in zip(paths.values(), (pem, seed)):
        path.write_bytes(data)
        path.chmod(0o600)
    return paths


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        configs = {"no dkim": {}}
        for algorithm, path in keys(Path(tmp)).items():
            configs[algorithm] = {"dkim": {"domain": "example.com", "selector": "s1", "private_key": str(path), "algorithm": algorithm}}
        results = {}
        for name, extra in configs.items():
            config = {"transports": {"default": {"backend": "memory"}}, "rate_limits": {"enabled": False}, **extra}
            host = ActionHost(config, load_entry_points=False)
            transport = host.transport()
            try:
                results[name] = per_call(lambda: (host.action("external/email", "send", PARAMS), transport.outbox.clear()), seconds=2.0, min_calls=5)
            finally:
                host.close()
    base = results["no dkim"]
    for name, seconds in results.items():
        print(f"{name:>15}: {seconds * 1000:8.2f} ms per send   {seconds / base:6.1f}x the send without [dkim]")


if __name__ == "__main__":
    main()
