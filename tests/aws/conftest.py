from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from findlabels import aws

BUCKET = "findlabels-test-media"
REGION = "us-east-1"


@pytest.fixture
def s3(settings: Any, aws_credentials: None) -> Iterator[Any]:
    """S3 media storage against moto's in-process S3."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        settings.FINDLABELS_STORAGE = "s3"
        settings.AWS_REGION = REGION
        settings.AWS_STORAGE_BUCKET_NAME = BUCKET
        settings.STORAGES = {
            **settings.STORAGES,
            "default": aws.s3_storage(BUCKET, REGION, None, 300, aws.botocore_config(5, 30, 3)),
        }
        aws.client.cache_clear()
        yield client
        aws.client.cache_clear()
