"""deploy/cloudformation.yaml survives a first deploy and routine AWS events.

Assertions on the template as data: what a first create that fails leaves
behind, TLS, the Region, health checks, releases, backups, logs and alarms.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from .conftest import DEPLOY
from .template import load, role_policies

SSL_WARNING = "WARNING: this site is plain HTTP"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name])


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name]["Properties"])


def seconds(duration: str) -> int:
    """An ISO 8601 duration like PT30M or PT1H."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


# --- A first deploy ------------------------------------------------------------------


def test_a_failed_first_create_leaves_no_bucket_or_pool_behind(template: dict[str, Any]) -> None:
    for name in ("MediaBucket", "UserPool", "LogsBucket", "BackupVault"):
        assert resource(template, name)["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert resource(template, name)["UpdateReplacePolicy"] == "Retain", name
    assert resource(template, "Database")["DeletionPolicy"] == "Snapshot"
    # Every stateful resource states what happens to it (cfn-lint's I3011).
    assert not [
        name
        for name, r in template["Resources"].items()
        if r["Type"] in ("AWS::S3::Bucket", "AWS::RDS::DBInstance", "AWS::SecretsManager::Secret")
        and "DeletionPolicy" not in r
    ]


@pytest.mark.parametrize("name", ["Instance", "AutoScalingGroup"])
def test_instances_start_only_once_they_can_reach_the_internet(
    template: dict[str, Any], name: str
) -> None:
    depends = set(resource(template, name)["DependsOn"])
    assert {"PublicDefaultRoute", "PublicSubnetARoutes", "PublicSubnetBRoutes"} <= depends


def test_the_grace_period_covers_the_whole_first_boot(template: dict[str, Any]) -> None:
    group = resource(template, "AutoScalingGroup")
    boot = seconds(group["CreationPolicy"]["ResourceSignal"]["Timeout"])
    assert group["Properties"]["HealthCheckGracePeriod"] >= boot >= 1800
    single = seconds(resource(template, "Instance")["CreationPolicy"]["ResourceSignal"]["Timeout"])
    assert single == boot


def test_the_first_boot_builds_no_local_model_in_aws_mode() -> None:
    script = (DEPLOY / "bootstrap.sh").read_text()
    assert 'if [ "$(site_setting FINDLABELS_DETECTOR)" = local ]; then' in script


# --- Secure by default ---------------------------------------------------------------


def test_a_public_site_needs_tls_unless_plain_http_is_asked_for(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AllowPlainHttp"]["Default"] == "false"
    single = template["Rules"]["OneInstanceServesTls"]
    assert {"Fn::Equals": [{"Ref": "AllowPlainHttp"}, "false"]} in single["RuleCondition"][
        "Fn::And"
    ]
    assert json.dumps(single["Assertions"]).count('"Ref": "DomainName"') == 1
    assert json.dumps(single["Assertions"]).count('"Ref": "LetsEncryptEmail"') == 1
    balanced = template["Rules"]["LoadBalancerServesTls"]
    assert balanced["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]
    }
    warning = template["Outputs"]["PlainHttpWarning"]
    assert warning["Condition"] == "PlainHttpOnly"
    assert warning["Value"].startswith(SSL_WARNING)
    assert template["Conditions"]["PlainHttpOnly"] == {"Fn::Not": [{"Condition": "UseHttps"}]}


def test_the_stack_only_deploys_where_detect_labels_exists(template: dict[str, Any]) -> None:
    session = boto3.session.Session()
    offered = set(session.get_available_regions("rekognition")) | set(
        session.get_available_regions("rekognition", partition_name="aws-us-gov")
    )
    rule = template["Rules"]["RekognitionRegion"]
    regions, region = rule["Assertions"][0]["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert set(regions) == offered
    assert "RuleCondition" not in rule  # every stack, whatever its parameters
    # The load balancer's log delivery knows each of those Regions.
    assert set(template["Mappings"]["ElbLogDelivery"]) == offered


def test_cognito_can_send_through_ses(template: dict[str, Any]) -> None:
    email = props(template, "UserPool")["EmailConfiguration"]["Fn::If"]
    assert email[0] == "HasSesSender"
    assert email[1] == {
        "EmailSendingAccount": "DEVELOPER",
        "SourceArn": {"Ref": "SesIdentityArn"},
        "From": {"Ref": "SesFromAddress"},
    }
    assert email[2] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
    assert "SesSenderIsComplete" in template["Rules"]


# --- Routine events --------------------------------------------------------------------


def test_the_load_balancer_asks_only_for_liveness(template: dict[str, Any]) -> None:
    assert props(template, "TargetGroup")["HealthCheckPath"] == "/healthz/live"
    # The deep check feeds an alarm instead, from each instance's timer.
    unit = (DEPLOY / "findlabels-healthcheck.service").read_text()
    assert "http://127.0.0.1/healthz\n" in unit
    pattern = props(template, "DeepHealthFailureFilter")["FilterPattern"]
    assert pattern == '"findlabels-healthcheck.service: Failed"'
    alarm = props(template, "DeepHealthAlarm")
    assert alarm["MetricName"] == "DeepHealthFailures"


def test_releases_are_commits(template: dict[str, Any]) -> None:
    ref = template["Parameters"]["AppRef"]
    assert "Default" not in ref
    assert ref["AllowedPattern"] == "^[0-9a-f]{40}$"
    assert "--require-hashes" in (DEPLOY / "bootstrap.sh").read_text()


def test_the_database_is_protected_and_grows(template: dict[str, Any]) -> None:
    database = props(template, "Database")
    assert database["DeletionProtection"] == {"Ref": "DatabaseDeletionProtection"}
    assert template["Parameters"]["DatabaseDeletionProtection"]["Default"] == "true"
    assert database["MultiAZ"] == {"Ref": "DatabaseMultiAz"}
    assert database["MaxAllocatedStorage"] == {"Ref": "DatabaseMaxStorageGiB"}
    assert database["BackupRetentionPeriod"] >= 7


def test_deleted_photos_stay_restorable_for_30_days(template: dict[str, Any]) -> None:
    bucket = props(template, "MediaBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True
    # The app may delete a photo, never a version of it.
    role = resource(template, "InstanceRole")
    actions = json.dumps([p["PolicyDocument"] for p in role_policies(role)])
    assert "DeleteObjectVersion" not in actions and "PutBucketVersioning" not in actions


def test_aws_backup_takes_the_database_or_the_sqlite_disk(template: dict[str, Any]) -> None:
    selection = props(template, "BackupSelection")["BackupSelection"]
    (tag,) = selection["ListOfTags"]
    assert tag == {
        "ConditionType": "STRINGEQUALS",
        "ConditionKey": "findlabels-backup",
        "ConditionValue": {"Ref": "AWS::StackName"},
    }
    assert {"Key": "findlabels-backup", "Value": {"Ref": "AWS::StackName"}} in props(
        template, "Database"
    )["Tags"]
    data = props(template, "LaunchTemplate")["LaunchTemplateData"]
    (volume,) = [t for t in data["TagSpecifications"] if t["ResourceType"] == "volume"]
    assert {
        "Key": "findlabels-backup",
        "Value": {"Fn::If": ["UseSqlite", {"Ref": "AWS::StackName"}, "none"]},
    } in volume["Tags"]
    rule = props(template, "BackupPlan")["BackupPlan"]["BackupPlanRule"][0]
    assert rule["Lifecycle"]["DeleteAfterDays"] >= 30


def test_a_sqlite_instance_cannot_be_replaced_by_an_update() -> None:
    policy = json.loads((DEPLOY / "stack-policy.json").read_text())
    deny, allow = policy["Statement"]
    assert deny == {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["Update:Replace", "Update:Delete"],
        "Resource": "LogicalResourceId/Instance",
    }
    assert allow["Effect"] == "Allow" and allow["Action"] == "Update:*"


# --- Logs and alarms -------------------------------------------------------------------


def test_the_agent_ships_to_the_stacks_log_groups(template: dict[str, Any]) -> None:
    agent = json.loads((DEPLOY / "cloudwatch-agent.json").read_text())
    files = agent["logs"]["logs_collected"]["files"]["collect_list"]
    shipped = {f["file_path"]: f["log_group_name"] for f in files}
    assert set(shipped) >= {"/var/log/messages", "/var/log/nginx/access.log"}
    groups = {
        r["Properties"]["LogGroupName"]["Fn::Sub"].replace("${AWS::StackName}", "@STACK_NAME@")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    assert set(shipped.values()) == groups
    for r in template["Resources"].values():
        if r["Type"] == "AWS::Logs::LogGroup":
            assert r["Properties"]["RetentionInDays"] == 30
    # The agent's metrics land where the disk alarm looks.
    assert agent["metrics"]["namespace"] == "FindLabels/@STACK_NAME@"
    disk = props(template, "DiskAlarm")
    assert disk["Namespace"] == {"Fn::Sub": "FindLabels/${AWS::StackName}"}
    assert disk["Dimensions"] == [{"Name": "path", "Value": "/"}]
    assert ["path"] in agent["metrics"]["aggregation_dimensions"]


def test_alarms_watch_errors_hosts_cpu_disk_and_connections(template: dict[str, Any]) -> None:
    alarms = {
        r["Properties"]["MetricName"]: r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarms) == {
        "DeepHealthFailures",
        "ServerErrors",
        "HTTPCode_ELB_5XX_Count",
        "UnHealthyHostCount",
        "CPUUtilization",
        "disk_used_percent",
        "DatabaseConnections",
    }
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_load_balancer_access_logs_go_to_the_logs_bucket(template: dict[str, Any]) -> None:
    attributes = {
        a["Key"]: a["Value"] for a in props(template, "LoadBalancer")["LoadBalancerAttributes"]
    }
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "LogsBucket"}
    assert "LogsBucketPolicy" in resource(template, "LoadBalancer")["DependsOn"]
    statement = props(template, "LogsBucketPolicy")["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == {"Fn::Sub": "${LogsBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"}
