#!/usr/bin/env bash
# Find the Labels: set up, or update, one web instance on Amazon Linux 2023.
#
#   sudo /opt/findlabels/app/deploy/bootstrap.sh                  # apply the saved settings
#   sudo APP_REF=<commit SHA> /opt/findlabels/app/deploy/bootstrap.sh   # deploy another version
#
# Settings come from /etc/findlabels/bootstrap.env, which the stack's first-boot
# script writes (deploy/cloudformation.yaml); a setting given in the environment
# wins over the file and is saved back, so later runs keep it.
#
# Idempotent: each step looks before it changes anything, files are written to
# a temporary name and moved into place only when their content differs, and
# services restart only when something they read has changed. A second run
# changes nothing.
#
# For tests: ROOT=/scratch puts every file this script writes under /scratch;
# DRY_RUN=1 prints, instead of running, every command that would change the
# system outside ROOT (dnf, useradd, git, pip, manage.py, systemctl, certbot,
# AWS calls); SKIP_PACKAGES=1 skips only dnf. In a dry run the commands that
# would run as the app's user are shown, and a harmless stand-in
# (DRY_RUN_PROBE, default `true`) is started with the site's environment
# exactly as they would be, so tests can watch what a process's command line
# shows; DRY_RUN_SECRET stands in for the secret key Secrets Manager holds.
#
# Secrets never go on a command line (anyone on the machine can read
# /proc/PID/cmdline): they travel in files and the environment only.
set -euo pipefail

readonly CONFIG_KEYS=(
  APP_REPOSITORY APP_REF AWS_REGION AWS_STORAGE_BUCKET_NAME
  COGNITO_USER_POOL_ID COGNITO_APP_CLIENT_ID DJANGO_SECRET_ARN
  DATABASE_ENGINE DATABASE_HOST DATABASE_PORT DATABASE_NAME DATABASE_USER DATABASE_SECRET_ARN
  DATABASE_INSTANCE_ID
  SITE_HOST DOMAIN_NAME LETSENCRYPT_EMAIL BEHIND_LOAD_BALANCER HTTPS_AT_LOAD_BALANCER
  INSTANCE_COUNT STACK_NAME ELASTIC_IP_ALLOCATION_ID DATABASE_APP_SECRET_ARN
)
readonly REQUIRED_KEYS=(
  APP_REPOSITORY APP_REF AWS_REGION AWS_STORAGE_BUCKET_NAME
  COGNITO_USER_POOL_ID COGNITO_APP_CLIENT_ID DJANGO_SECRET_ARN SITE_HOST STACK_NAME
)

ROOT=${ROOT:-}
ROOT=${ROOT%/}
DRY_RUN=${DRY_RUN:-0}
SKIP_PACKAGES=${SKIP_PACKAGES:-0}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Remembered now: the checkout below may replace this very file.
SCRIPT_SUM=$(sha256sum <"${BASH_SOURCE[0]}")

readonly APP_USER=findlabels
readonly PYTHON=python3.11
# rsyslog writes the journal to /var/log/messages, which the CloudWatch agent
# ships (the agent reads files, not the journal, and the journal dies with the instance).
readonly PACKAGES=(python3.11 python3.11-pip git nginx rsyslog amazon-cloudwatch-agent awscli-2)
readonly PREFIX=/opt/findlabels
readonly APP_DIR=$PREFIX/app
readonly VENV=$PREFIX/venv
readonly ETC_DIR=/etc/findlabels
readonly VAR_DIR=/var/lib/findlabels
readonly ACME_DIR=/var/www/acme
readonly CERTBOT_VENV=/opt/certbot
readonly UNIT_DIR=/etc/systemd/system
readonly NGINX_SITE=/etc/nginx/conf.d/findlabels.conf
readonly NGINX_INSTANCE=/etc/nginx/findlabels/instance.conf
readonly CLOUDWATCH_CONFIG=/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
# Amazon RDS's certificate authorities, so libpq can check the server it
# reaches really is the stack's database (sslmode=verify-full).
readonly RDS_CA_BUNDLE=/etc/findlabels/rds-ca-bundle.pem
readonly RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
readonly GUNICORN_BIND=127.0.0.1:8000
# The app's PostgreSQL role (the template's DatabaseAppSecret names it);
# DATABASE_USER, the RDS master user, only migrates.
readonly APP_DATABASE_USER=findlabels_app
# Values go unquoted into systemd's EnvironmentFile and nginx's config.
readonly SAFE_VALUE='^[^[:space:]"'\''`$\\]*$'

# What changed in this run, to restart only what must be restarted. A run
# that hands over to a newer bootstrap.sh passes on what it already changed.
APP_CHANGED=${FINDLABELS_APP_CHANGED:-0}
NGINX_CHANGED=0
UNITS_CHANGED=0
CLOUDWATCH_CHANGED=0

log() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}
dry() { [ "$DRY_RUN" = 1 ]; }

# Run a command that changes the system outside ROOT, or show it in a dry run.
run() {
  if dry; then
    printf '[dry-run]'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# --- Files ------------------------------------------------------------------------

# ensure_owner_mode PATH OWNER:GROUP MODE
ensure_owner_mode() {
  local path=$1 owner=$2 mode=$3
  [ "$(stat -c %a "$path")" = "$mode" ] || chmod "$mode" "$path"
  [ "$(stat -c %U:%G "$path")" = "$owner" ] || run chown "$owner" "$path"
}

# ensure_dir PATH OWNER:GROUP MODE
ensure_dir() {
  local path=$ROOT$1
  [ -d "$path" ] || mkdir -p "$path"
  ensure_owner_mode "$path" "$2" "$3"
}

# put_file PATH OWNER:GROUP MODE < content
# Writes stdin to PATH (under ROOT) only when it differs from what is there,
# and sets FILE_CHANGED to 1 when it did, 0 when the file was already right.
# (A status code would be tidier, but `set -e` does not act inside a function
# called as an `if` condition.)
FILE_CHANGED=0
put_file() {
  local path=$ROOT$1 owner=$2 mode=$3 tmp
  FILE_CHANGED=0
  mkdir -p "$(dirname "$path")"
  # mktemp makes the file 0600: a secret is never readable while half-written.
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    ensure_owner_mode "$path" "$owner" "$mode"
    return
  fi
  chmod "$mode" "$tmp"
  ensure_owner_mode "$tmp" "$owner" "$mode"
  mv -f "$tmp" "$path"
  FILE_CHANGED=1
  log "wrote $1"
}

# --- Settings ---------------------------------------------------------------------

is_config_key() {
  local key
  for key in "${CONFIG_KEYS[@]}"; do
    [ "$key" = "$1" ] && return 0
  done
  return 1
}

# Read KEY=VALUE lines without running them as shell code; the environment wins.
load_config() {
  local file=$ROOT$ETC_DIR/bootstrap.env line key
  [ -f "$file" ] || die "$ETC_DIR/bootstrap.env is missing (the stack's first-boot script writes it)."
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    key=${line%%=*}
    if is_config_key "$key" && [ -z "${!key+set}" ]; then
      printf -v "$key" '%s' "${line#*=}"
    fi
  done <"$file"
}

check_config() {
  local key
  : "${DATABASE_ENGINE:=sqlite}" "${DATABASE_NAME:=findlabels}" "${DATABASE_USER:=findlabels}"
  : "${DATABASE_PORT:=5432}" "${DATABASE_HOST:=}" "${DATABASE_SECRET_ARN:=}"
  : "${DOMAIN_NAME:=}" "${LETSENCRYPT_EMAIL:=}"
  : "${BEHIND_LOAD_BALANCER:=0}" "${HTTPS_AT_LOAD_BALANCER:=0}" "${DATABASE_INSTANCE_ID:=}"
  : "${INSTANCE_COUNT:=1}" "${ELASTIC_IP_ALLOCATION_ID:=}" "${DATABASE_APP_SECRET_ARN:=}"
  for key in "${REQUIRED_KEYS[@]}"; do
    [ -n "${!key:-}" ] || die "$key is not set (in $ETC_DIR/bootstrap.env or the environment)."
  done
  for key in "${CONFIG_KEYS[@]}"; do
    [[ ${!key} =~ $SAFE_VALUE ]] || die "$key holds a space, quote, backslash or \$: ${!key}"
  done
  # A branch or a tag moves: every replacement instance would boot other code
  # and migrate the shared database. A commit is the same code every time.
  [[ $APP_REF =~ ^[0-9a-f]{40}$ ]] ||
    die "APP_REF must be a full 40-character commit SHA (git rev-parse v1.4), not $APP_REF."
  [[ $INSTANCE_COUNT =~ ^[1-9][0-9]*$ ]] || die "INSTANCE_COUNT must be a whole number, not $INSTANCE_COUNT."
  case $DATABASE_ENGINE in
    sqlite) ;;
    postgres)
      if [ -z "$DATABASE_HOST" ] || [ -z "$DATABASE_SECRET_ARN" ] || [ -z "$DATABASE_APP_SECRET_ARN" ]; then
        die "DATABASE_ENGINE=postgres needs DATABASE_HOST, DATABASE_SECRET_ARN and DATABASE_APP_SECRET_ARN."
      fi
      ;;
    *) die "DATABASE_ENGINE must be sqlite or postgres, not $DATABASE_ENGINE." ;;
  esac
  [ "$BEHIND_LOAD_BALANCER" = 0 ] || [ "$DATABASE_ENGINE" = postgres ] ||
    die "Behind a load balancer every instance must share one database: use postgres."
}

save_config() {
  local key
  for key in "${CONFIG_KEYS[@]}"; do
    printf '%s=%s\n' "$key" "${!key}"
  done | put_file "$ETC_DIR/bootstrap.env" root:root 600
}

# --- System -----------------------------------------------------------------------

install_packages() {
  local package missing=()
  if [ "$SKIP_PACKAGES" = 1 ]; then
    log "skipping packages (SKIP_PACKAGES=1)"
    return
  fi
  for package in "${PACKAGES[@]}"; do
    if dry || ! rpm -q "$package" >/dev/null 2>&1; then missing+=("$package"); fi
  done
  [ ${#missing[@]} -eq 0 ] || run dnf install -y --quiet "${missing[@]}"
}

nginx_user() {
  local user
  for user in nginx www-data; do
    if id -u "$user" >/dev/null 2>&1; then
      printf '%s' "$user"
      return
    fi
  done
}

ensure_user() {
  local web
  id -u "$APP_USER" >/dev/null 2>&1 ||
    run useradd --system --user-group --home-dir "$VAR_DIR" --no-create-home \
      --shell /sbin/nologin "$APP_USER"
  # nginx reads what the app writes (static files, and local media through
  # X-Accel-Redirect) through the app's group; the app's files stay 0640.
  web=$(nginx_user)
  if [ -n "$web" ] && [[ " $(id -nG "$web") " != *" $APP_USER "* ]]; then
    run usermod -a -G "$APP_USER" "$web"
  fi
}

ensure_directories() {
  ensure_dir "$PREFIX" root:root 755
  ensure_dir "$ETC_DIR" root:root 755
  ensure_dir "$VAR_DIR" "$APP_USER:$APP_USER" 750
  ensure_dir "$VAR_DIR/static" "$APP_USER:$APP_USER" 755
  ensure_dir "$VAR_DIR/media" "$APP_USER:$APP_USER" 750
  ensure_dir "$VAR_DIR/models" "$APP_USER:$APP_USER" 750
  # SQLite also writes journal files beside the database: a folder of its own.
  ensure_dir "$VAR_DIR/db" "$APP_USER:$APP_USER" 700
  # Copies of the SQLite database taken before each migration (deploy/migrate.py).
  ensure_dir "$VAR_DIR/backups" "$APP_USER:$APP_USER" 700
  # Uploads spool here, on the disk: /tmp is a RAM tmpfs on Amazon Linux 2023.
  ensure_dir "$VAR_DIR/tmp" "$APP_USER:$APP_USER" 700
  ensure_dir "$ACME_DIR" root:root 755
}

# --- Code -----------------------------------------------------------------------------

checkout_app() {
  local target current
  if dry; then
    run git clone --quiet "$APP_REPOSITORY" "$APP_DIR"
    run git -C "$APP_DIR" fetch --quiet --tags origin "$APP_REF"
    return
  fi
  if [ ! -d "$ROOT$APP_DIR/.git" ]; then
    git clone --quiet "$APP_REPOSITORY" "$ROOT$APP_DIR"
  fi
  if [ "$(git -C "$ROOT$APP_DIR" remote get-url origin)" != "$APP_REPOSITORY" ]; then
    git -C "$ROOT$APP_DIR" remote set-url origin "$APP_REPOSITORY"
  fi
  git -C "$ROOT$APP_DIR" fetch --quiet --tags origin "$APP_REF"
  target=$(git -C "$ROOT$APP_DIR" rev-parse 'FETCH_HEAD^{commit}')
  current=$(git -C "$ROOT$APP_DIR" rev-parse HEAD)
  if [ "$target" != "$current" ] || [ -n "$(git -C "$ROOT$APP_DIR" status --porcelain --untracked-files=no)" ]; then
    git -C "$ROOT$APP_DIR" -c advice.detachedHead=false checkout --quiet --force --detach "$target"
    log "app at $APP_REF ($target)"
    APP_CHANGED=1
  fi
}

# The ref just checked out may bring a newer version of this script: run that one.
reexec_if_newer() {
  local checked_out=$ROOT$APP_DIR/deploy/bootstrap.sh
  if [ "${FINDLABELS_BOOTSTRAP_REEXEC:-0}" != 1 ] && [ -f "$checked_out" ] &&
    [ "$(sha256sum <"$checked_out")" != "$SCRIPT_SUM" ]; then
    log "continuing with the bootstrap.sh of $APP_REF"
    export "${CONFIG_KEYS[@]}"
    FINDLABELS_BOOTSTRAP_REEXEC=1 FINDLABELS_APP_CHANGED=$APP_CHANGED exec bash "$checked_out"
  fi
}

# Templates (unit files, nginx site) come from the checked-out app when there is one.
deploy_dir() {
  if [ -d "$ROOT$APP_DIR/deploy" ]; then
    printf '%s' "$ROOT$APP_DIR/deploy"
  else
    printf '%s' "$SCRIPT_DIR"
  fi
}

# The exact packages of deploy/requirements.lock (`make lock`), each checked
# against its sha256: every instance of a release runs the same bytes.
pip_install_locked() {
  run "$VENV/bin/pip" install --quiet --require-hashes --no-deps \
    -r "$APP_DIR/deploy/requirements.lock"
}

ensure_venv() {
  local wanted have stamp=$VENV/.findlabels-requirements
  if dry; then
    run "$PYTHON" -m venv "$VENV"
    pip_install_locked
    return
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    APP_CHANGED=1
  fi
  # The app runs from its checkout (pyproject installs no packages, only the
  # dependencies), so pip has work to do only when the lock changes.
  wanted=$(sha256sum "$APP_DIR/deploy/requirements.lock" | cut -d' ' -f1)
  have=$(cat "$stamp" 2>/dev/null || true)
  if [ "$wanted" != "$have" ]; then
    pip_install_locked
    printf '%s\n' "$wanted" >"$stamp"
    APP_CHANGED=1
  fi
}

# --- The site's environment -----------------------------------------------------

secret_value() {
  if dry; then
    run "$VENV/bin/python" "$APP_DIR/deploy/aws_secrets.py" secret --region "$AWS_REGION" "$1" >&2
    printf '%s' "${DRY_RUN_SECRET:-DryRunPlaceholderNotASecret}"
    return
  fi
  "$VENV/bin/python" "$APP_DIR/deploy/aws_secrets.py" secret --region "$AWS_REGION" "$1"
}

# One item of the instance's metadata (IMDSv2), or nothing.
instance_metadata() {
  local token
  token=$(curl -fsS --max-time 3 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token) || return 0
  curl -fsS --max-time 3 -H "X-aws-ec2-metadata-token: $token" \
    "http://169.254.169.254/latest/meta-data/$1" || true
}

# The instance's private address: a load balancer's health checks use it as Host.
private_address() {
  if dry; then
    printf '%s' "${PRIVATE_ADDRESS:-}"
    return
  fi
  instance_metadata local-ipv4
}

# One instance: take the stack's Elastic IP (SITE_HOST) once the site answers,
# so that Let's Encrypt's challenge, right after, reaches this instance. A
# replacement instance takes it over from the old one only when it is ready.
claim_address() {
  local instance
  [ -n "$ELASTIC_IP_ALLOCATION_ID" ] || return 0
  if dry; then
    run aws ec2 associate-address --region "$AWS_REGION" --allocation-id "$ELASTIC_IP_ALLOCATION_ID" \
      --instance-id "${INSTANCE_ID:-i-0dryrun}" --allow-reassociation
    return
  fi
  [ "$(instance_metadata public-ipv4)" != "$SITE_HOST" ] || return 0
  instance=$(instance_metadata instance-id)
  [ -n "$instance" ] || die "no instance id from the metadata service: cannot claim $SITE_HOST"
  aws ec2 associate-address --region "$AWS_REGION" --allocation-id "$ELASTIC_IP_ALLOCATION_ID" \
    --instance-id "$instance" --allow-reassociation --output text >/dev/null
  log "this instance now answers at $SITE_HOST"
}

certificate_dir() { printf '%s' "/etc/letsencrypt/live/$DOMAIN_NAME"; }
wants_letsencrypt() { [ "$BEHIND_LOAD_BALANCER" = 0 ] && [ -n "$DOMAIN_NAME" ] && [ -n "$LETSENCRYPT_EMAIL" ]; }
has_certificate() { wants_letsencrypt && [ -f "$ROOT$(certificate_dir)/fullchain.pem" ]; }
uses_https() { [ "$HTTPS_AT_LOAD_BALANCER" = 1 ] || has_certificate; }

write_env() {
  local secret_key hosts=() origins=() host scheme=http https=0 address
  secret_key=$(secret_value "$DJANGO_SECRET_ARN")
  [[ $secret_key =~ ^[A-Za-z0-9]+$ ]] || die "The Django secret key must be letters and digits only."
  if uses_https; then
    scheme=https
    https=1
  fi
  [ -z "$DOMAIN_NAME" ] || hosts+=("$DOMAIN_NAME")
  hosts+=("$SITE_HOST")
  for host in "${hosts[@]}"; do origins+=("$scheme://$host"); done
  if [ "$BEHIND_LOAD_BALANCER" = 1 ]; then
    address=$(private_address)
    if [ -n "$address" ]; then hosts+=("$address"); else warn "no private address: health checks will fail"; fi
  fi
  # FINDLABELS_ACCEL_REDIRECT_PREFIX only matters with local media storage:
  # unused with S3, it lets an env.local with FINDLABELS_STORAGE=local have
  # nginx send the files (deploy/nginx.conf's /protected-media/).
  put_file "$ETC_DIR/env" root:root 600 < <(
    printf '%s\n' \
      "# Written by deploy/bootstrap.sh from $ETC_DIR/bootstrap.env; changes here are overwritten." \
      "# Put settings of your own (EMAIL_HOST...) in $ETC_DIR/env.local." \
      FINDLABELS_MODE=aws \
      "AWS_REGION=$AWS_REGION" \
      "AWS_STORAGE_BUCKET_NAME=$AWS_STORAGE_BUCKET_NAME" \
      "COGNITO_USER_POOL_ID=$COGNITO_USER_POOL_ID" \
      "COGNITO_APP_CLIENT_ID=$COGNITO_APP_CLIENT_ID" \
      "DJANGO_SECRET_KEY=$secret_key" \
      "DJANGO_ALLOWED_HOSTS=$(IFS=,; printf '%s' "${hosts[*]}")" \
      "DJANGO_CSRF_TRUSTED_ORIGINS=$(IFS=,; printf '%s' "${origins[*]}")" \
      DJANGO_BEHIND_PROXY=1 \
      "DJANGO_HTTPS=$https" \
      "DJANGO_STATIC_ROOT=$VAR_DIR/static" \
      "FINDLABELS_VAR_DIR=$VAR_DIR" \
      "FINDLABELS_MODEL_CACHE_DIR=$VAR_DIR/models" \
      "FINDLABELS_ACCEL_REDIRECT_PREFIX=/protected-media/" \
      "FINDLABELS_UPLOAD_TEMP_DIR=$VAR_DIR/tmp" \
      "GUNICORN_BIND=$GUNICORN_BIND"
    if [ "$DATABASE_ENGINE" = postgres ]; then
      # No password here: libpq reads it from PGPASSFILE at each new connection,
      # and findlabels-db-credentials.timer keeps that file current when RDS
      # rotates the password. verify-full: the server's certificate must be
      # signed by RDS's authority and name DATABASE_HOST.
      printf '%s\n' \
        "DATABASE_URL=$(database_url "$APP_DATABASE_USER")" \
        "DATABASE_CONN_MAX_AGE=$(conn_max_age)" \
        "DATABASE_INSTANCE_ID=$DATABASE_INSTANCE_ID" \
        "PGPASSFILE=$VAR_DIR/pgpass" \
        "DATABASE_SECRET_ARN=$DATABASE_APP_SECRET_ARN"
    else
      printf '%s\n' "DATABASE_URL=sqlite:///$VAR_DIR/db/db.sqlite3"
    fi
  )
  [ "$FILE_CHANGED" = 0 ] || APP_CHANGED=1
}

database_url() {
  printf '%s' "postgres://$1@$DATABASE_HOST:$DATABASE_PORT/$DATABASE_NAME?sslmode=verify-full&sslrootcert=$RDS_CA_BUNDLE"
}

# Each gunicorn thread keeps a connection for DATABASE_CONN_MAX_AGE seconds.
# One instance: keep them (3 workers x 4 threads on a t3.small is 12). A fleet:
# a connection per request, so the database sees only requests in flight, not
# every idle thread of up to 20 instances (a db.t4g.micro allows about 80).
conn_max_age() {
  if [ "$INSTANCE_COUNT" -gt 1 ]; then printf 0; else printf 60; fi
}

# The site's settings as systemd gives them to the service: env, then env.local.
site_env_lines() {
  local file line
  for file in "$ETC_DIR/env" "$ETC_DIR/env.local"; do
    [ -f "$ROOT$file" ] || continue
    while IFS= read -r line; do
      if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then printf '%s\n' "$line"; fi
    done <"$ROOT$file"
  done
}

# The last value a site setting has (env.local wins), or empty.
site_setting() {
  local line value=""
  while IFS= read -r line; do
    [[ $line != "$1="* ]] || value=${line#*=}
  done < <(site_env_lines)
  printf '%s' "$value"
}

# Run a command with exactly the site's environment, as `env -i NAME=VALUE...`
# would, but without the values on any command line: a fresh shell reads them
# from a pipe (fd 3) and exports them (a builtin), so the secret key never
# shows in a process's argv.
with_site_env() {
  # shellcheck disable=SC2016 # expanded by the inner shell, on purpose
  env -i PATH=/usr/bin:/bin HOME="$VAR_DIR" LANG=C.UTF-8 bash --norc --noprofile -c '
    while IFS= read -r line; do export "${line?}"; done <&3
    exec 3<&-
    exec "$@"' site-env "$@" 3< <(site_env_lines)
}

# Run a command as the app's user with the site's environment (as systemd would).
# runuser keeps the environment it is given (it sets only HOME, SHELL, USER, LOGNAME).
as_app() {
  local runuser
  if dry; then
    run runuser -u "$APP_USER" -- "$@"
    # The same hand-over, the same arguments, a harmless program for runuser.
    runuser=${DRY_RUN_PROBE:-true}
  else
    # By its full path: it lives in /usr/sbin, outside the PATH the site's
    # environment gets.
    runuser=$(command -v runuser) || die "runuser (util-linux) is not installed."
  fi
  with_site_env "$runuser" -u "$APP_USER" -- "$@"
}

# Run a command as root with the site's environment, the database's master
# user in place of the app's: its password file is root's alone, so the app
# (and anything that takes it over) never holds the right to change tables.
as_database_owner() {
  local -a owner=(
    env "DATABASE_URL=$(database_url "$DATABASE_USER")" "DATABASE_SECRET_ARN=$DATABASE_SECRET_ARN"
    "PGPASSFILE=$ETC_DIR/pgpass-admin" "DATABASE_APP_SECRET_ARN=$DATABASE_APP_SECRET_ARN"
    PYTHONDONTWRITEBYTECODE=1
  )
  if dry; then
    run "${owner[@]}" "$@"
    with_site_env "${DRY_RUN_PROBE:-true}" "${owner[@]}" "$@"
    return
  fi
  with_site_env "${owner[@]}" "$@"
}

# libpq checks the RDS server's certificate against this bundle.
ensure_rds_ca_bundle() {
  [ "$DATABASE_ENGINE" = postgres ] || return 0
  if dry; then
    run curl -fsS --max-time 30 -o "$RDS_CA_BUNDLE" "$RDS_CA_URL"
    return
  fi
  [ -s "$RDS_CA_BUNDLE" ] && return 0
  curl -fsS --max-time 30 --retry 5 -o "$RDS_CA_BUNDLE.tmp" "$RDS_CA_URL"
  grep -q 'BEGIN CERTIFICATE' "$RDS_CA_BUNDLE.tmp" || die "$RDS_CA_URL is not a certificate bundle."
  chmod 644 "$RDS_CA_BUNDLE.tmp"
  mv -f "$RDS_CA_BUNDLE.tmp" "$RDS_CA_BUNDLE"
}

prepare_app() {
  ensure_rds_ca_bundle
  # Several instances may boot at once: migrate.py takes a lock in PostgreSQL,
  # snapshots the database when there is something to migrate, migrates,
  # creates the cache table and grants the app's role its rows, under that lock.
  if [ "$DATABASE_ENGINE" = postgres ]; then
    as_database_owner "$VENV/bin/python" "$APP_DIR/deploy/aws_secrets.py" pgpass
    as_database_owner "$VENV/bin/python" "$APP_DIR/deploy/migrate.py"
    as_app "$VENV/bin/python" "$APP_DIR/deploy/aws_secrets.py" pgpass
  else
    as_app "$VENV/bin/python" "$APP_DIR/deploy/migrate.py"
  fi
  as_app "$VENV/bin/python" "$APP_DIR/manage.py" collectstatic --noinput --verbosity 0
  # AWS mode's engine is Rekognition: the on-box model (minutes of work on the
  # first boot) only when env.local chooses FINDLABELS_DETECTOR=local.
  if [ "$(site_setting FINDLABELS_DETECTOR)" = local ]; then
    as_app "$VENV/bin/python" "$APP_DIR/manage.py" prepare_model ||
      warn "the on-box label model could not be prepared: Detect will say so"
  fi
}

# --- Services --------------------------------------------------------------------

install_unit() {
  local name=$1
  put_file "$UNIT_DIR/$name" root:root 644 <"$(deploy_dir)/$name"
  if [ "$FILE_CHANGED" = 1 ]; then
    UNITS_CHANGED=1
    [[ $name != findlabels.service ]] || APP_CHANGED=1
  fi
}

install_units() {
  install_unit findlabels.service
  install_unit findlabels-sweep-media.service
  install_unit findlabels-sweep-media.timer
  install_unit findlabels-healthcheck.service
  install_unit findlabels-healthcheck.timer
  if [ "$DATABASE_ENGINE" = postgres ]; then
    install_unit findlabels-db-credentials.service
    install_unit findlabels-db-credentials.timer
  fi
  if wants_letsencrypt; then
    install_unit findlabels-certbot-renew.service
    install_unit findlabels-certbot-renew.timer
    install_unit findlabels-certificate.service
    install_unit findlabels-certificate.timer
  fi
}

# The CloudWatch agent ships the journal (through rsyslog's /var/log/messages),
# nginx's logs and the first boot's output to this stack's log groups, and
# measures disk and memory for the alarms.
write_cloudwatch_agent() {
  put_file "$CLOUDWATCH_CONFIG" root:root 644 < <(
    sed "s/@STACK_NAME@/$STACK_NAME/g" "$(deploy_dir)/cloudwatch-agent.json"
  )
  CLOUDWATCH_CHANGED=$FILE_CHANGED
}

# nginx.conf is the same everywhere; what differs per stack (the bucket's
# address for the CSP, the certificate) goes into instance.conf.
write_nginx() {
  local bucket_origins
  bucket_origins="https://$AWS_STORAGE_BUCKET_NAME.s3.amazonaws.com https://$AWS_STORAGE_BUCKET_NAME.s3.$AWS_REGION.amazonaws.com"
  put_file "$NGINX_SITE" root:root 644 <"$(deploy_dir)/nginx.conf"
  [ "$FILE_CHANGED" = 0 ] || NGINX_CHANGED=1
  put_file "$NGINX_INSTANCE" root:root 644 < <(
    printf '%s\n' \
      "# Written by deploy/bootstrap.sh: this stack's part of $NGINX_SITE." \
      "# Presigned photo URLs point at the bucket; the CSP must let <img> load them." \
      "set \$findlabels_media_origins \"$bucket_origins\";"
    if has_certificate; then
      printf '%s\n' \
        "listen 443 ssl;" \
        "listen [::]:443 ssl;" \
        "ssl_certificate $(certificate_dir)/fullchain.pem;" \
        "ssl_certificate_key $(certificate_dir)/privkey.pem;" \
        "ssl_protocols TLSv1.2 TLSv1.3;" \
        "ssl_session_cache shared:findlabels_tls:10m;" \
        "ssl_session_timeout 1d;"
    fi
  )
  [ "$FILE_CHANGED" = 0 ] || NGINX_CHANGED=1
}

start_services() {
  [ "$UNITS_CHANGED" = 0 ] || run systemctl daemon-reload
  run systemctl enable --quiet findlabels.service nginx.service
  if [ "$APP_CHANGED" = 1 ]; then
    run systemctl restart findlabels.service
  else
    run systemctl start findlabels.service
  fi
  run nginx -t -q
  if [ "$NGINX_CHANGED" = 1 ]; then
    run systemctl reload-or-restart nginx.service
  else
    run systemctl start nginx.service
  fi
  if [ "$DATABASE_ENGINE" = postgres ]; then
    run systemctl enable --quiet --now findlabels-db-credentials.timer
  fi
  run systemctl enable --quiet --now findlabels-sweep-media.timer findlabels-healthcheck.timer
  if wants_letsencrypt; then
    run systemctl enable --quiet --now findlabels-certbot-renew.timer
    if has_certificate; then
      run systemctl disable --quiet --now findlabels-certificate.timer
    else
      run systemctl enable --quiet --now findlabels-certificate.timer
    fi
  fi
  run systemctl enable --quiet --now rsyslog.service
  if [ "$CLOUDWATCH_CHANGED" = 1 ]; then
    run /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 \
      -s -c "file:$CLOUDWATCH_CONFIG"
  fi
}

# The site answers through nginx, as a visitor would reach it.
wait_until_healthy() {
  local attempt
  if dry; then
    run curl -fsS -H "Host: $SITE_HOST" http://127.0.0.1/healthz
    return
  fi
  for attempt in $(seq 1 30); do
    if curl -fsS --max-time 5 -o /dev/null -H "Host: $SITE_HOST" http://127.0.0.1/healthz; then
      log "the site answers"
      return
    fi
    sleep 2
  done
  die "the site did not answer /healthz after $attempt tries: journalctl -u findlabels"
}

# One instance with a domain gets a Let's Encrypt certificate once DNS points at it.
obtain_certificate() {
  local certbot=$CERTBOT_VENV/bin/certbot
  if ! wants_letsencrypt || has_certificate; then return 1; fi
  if dry; then
    run "$certbot" certonly --webroot -w "$ACME_DIR" -d "$DOMAIN_NAME" \
      --email "$LETSENCRYPT_EMAIL" --agree-tos --non-interactive --no-eff-email
    return 1
  fi
  # Called as an `if` condition, so `set -e` is off here: every failure is handled.
  if [ ! -x "$certbot" ]; then
    if ! { "$PYTHON" -m venv "$CERTBOT_VENV" && "$CERTBOT_VENV/bin/pip" install --quiet certbot; }; then
      warn "Could not install certbot; the site stays on HTTP."
      return 1
    fi
  fi
  if "$certbot" certonly --webroot -w "$ACME_DIR" -d "$DOMAIN_NAME" \
    --email "$LETSENCRYPT_EMAIL" --agree-tos --non-interactive --no-eff-email; then
    return 0
  fi
  warn "No certificate for $DOMAIN_NAME yet: point its DNS at $SITE_HOST, then run this script again. The site stays on HTTP until then."
  return 1
}

configure_site() {
  write_env
  install_units
  write_nginx
  write_cloudwatch_agent
  prepare_app
  start_services
  wait_until_healthy
}

main() {
  [ "$(id -u)" = 0 ] || dry || die "run me as root (sudo)."
  [ -z "$ROOT" ] || dry || die "ROOT is for dry runs (DRY_RUN=1): the venv and services cannot live under it."
  umask 022
  load_config
  check_config
  # One run at a time (the certificate timer runs this script too); a run
  # that hands over to a newer bootstrap.sh passes its lock on.
  if ! dry && [ "${FINDLABELS_BOOTSTRAP_REEXEC:-0}" != 1 ]; then
    exec 9>/run/findlabels-bootstrap.lock
    flock 9
  fi
  log "Find the Labels $APP_REF ($DATABASE_ENGINE) for $SITE_HOST${ROOT:+ under $ROOT}$(dry && printf ', dry run')"
  install_packages
  ensure_user
  ensure_directories
  checkout_app
  reexec_if_newer
  save_config
  ensure_venv
  configure_site
  claim_address
  if obtain_certificate; then
    log "certificate for $DOMAIN_NAME obtained: switching to HTTPS"
    configure_site
  fi
  log "done"
}

# Sourced (as the tests do), it only defines the functions above.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
  exit
fi
