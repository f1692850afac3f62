#!/bin/sh
# count.sh STEP [COMMAND...] — the crash campaign's exec marker: appends
# "start STEP PID" to $CRASH_COUNTER (or the file named by the campaign in
# argv), runs COMMAND (or sleeps a moment, so that a kill can land while
# the command runs), then appends "end STEP PID". Two "end" lines for one
# step, or a "start" no intent was written for, is what the campaign counts.
set -u
counter=$1 step=$2
shift 2
echo "start $step $$" >>"$counter"
if [ $# -gt 0 ]; then
	"$@"
	rc=$?
else
	sleep 0.3
	rc=0
fi
echo "end $step $$" >>"$counter"
exit $rc
