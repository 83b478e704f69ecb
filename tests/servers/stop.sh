#!/usr/bin/env bash
# Stops what start.sh started in DIR. The directory stays, for its logs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=${1:?usage: stop.sh DIR}
[ -f "$D/ports" ] || exit 0
"$here/control.sh" "$D" stop-smtp
"$here/control.sh" "$D" stop-imap
