"""The one place boto3 clients are made: timeouts, bounded retries, endpoint.

Credentials are never passed here; boto3's default chain finds them (the
instance role on EC2, environment variables for a local moto server).
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config


def botocore_config(connect_timeout: int, read_timeout: int, max_attempts: int) -> Config:
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # total_max_attempts counts the first try too; max_attempts would add one.
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )


@cache
def client(service: str) -> Any:
    """One client per service per process; boto3 clients are thread-safe."""
    import boto3
    from django.conf import settings

    config = botocore_config(
        settings.AWS_CONNECT_TIMEOUT, settings.AWS_READ_TIMEOUT, settings.AWS_MAX_ATTEMPTS
    )
    return boto3.session.Session().client(
        service,
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL,
        config=config,
    )


def s3_storage(
    bucket: str, region: str, endpoint_url: str | None, expire_seconds: int, config: Config
) -> dict[str, Any]:
    """The STORAGES entry for private, encrypted S3 media with presigned URLs."""
    # A local endpoint (moto) answers on one host: path-style addresses.
    addressing = "path" if endpoint_url else "virtual"
    # django-storages ignores its own signature/addressing options once a
    # client_config is given, so they go into the config itself.
    s3_config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": addressing}))
    return {
        # django-storages presigns with botocore (about 0.25 ms a URL, 24 a
        # gallery page), with no network call.
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "region_name": region,
            "endpoint_url": endpoint_url,
            "signature_version": "s3v4",
            "addressing_style": addressing,
            "default_acl": None,  # private: the bucket blocks public access
            "querystring_auth": True,
            "querystring_expire": expire_seconds,
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
            "client_config": s3_config,
        },
    }


def bucket_origins(bucket: str, region: str, endpoint_url: str | None) -> list[str]:
    """Where presigned media URLs point: the CSP lets <img> load from there.

    deploy/bootstrap.sh writes the same two origins into nginx's instance.conf.
    """
    if endpoint_url:  # a local endpoint (moto) serves every bucket path-style
        parts = urlsplit(endpoint_url)
        return [f"{parts.scheme}://{parts.netloc}"]
    # Virtual-hosted addresses: the global one (us-east-1's) and the regional one.
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com"]
