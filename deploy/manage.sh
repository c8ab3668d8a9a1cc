#!/usr/bin/env bash
# Run manage.py on an instance as the app's user, with the site's environment
# (the same files systemd gives the service), e.g.:
#
#   sudo /opt/findlabels/app/deploy/manage.sh createsuperuser
#   sudo /opt/findlabels/app/deploy/manage.sh detect_labels --all --missing-only
set -euo pipefail

[ "$(id -u)" = 0 ] || {
  echo "run me with sudo: I read /etc/findlabels/env, which only root may read" >&2
  exit 1
}
environment=()
for file in /etc/findlabels/env /etc/findlabels/env.local; do
  [ -f "$file" ] || continue
  while IFS= read -r line; do
    if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then environment+=("$line"); fi
  done <"$file"
done
exec runuser -u findlabels -- env -i PATH=/usr/bin:/bin HOME=/var/lib/findlabels LANG=C.UTF-8 \
  "${environment[@]}" /opt/findlabels/venv/bin/python /opt/findlabels/app/manage.py "$@"
