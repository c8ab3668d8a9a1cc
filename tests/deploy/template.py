"""deploy/cloudformation.yaml as data, and the parts of it moto cannot build.

moto's CloudFormation creates most of the stack but has no model for some
resource types and attributes. :func:`for_moto` builds a reduced template from
the real one: the resources moto lacks are made through moto's ordinary APIs
from the template's own properties, and every reference to them is replaced
by what those calls returned, so the rest of the real template (network,
bucket, IAM, instances, database, load balancer) goes through moto's
CloudFormation unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation.yaml"

# Resource types moto's CloudFormation has no model for (moto 5.x), each with
# what the reduced template does instead.
MOTO_UNSUPPORTED = {
    "AWS::Cognito::UserPool": "created with cognito-idp create_user_pool from its properties",
    "AWS::Cognito::UserPoolClient": "created with create_user_pool_client from its properties",
    "AWS::SecretsManager::Secret": "created with secretsmanager create_secret",
    "AWS::S3::BucketPolicy": "the photo bucket's applied with s3 put_bucket_policy afterwards",
}


# Properties moto's CloudFormation ignores on a resource it does create; the
# reduced template's after-create actions apply them through the S3 API.
MOTO_IGNORED_PROPERTIES = {
    "AWS::S3::Bucket": (
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
        "VersioningConfiguration",
    ),
}


def load() -> dict[str, Any]:
    """The template with CloudFormation's short tags (!Ref, !Sub...) in long form."""
    decoded = cfn_yaml.load(str(TEMPLATE))
    # A plain-JSON round trip drops cfn-lint's node classes (line marks).
    return json.loads(json.dumps(decoded))


def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) in a decoded template, depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def branches(node: Any) -> list[Any]:
    """Both outcomes of an Fn::If (less AWS::NoValue), or the node itself."""
    if isinstance(node, dict) and "Fn::If" in node:
        _, when_true, when_false = node["Fn::If"]
        return [b for b in (when_true, when_false) if b != {"Ref": "AWS::NoValue"}]
    return [node]


def role_policies(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """A role's inline policies, those behind a condition included."""
    policies = resource.get("Properties", {}).get("Policies", [])
    return [policy for item in policies for policy in branches(item)]


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource name, statement) for every IAM statement the stack grants."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in role_policies(resource)]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props["PolicyDocument"]]
        else:
            continue
        for document in documents:
            for statement in document["Statement"]:
                yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class MotoStack:
    """The reduced template and what was made outside moto's CloudFormation."""

    template: dict[str, Any]
    made: dict[str, dict[str, str]] = field(default_factory=dict)
    after_create: list[Callable[[dict[str, str]], None]] = field(default_factory=list)


def for_moto(session: Any, parameters: dict[str, str], region: str) -> MotoStack:
    """Build the reduced template inside an active ``mock_aws``.

    ``session`` is a boto3 Session; ``parameters`` are the stack parameters
    (the conditions they select decide which references need a stand-in).
    """
    template = load()
    resources = template["Resources"]
    stack = MotoStack(template)
    # Substitutions: ("Ref", name) / ("GetAtt", name, attribute) -> literal.
    literals: dict[tuple[str, ...], str] = {}

    pool_props = resources["UserPool"]["Properties"]
    idp = session.client("cognito-idp", region_name=region)
    pool = idp.create_user_pool(
        PoolName="findlabels-users",
        **{
            key: pool_props[key]
            for key in (
                "UsernameAttributes",
                "AutoVerifiedAttributes",
                "UsernameConfiguration",
                "Schema",
                "Policies",
                "AccountRecoverySetting",
                "AdminCreateUserConfig",
                "VerificationMessageTemplate",
            )
        },
    )["UserPool"]
    client_props = {
        key: value
        for key, value in resources["UserPoolClient"]["Properties"].items()
        if key not in ("UserPoolId", "ClientName")
    }
    app = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="findlabels-web", **client_props
    )["UserPoolClient"]
    stack.made["UserPool"] = {"Id": pool["Id"], "Arn": pool["Arn"]}
    stack.made["UserPoolClient"] = {"ClientId": app["ClientId"]}
    literals[("Ref", "UserPool")] = pool["Id"]
    literals[("GetAtt", "UserPool", "Arn")] = pool["Arn"]
    literals[("Ref", "UserPoolClient")] = app["ClientId"]

    secrets = session.client("secretsmanager", region_name=region)
    generate = resources["DjangoSecretKey"]["Properties"]["GenerateSecretString"]
    django_key = secrets.get_random_password(
        PasswordLength=generate["PasswordLength"], ExcludePunctuation=generate["ExcludePunctuation"]
    )["RandomPassword"]
    django_secret = secrets.create_secret(Name="findlabels-django-key", SecretString=django_key)
    stack.made["DjangoSecretKey"] = {"Arn": django_secret["ARN"], "Value": django_key}
    literals[("Ref", "DjangoSecretKey")] = django_secret["ARN"]

    if parameters.get("DatabaseEngine") == "postgres":
        # moto's RDS model has MasterUserSecret, but its CloudFormation does not
        # pass ManageMasterUserPassword nor answer GetAtt MasterUserSecret.SecretArn:
        # stand in a secret shaped like the one RDS writes.
        password = "p@ss:w/rd with spaces&?#"
        db_secret = secrets.create_secret(
            Name="rds!db-findlabels",
            SecretString=json.dumps({"username": "findlabels", "password": password}),
        )
        stack.made["DatabaseSecret"] = {"Arn": db_secret["ARN"], "Password": password}
        literals[("GetAtt", "Database", "MasterUserSecret.SecretArn")] = db_secret["ARN"]
        app_secret = secrets.create_secret(
            Name="findlabels-database-app",
            SecretString=json.dumps({"username": "findlabels_app", "password": "app-password"}),
        )
        stack.made["DatabaseAppSecret"] = {"Arn": app_secret["ARN"]}
        literals[("Ref", "DatabaseAppSecret")] = app_secret["ARN"]

    stack.after_create.append(_bucket_settings(session, region, resources["MediaBucket"]))
    for name, resource in list(resources.items()):
        if resource["Type"] in MOTO_UNSUPPORTED:
            stack.after_create.extend(_stand_in(session, region, name, resource))
            del resources[name]

    # moto leaves an AWS::NoValue inside a list as None, which its IAM cannot
    # read: decide the role's conditional policies here, from the parameters.
    decided = {
        "UseSessionManager": parameters.get("EnableSessionManager", "true") == "true",
        "SingleInstance": parameters.get("LoadBalancing", "none") == "none",
        "UsePostgres": parameters.get("DatabaseEngine", "sqlite") == "postgres",
    }
    role = resources["InstanceRole"]["Properties"]
    role["Policies"] = [
        item["Fn::If"][1] if "Fn::If" in item else item
        for item in role["Policies"]
        if "Fn::If" not in item or decided[item["Fn::If"][0]]
    ]

    # moto builds an EC2 instance from its own ImageId/InstanceType only and
    # ignores its LaunchTemplate; copy those two across (real CloudFormation
    # reads them from the launch template).
    if "Instance" in resources:
        data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        props = resources["Instance"]["Properties"]
        props["ImageId"] = data["ImageId"]
        props["InstanceType"] = data["InstanceType"]

    stack.template = _substitute(template, literals)
    return stack


def _bucket_settings(
    session: Any, region: str, bucket: dict[str, Any]
) -> Callable[[dict[str, str]], None]:
    """Apply the bucket properties moto's CloudFormation skips, as the S3 API takes them."""
    props = copy.deepcopy(bucket["Properties"])

    def apply(physical: dict[str, str]) -> None:
        s3 = session.client("s3", region_name=region)
        name = physical["MediaBucket"]
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
        )
        # CloudFormation's rule properties, in the S3 API's names.
        rules = []
        for rule in props["LifecycleConfiguration"]["Rules"]:
            api = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": ""}}
            if "AbortIncompleteMultipartUpload" in rule:
                api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
            if "NoncurrentVersionExpiration" in rule:
                api["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
            if "ExpiredObjectDeleteMarker" in rule:
                api["Expiration"] = {"ExpiredObjectDeleteMarker": rule["ExpiredObjectDeleteMarker"]}
            rules.append(api)
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})

    return apply


def _stand_in(
    session: Any, region: str, name: str, resource: dict[str, Any]
) -> list[Callable[[dict[str, str]], None]]:
    """Actions to run once the stack exists, for resources that need its outputs."""
    props = copy.deepcopy(resource.get("Properties", {}))
    if resource["Type"] == "AWS::S3::BucketPolicy":
        if props["Bucket"] != {"Ref": "MediaBucket"}:
            # The logs bucket's policy (Region-dependent principals) is only
            # checked as data, in test_stack_operations.py.
            return []

        def put_policy(physical: dict[str, str]) -> None:
            bucket = physical["MediaBucket"]
            document = _substitute(
                props["PolicyDocument"],
                {
                    ("GetAtt", "MediaBucket", "Arn"): f"arn:aws:s3:::{bucket}",
                    ("Sub", "${MediaBucket.Arn}/*"): f"arn:aws:s3:::{bucket}/*",
                },
            )
            session.client("s3", region_name=region).put_bucket_policy(
                Bucket=bucket, Policy=json.dumps(document)
            )

        return [put_policy]
    return []


def _substitute(node: Any, literals: dict[tuple[str, ...], str]) -> Any:
    """Replace intrinsic references to stood-in resources with their values."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, value), *_ = node.items()
            if key == "Ref" and ("Ref", value) in literals:
                return literals[("Ref", value)]
            if key == "Fn::GetAtt":
                resource, attribute = value if isinstance(value, list) else value.split(".", 1)
                if ("GetAtt", resource, attribute) in literals:
                    return literals[("GetAtt", resource, attribute)]
            if key == "Fn::Sub":
                if isinstance(value, str) and ("Sub", value) in literals:
                    return literals[("Sub", value)]
                return {key: _substitute_sub(value, literals)}
        return {key: _substitute(value, literals) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(value, literals) for value in node]
    return node


def _substitute_sub(value: Any, literals: dict[tuple[str, ...], str]) -> Any:
    """Inside Fn::Sub, ${Name} and ${Name.Attr} name resources too."""

    def replace(text: str) -> str:
        for key, literal in literals.items():
            if key[0] == "Ref":
                text = text.replace("${" + key[1] + "}", literal)
            elif key[0] == "GetAtt":
                text = text.replace("${" + key[1] + "." + key[2] + "}", literal)
        return text

    if isinstance(value, str):
        return replace(value)
    text, variables = value
    return [replace(text), _substitute(variables, literals)]
