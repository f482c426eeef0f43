import signal

from .cli import main

try:
    code = main()
except KeyboardInterrupt:  # a second Ctrl-C landing after main handled the first: no traceback
    code = 130
# the command is over: a late Ctrl-C must not turn the exit (atexit hooks) into a traceback
signal.signal(signal.SIGINT, signal.SIG_IGN)
raise SystemExit(code)
