#!/usr/bin/env bash
# crash-campaign.sh — kill repli at random moments over the bundled runbooks
# (SIGKILL after a random number of events, or after a random delay), resume
# it with --take-over until every run ends, and print what the crashes cost:
# events lost, actions without outcome, commands run twice, resume refusals,
# runs not succeeded, verify failures — all must be 0. Then the held
# write-lock scenario (another process holds the trail's write lock ~7 s
# while 20 starts are in flight).
#
#   scripts/crash-campaign.sh                 100 cycles, a new seed
#   scripts/crash-campaign.sh -cycles 300 -seed 42 -dir /tmp/campaign
#
# The work is in internal/crashcampaign (Go: the trail is polled every few
# milliseconds to kill after the Nth event, and a command in doubt is
# answered from the console's own prompt); this script builds the binary and
# runs it. Exit status: 0 all figures zero, 1 some are not, 2 it could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build >/dev/null
exec go run ./internal/crashcampaign/cmd/crash-campaign -bin bin/repli -root . "$@"
