"""deploy/cloudformation.yaml: it lints, grants least privilege, keeps photos
private, and moto's CloudFormation builds it; what it builds works with the app.

moto cannot build every resource type; tests/deploy/template.py makes those
few through moto's ordinary APIs from the template's own properties.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from moto import mock_aws
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin

from findlabels import aws

from .conftest import DEPLOY
from .template import as_list, for_moto, load, policy_statements, walk

REGION = "us-east-1"
APP_REPOSITORY = "https://example.com/findlabels.git"
APP_REF = "0123456789abcdef0123456789abcdef01234567"
BUCKET_ARN = {"Fn::GetAtt": ["MediaBucket", "Arn"]}
BUCKET_OBJECTS = {"Fn::Sub": "${MediaBucket.Arn}/*"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def allows(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    return ((name, s) for name, s in policy_statements(template) if s["Effect"] == "Allow")


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    if isinstance(resource, dict) and "Fn::If" in resource:
        _, when_true, when_false = resource["Fn::If"]
        return [*as_list(when_true), *as_list(when_false)]
    return as_list(resource)


# --- The template as text -------------------------------------------------------


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.fail("cfn-lint is not installed in the venv: add it to the dev extras.")
    result = subprocess.run(
        [
            str(cfn_lint),
            # Informational checks too (stateful resources without a stated
            # DeletionPolicy, and the like).
            "--include-checks",
            "I",
            "--regions",
            "us-east-1",
            "eu-west-1",
            # A Region opened after August 2022 (log delivery by service principal).
            "eu-south-2",
            "--",
            str(DEPLOY / "cloudformation.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_grant_has_a_wildcard_action(template: dict[str, Any]) -> None:
    for name, statement in allows(template):
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{name} allows {action}"
    # The one wildcard action anywhere is the bucket policy refusing plain HTTP.
    denies = [s for _, s in policy_statements(template) if s["Effect"] != "Allow"]
    assert denies == []
    bucket_policy = template["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]
    assert [s["Effect"] for s in bucket_policy["Statement"]] == ["Deny"]


def test_s3_rights_are_on_the_media_bucket_only(template: dict[str, Any]) -> None:
    s3_statements = [
        s for _, s in allows(template) if any(a.startswith("s3:") for a in as_list(s["Action"]))
    ]
    assert s3_statements
    for statement in s3_statements:
        actions = set(as_list(statement["Action"]))
        if actions == {"s3:ListBucket"}:
            assert resources_of(statement) == [BUCKET_ARN]
        else:
            assert actions <= {
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
            }
            assert resources_of(statement) == [BUCKET_OBJECTS]


# Actions IAM authorises on no particular resource, so "*" is their only Resource.
SSM_AGENT = {
    "ssm:UpdateInstanceInformation",
    "ssm:ListInstanceAssociations",
    "ssm:UpdateInstanceAssociationStatus",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
}


def test_only_actions_without_resource_permissions_are_on_every_resource(
    template: dict[str, Any],
) -> None:
    star = [s for _, s in allows(template) if "*" in resources_of(s)]
    assert sorted(sorted(as_list(s["Action"])) for s in star) == sorted(
        [
            [
                "rekognition:DetectLabels",
                "rekognition:DetectModerationLabels",
                "rekognition:DetectText",
            ],
            sorted(SSM_AGENT),
            ["cloudwatch:PutMetricData"],
        ]
    )
    # Metrics only into this stack's own namespace.
    (metrics,) = [s for s in star if s["Action"] == "cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": {"Fn::Sub": "FindLabels/${AWS::StackName}"}}
    }


def test_the_instances_cannot_read_parameter_store(template: dict[str, Any]) -> None:
    """No AmazonSSMManagedInstanceCore (ssm:GetParameter on every parameter), no managed policy."""
    role = template["Resources"]["InstanceRole"]
    assert "ManagedPolicyArns" not in role["Properties"]
    actions = {a for _, s in allows(template) for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("ssm:Get") or a.endswith(":*")}
    # The agent's calls come only with EnableSessionManager=true.
    (agent,) = [
        item
        for item in role["Properties"]["Policies"]
        if "Fn::If" in item and item["Fn::If"][1]["PolicyName"] == "ssm-agent"
    ]
    assert agent["Fn::If"][0] == "UseSessionManager"
    assert agent["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    # The one managed policy anywhere is AWS Backup's, on the backup service's role.
    managed = {
        name: r["Properties"]["ManagedPolicyArns"]
        for name, r in template["Resources"].items()
        if "ManagedPolicyArns" in r.get("Properties", {})
    }
    assert list(managed) == ["BackupRole"]
    backup_principal = template["Resources"]["BackupRole"]["Properties"][
        "AssumeRolePolicyDocument"
    ]["Statement"][0]["Principal"]
    assert backup_principal == {"Service": "backup.amazonaws.com"}
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::User"}


def test_the_instance_may_claim_only_its_own_elastic_ip(template: dict[str, Any]) -> None:
    statements = [s for _, s in allows(template) if s["Action"] == "ec2:AssociateAddress"]
    assert len(statements) == 1
    resources = [r["Fn::Sub"] for r in statements[0]["Resource"]]
    assert resources[0].endswith(":elastic-ip/${ElasticIp.AllocationId}")
    # No association by CloudFormation: it would come after the first boot's
    # signal, too late for the certificate's HTTP challenge.
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::EC2::EIPAssociation" not in kinds


def test_rds_snapshots_only_of_this_database(template: dict[str, Any]) -> None:
    statements = [s for _, s in allows(template) if "rds:CreateDBSnapshot" in s["Action"]]
    assert len(statements) == 1
    assert set(statements[0]["Action"]) == {"rds:CreateDBSnapshot", "rds:DescribeDBSnapshots"}
    assert [r["Fn::Sub"].rsplit(":", 2)[-2:] for r in statements[0]["Resource"]] == [
        ["db", "${Database}"],
        ["snapshot", "${Database}-before-migrate-*"],
    ]


def test_the_role_has_no_cognito_rights_as_the_app_calls_only_public_operations(
    template: dict[str, Any],
) -> None:
    actions = [a for _, s in allows(template) for a in as_list(s["Action"])]
    assert not [a for a in actions if a.startswith("cognito")]
    # If the app ever calls an IAM-authorised Admin* operation, the role needs it.
    cognito_code = DEPLOY.parent / "accounts" / "cognito"
    source = "\n".join(p.read_text() for p in cognito_code.glob("*.py"))
    assert "sign_up" in source  # the app's Cognito code is where this test looks
    assert not re.search(r"\badmin_\w+\(", source), "the app now calls Cognito Admin* APIs"


def test_only_this_stacks_secrets_are_readable(template: dict[str, Any]) -> None:
    secret_statements = [s for _, s in allows(template) if "secretsmanager" in str(s["Action"])]
    assert [as_list(s["Action"]) for s in secret_statements] == [["secretsmanager:GetSecretValue"]]
    assert resources_of(secret_statements[0]) == [
        {"Ref": "DjangoSecretKey"},
        {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]},
        {"Ref": "DatabaseAppSecret"},
        {"Ref": "DjangoSecretKey"},
    ]


def test_the_bucket_is_private_encrypted_and_tidy(template: dict[str, Any]) -> None:
    props = template["Resources"]["MediaBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert props["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {
            "Id": "expire-old-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        },
        {
            "Id": "remove-expired-delete-markers",
            "Status": "Enabled",
            "ExpiredObjectDeleteMarker": True,
        },
    ]
    # Presigned GETs through <img> need no CORS, and nothing is public.
    assert "CorsConfiguration" not in props
    assert "AccessControl" not in props


def test_the_bucket_refuses_plain_http(template: dict[str, Any]) -> None:
    policy = template["Resources"]["MediaBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "MediaBucket"}
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                {"Fn::GetAtt": ["MediaBucket", "Arn"]},
                {"Fn::Sub": "${MediaBucket.Arn}/*"},
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_the_user_pool_signs_in_by_email(template: dict[str, Any]) -> None:
    pool = template["Resources"]["UserPool"]["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 8
    assert pool["AccountRecoverySetting"]["RecoveryMechanisms"] == [
        {"Name": "verified_email", "Priority": 1}
    ]
    client = template["Resources"]["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def test_ports_open_only_as_needed(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    ingress = {
        name: r for name, r in resources.items() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    }
    ports = {name: (r["Properties"]["FromPort"], r.get("Condition")) for name, r in ingress.items()}
    assert ports == {
        "AppHttpFromAllowed": (80, "SingleInstance"),
        "AppHttpsFromAllowed": (443, "SingleInstance"),
        "AppSshFromAllowed": (22, "OpenSsh"),
        "AppHttpFromLoadBalancer": (80, "UseLoadBalancer"),
    }
    # SSH: only to a range someone chose, never a 0.0.0.0/0 default.
    assert ingress["AppSshFromAllowed"]["Properties"]["CidrIp"] == {"Ref": "SshCidr"}
    assert template["Parameters"]["SshCidr"]["Default"] == ""
    assert "0.0.0.0/0" not in json.dumps(template["Parameters"]["SshCidr"])
    rule = template["Rules"]["SshNeedsAChosenCidr"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyName"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SshCidr"}, ""]}]
    }
    assert "SecurityGroupIngress" not in resources["AppSecurityGroup"]["Properties"]
    database_rules = resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r["SourceSecurityGroupId"]) for r in database_rules] == [
        (5432, {"Ref": "AppSecurityGroup"})
    ]
    data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["KeyName"] == {
        "Fn::If": ["HasKeyName", {"Ref": "KeyName"}, {"Ref": "AWS::NoValue"}]
    }
    assert data["MetadataOptions"]["HttpTokens"] == "required"


def test_the_database_password_never_appears_in_the_template(template: dict[str, Any]) -> None:
    database = template["Resources"]["Database"]["Properties"]
    assert database["ManageMasterUserPassword"] is True
    assert database["PubliclyAccessible"] is False
    assert database["StorageEncrypted"] is True
    keys = {path[-1] for path, _ in walk(template) if path}
    assert "MasterUserPassword" not in keys


def test_instances_boot_amazon_linux_2023_from_the_public_parameter(
    template: dict[str, Any],
) -> None:
    parameter = template["Parameters"]["LatestAmiId"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert parameter["Default"] == (
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["ImageId"] == {"Ref": "LatestAmiId"}


def bootstrap_keys() -> list[str]:
    script = (DEPLOY / "bootstrap.sh").read_text()
    block = re.search(r"readonly CONFIG_KEYS=\((.*?)\)", script, re.S)
    assert block
    return block.group(1).split()


def test_first_boot_passes_every_setting_bootstrap_reads(template: dict[str, Any]) -> None:
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    script = data["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    config = script.split("<<'CONFIG'\n", 1)[1].split("\nCONFIG\n", 1)[0]
    assert [line.split("=", 1)[0] for line in config.splitlines()] == bootstrap_keys()


# --- The stack, as moto's CloudFormation builds it ---------------------------


@dataclass
class Stack:
    session: Any
    outputs: dict[str, str]
    physical: dict[str, str]
    made: dict[str, dict[str, str]]

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=REGION)

    def first_boot_settings(self) -> dict[str, str]:
        ec2 = self.client("ec2")
        version = ec2.describe_launch_template_versions(
            LaunchTemplateId=self.physical["LaunchTemplate"]
        )["LaunchTemplateVersions"][0]
        script = base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode()
        config = script.split("<<'CONFIG'\n", 1)[1].split("\nCONFIG\n", 1)[0]
        return dict(line.split("=", 1) for line in config.splitlines())

    def ingress(self, group: str) -> list[dict[str, Any]]:
        groups = self.client("ec2").describe_security_groups(GroupIds=[self.physical[group]])
        return list(groups["SecurityGroups"][0]["IpPermissions"])


def create_stack(parameters: dict[str, str]) -> Stack:
    """Build the stack in moto (call inside ``mock_aws``)."""
    session = boto3.session.Session(region_name=REGION)
    parameters = {"AppRepository": APP_REPOSITORY, "AppRef": APP_REF, **parameters}
    if parameters.get("CertificateArn") == "issue one":
        acm = session.client("acm", region_name=REGION)
        issued = acm.request_certificate(DomainName=parameters["DomainName"])
        parameters["CertificateArn"] = issued["CertificateArn"]
    reduced = for_moto(session, parameters, REGION)
    cloudformation = session.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName="findlabels",
        TemplateBody=json.dumps(reduced.template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    description = cloudformation.describe_stacks(StackName="findlabels")["Stacks"][0]
    assert description["StackStatus"] == "CREATE_COMPLETE", description.get("StackStatusReason")
    summaries = cloudformation.list_stack_resources(StackName="findlabels")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in summaries["StackResourceSummaries"]
        if r["LogicalResourceId"]  # moto also lists the resources a condition left out
    }
    for action in reduced.after_create:
        action(physical)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}
    return Stack(session, outputs, physical, reduced.made)


@pytest.fixture
def sqlite_stack(aws_credentials: None) -> Iterator[Stack]:
    with mock_aws():
        yield create_stack({"AllowPlainHttp": "true"})


def test_moto_builds_the_single_instance_sqlite_stack(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    address = stack.physical["ElasticIp"]
    assert stack.outputs["SiteUrl"] == f"http://{address}/"
    assert stack.outputs["PublicAddress"] == address
    assert stack.outputs["UserPoolId"] == stack.made["UserPool"]["Id"]
    assert stack.outputs["UserPoolClientId"] == stack.made["UserPoolClient"]["ClientId"]
    assert "Database" not in stack.physical
    assert "AutoScalingGroup" not in stack.physical
    ec2 = stack.client("ec2")
    settings = stack.first_boot_settings()
    # The instance claims its address itself (bootstrap.sh's claim_address), as here.
    ec2.associate_address(
        AllocationId=settings["ELASTIC_IP_ALLOCATION_ID"],
        InstanceId=stack.outputs["InstanceId"],
        AllowReassociation=True,
    )
    instance = ec2.describe_instances(InstanceIds=[stack.outputs["InstanceId"]])
    assert instance["Reservations"][0]["Instances"][0]["PublicIpAddress"] == address
    # 80 and 443 from anywhere (the default AllowedCidr), and no SSH without a key pair.
    open_ports = sorted(
        (rule["FromPort"], rule["IpRanges"][0]["CidrIp"])
        for rule in stack.ingress("AppSecurityGroup")
    )
    assert open_ports == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]
    assert settings["AWS_STORAGE_BUCKET_NAME"] == stack.outputs["MediaBucketName"]
    assert settings["COGNITO_USER_POOL_ID"] == stack.outputs["UserPoolId"]
    assert settings["COGNITO_APP_CLIENT_ID"] == stack.outputs["UserPoolClientId"]
    assert settings["DJANGO_SECRET_ARN"] == stack.made["DjangoSecretKey"]["Arn"]
    assert settings["DATABASE_ENGINE"] == "sqlite"
    assert settings["SITE_HOST"] == address
    assert settings["BEHIND_LOAD_BALANCER"] == "0"
    assert settings["APP_REF"] == APP_REF
    assert settings["STACK_NAME"] == "findlabels"
    assert settings["INSTANCE_COUNT"] == "1"
    assert stack.outputs["PlainHttpWarning"].startswith("WARNING: this site is plain HTTP")


def test_cloudformation_itself_encrypts_the_created_bucket(sqlite_stack: Stack) -> None:
    # Only what moto's CloudFormation made from the template is checked here.
    # The public access block, ownership, lifecycle and policy are properties
    # it ignores; tests/deploy/template.py applies them from the template for
    # the stack's other tests, so reading them back would check that helper,
    # not the template (test_the_bucket_is_private_encrypted_and_tidy and
    # test_the_bucket_refuses_plain_http check them in the template).
    s3 = sqlite_stack.client("s3")
    bucket = sqlite_stack.outputs["MediaBucketName"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_moto_builds_the_postgres_stack(aws_credentials: None) -> None:
    with mock_aws():
        stack = create_stack({"DatabaseEngine": "postgres", "AllowPlainHttp": "true"})
        rds = stack.client("rds")
        database = rds.describe_db_instances(DBInstanceIdentifier=stack.physical["Database"])
        endpoint = database["DBInstances"][0]["Endpoint"]
        assert stack.outputs["DatabaseEndpoint"] == endpoint["Address"]
        settings = stack.first_boot_settings()
        assert settings["DATABASE_ENGINE"] == "postgres"
        assert settings["DATABASE_HOST"] == endpoint["Address"]
        assert settings["DATABASE_PORT"] == "5432"
        assert settings["DATABASE_SECRET_ARN"] == stack.made["DatabaseSecret"]["Arn"]
        assert settings["DATABASE_APP_SECRET_ARN"] == stack.made["DatabaseAppSecret"]["Arn"]
        assert settings["DATABASE_INSTANCE_ID"] == stack.physical["Database"]
        rules = stack.ingress("DatabaseSecurityGroup")
        assert [(r["FromPort"], r["UserIdGroupPairs"][0]["GroupId"]) for r in rules] == [
            (5432, stack.physical["AppSecurityGroup"])
        ]


def test_moto_builds_the_load_balanced_stack(aws_credentials: None) -> None:
    with mock_aws():
        stack = create_stack(
            {
                "DatabaseEngine": "postgres",
                "LoadBalancing": "alb",
                "InstanceCount": "3",
                "DomainName": "photos.example.com",
                "CertificateArn": "issue one",
                "KeyName": "operator",
                "SshCidr": "198.51.100.7/32",
            }
        )
        assert stack.outputs["SiteUrl"] == "https://photos.example.com/"
        assert "Instance" not in stack.physical
        groups = stack.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[stack.outputs["AutoScalingGroupName"]]
        )["AutoScalingGroups"]
        assert groups[0]["DesiredCapacity"] == 3
        assert groups[0]["TargetGroupARNs"] == [stack.physical["TargetGroup"]]
        elb = stack.client("elbv2")
        listeners = elb.describe_listeners(LoadBalancerArn=stack.physical["LoadBalancer"])
        by_port = {listener["Port"]: listener for listener in listeners["Listeners"]}
        assert by_port[80]["DefaultActions"][0]["Type"] == "redirect"
        assert by_port[443]["Protocol"] == "HTTPS"
        target = elb.describe_target_groups(TargetGroupArns=[stack.physical["TargetGroup"]])
        assert target["TargetGroups"][0]["HealthCheckPath"] == "/healthz/live"
        # Instances take HTTP from the load balancer only; SSH because a key pair was given.
        app_rules = {r["FromPort"]: r for r in stack.ingress("AppSecurityGroup")}
        assert sorted(app_rules) == [22, 80]
        assert app_rules[22]["IpRanges"][0]["CidrIp"] == "198.51.100.7/32"
        assert (
            app_rules[80]["UserIdGroupPairs"][0]["GroupId"]
            == (stack.physical["LoadBalancerSecurityGroup"])
        )
        assert app_rules[80]["IpRanges"] == []
        settings = stack.first_boot_settings()
        assert settings["BEHIND_LOAD_BALANCER"] == "1"
        assert settings["HTTPS_AT_LOAD_BALANCER"] == "1"
        assert settings["SITE_HOST"] == stack.outputs["PublicAddress"]


# --- What the stack made, used by the app ------------------------------------


def use_stack(settings: Any, stack: Stack) -> None:
    """Point the app's AWS mode at the stack's bucket, pool and client."""
    bucket = stack.outputs["MediaBucketName"]
    # moto evaluates a bucket policy without knowing the request's transport,
    # so the deny-plain-HTTP rule would refuse everything; the app talks HTTPS.
    stack.client("s3").delete_bucket_policy(Bucket=bucket)
    settings.FINDLABELS_STORAGE = "s3"
    settings.AWS_REGION = REGION
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.COGNITO_USER_POOL_ID = stack.outputs["UserPoolId"]
    settings.COGNITO_APP_CLIENT_ID = stack.outputs["UserPoolClientId"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": aws.s3_storage(bucket, REGION, None, 300, aws.botocore_config(5, 30, 3)),
    }
    aws.client.cache_clear()


def test_the_app_signs_up_and_stores_photos_with_what_the_stack_made(
    sqlite_stack: Stack, settings: Any
) -> None:
    from django.core.files.storage import default_storage

    from accounts.cognito import client as cognito

    use_stack(settings, sqlite_stack)
    try:
        cognito.sign_up("new@example.com", "Correct-Horse-42")
        cognito.confirm_sign_up("new@example.com", "123456")  # moto takes any code
        tokens = cognito.sign_in("new@example.com", "Correct-Horse-42")
        assert tokens.id_token and tokens.access_token

        name = default_storage.save("originals/cat.jpg", ContentFile(b"\xff\xd8 a photo"))
        head = sqlite_stack.client("s3").head_object(
            Bucket=sqlite_stack.outputs["MediaBucketName"], Key=name
        )
        assert head["ServerSideEncryption"] == "AES256"
        assert default_storage.open(name).read() == b"\xff\xd8 a photo"
    finally:
        aws.client.cache_clear()


def role_session(stack: Stack) -> Any:
    """A session holding the instance role's credentials, as an instance would."""
    iam = stack.client("iam")
    role_name = stack.physical["InstanceRole"]
    # moto's CloudFormation stores inline policies as Python reprs, which its
    # own IAM enforcement cannot read; put the same documents back as JSON.
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = ast.literal_eval(document)
        iam.put_role_policy(
            RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(document)
        )
    arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    credentials = stack.client("sts").assume_role(RoleArn=arn, RoleSessionName="web-instance")
    return credentials["Credentials"]


def refused(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        return status == 403 or error.response["Error"]["Code"] == "AccessDenied"
    return False


def test_the_instance_role_can_do_what_the_app_does_on_s3_and_no_more(
    sqlite_stack: Stack, settings: Any, monkeypatch: Any
) -> None:
    """moto enforces IAM here for S3 (with resources) and for actions elsewhere.

    Two of moto's gaps are left to the static tests above: it checks every
    non-S3 call against Resource "*", so it refuses a statement scoped to one
    secret; and it wants a (nonexistent) s3:HeadBucket action where AWS
    checks s3:ListBucket.
    """
    from django.core.files.storage import default_storage

    stack = sqlite_stack
    other_bucket = "someone-elses-bucket"
    stack.client("s3").create_bucket(Bucket=other_bucket)
    credentials = role_session(stack)
    use_stack(settings, stack)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    as_role = boto3.session.Session(region_name=REGION)
    # From here on moto checks every request against the caller's policies.
    monkeypatch.setattr(
        moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", ActionAuthenticatorMixin.request_count
    )
    try:
        name = default_storage.save("originals/dog.jpg", ContentFile(b"a photo"))
        assert default_storage.exists(name)
        assert not default_storage.exists("originals/missing.jpg")
        assert default_storage.open(name).read() == b"a photo"
        default_storage.delete(name)
        assert not default_storage.exists(name)

        s3 = as_role.client("s3")
        bucket = stack.outputs["MediaBucketName"]
        assert refused(lambda: s3.list_buckets())
        assert refused(lambda: s3.put_object(Bucket=other_bucket, Key="x", Body=b"x"))
        assert refused(lambda: s3.put_bucket_policy(Bucket=bucket, Policy="{}"))
        assert refused(lambda: s3.delete_bucket(Bucket=bucket))
        assert refused(lambda: as_role.client("iam").list_users())
        assert refused(lambda: as_role.client("ec2").describe_instances())
        image = {"S3Object": {"Bucket": bucket, "Name": "originals/dog.jpg"}}
        assert not refused(lambda: as_role.client("rekognition").detect_labels(Image=image))
    finally:
        aws.client.cache_clear()
