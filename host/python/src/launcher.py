# Starts the Python bridge (bridge.py, passed as the first argument) if this Python can run
# it. Kept to what every Python reads, 2.7 included, so that too old an interpreter is told
# in the host's words rather than with a syntax error.
import json
import sys

if sys.version_info < (3, 8):
    error = (
        "Python hooks need Python 3.8 or newer with ftrack_api; %s (%s) is too old "
        "(set FTRACK_CONNECT_PYTHON to a newer interpreter)"
        % (sys.executable or "python", sys.version.split()[0])
    )
    answer = {"Done": {"conv": 0, "answer": {"Failed": {"error": error}}}}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    sys.exit(0)

# `python -c` puts the working folder first on the path: its files must not stand in for
# the modules the bridge imports.
if sys.path and sys.path[0] == "":
    sys.path.pop(0)
source = sys.argv.pop(1)
exec(compile(source, "<ftrack-connect bridge>", "exec"))
