"""AWS mode with no AWS account: a local moto server holding the bucket, the
user pool and its app client, plus the environment that points the app at it.

Used by `make run-aws-local`, the AWS-mode browser test and bench/aws.py.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
BUCKET = "findlabels-local-media"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass
class LocalAws:
    server: ThreadedMotoServer
    endpoint: str
    env: dict[str, str]

    def stop(self) -> None:
        self.server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(port: int | None = None) -> LocalAws:
    """Start moto on 127.0.0.1 and create what the app needs in it."""
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        env = {**FAKE_CREDENTIALS, **create_resources(endpoint)}
    except Exception:
        server.stop()  # never leave a server behind a failed set-up
        raise
    return LocalAws(server, endpoint, env)


def create_user_pool(idp: Any, name: str) -> tuple[str, str]:
    """A pool shaped like the CloudFormation one, and its web client: (pool id, client id)."""
    pool_id = idp.create_user_pool(
        PoolName=name,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 8,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="findlabels-web",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        # Without these moto puts the sub where the ID token's email claim belongs.
        ReadAttributes=["email", "email_verified"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def create_resources(endpoint: str) -> dict[str, str]:
    def client(service: str) -> Any:
        # Credentials given here, not exported: the caller's environment stays as it was.
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    client("s3").create_bucket(Bucket=BUCKET)
    pool_id, client_id = create_user_pool(client("cognito-idp"), "findlabels-local")
    return {
        "FINDLABELS_MODE": "aws",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_APP_CLIENT_ID": client_id,
        # moto has no DetectModerationLabels: every Detect would log its 500.
        "FINDLABELS_MODERATION": "0",
    }


def main() -> None:
    """Serve the app in AWS mode against a fresh local moto server until Ctrl-C."""
    import subprocess

    local = start(int(os.environ.get("MOTO_PORT", "0")) or None)
    env = {**os.environ, **local.env, "DJANGO_DEBUG": "1"}
    env.setdefault("FINDLABELS_VAR_DIR", os.path.abspath("var/aws-local"))
    port = os.environ.get("PORT", "8000")
    print(f"moto server on {local.endpoint}; bucket, user pool and app client created.")
    print("Cognito codes are not mailed by moto: any 6 digits confirm a sign-up.")
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, check=True)
        subprocess.run([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"], env=env)
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()


if __name__ == "__main__":
    main()
