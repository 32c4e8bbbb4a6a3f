"""A moto S3 server on a loopback port, with test credentials in the environment while it runs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def moto_s3(*buckets: str) -> Iterator[tuple[str, int]]:
    """Start a moto S3 server on 127.0.0.1 holding ``buckets``; yield ``(host, port)``; stop it
    and restore the ``AWS_*`` variables afterwards."""
    # moto[server] is a dev dependency (moto ≥ 5.2.5: 5.2.1 answers pyarrow's
    # CompleteMultipartUpload with a wrong XML root, getmoto/moto#10055).
    import boto3
    from moto.server import ThreadedMotoServer

    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        yield host, port
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
