#!/usr/bin/env bash
# Run manage.py on an instance as the app's user, with the site's environment
# (the same files systemd gives the service), e.g.:
#
#   sudo /opt/findlabels/app/deploy/manage.sh createsuperuser
#   sudo /opt/findlabels/app/deploy/manage.sh detect_labels --all --missing-only
#
# The settings travel through a pipe and the environment, never on a command
# line: anyone on the machine can read /proc/PID/cmdline, and env holds the
# secret key (the same hand-over as bootstrap.sh's with_site_env).
set -euo pipefail

[ "$(id -u)" = 0 ] || {
  echo "run me with sudo: I read /etc/findlabels/env, which only root may read" >&2
  exit 1
}
site_env_lines() {
  local file line
  for file in /etc/findlabels/env /etc/findlabels/env.local; do
    [ -f "$file" ] || continue
    while IFS= read -r line; do
      if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then printf '%s\n' "$line"; fi
    done <"$file"
  done
}
# By its full path: runuser is in /usr/sbin, outside the PATH given below.
runuser=$(command -v runuser)
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
exec env -i PATH=/usr/bin:/bin HOME=/var/lib/findlabels LANG=C.UTF-8 bash --norc --noprofile -c '
  while IFS= read -r line; do export "${line?}"; done <&3
  exec 3<&-
  exec "$@"' site-env "$runuser" -u findlabels -- /opt/findlabels/venv/bin/python \
  /opt/findlabels/app/manage.py "$@" 3< <(site_env_lines)
