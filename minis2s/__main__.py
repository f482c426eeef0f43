import signal

from .cli import main

# guarded: a data-parallel worker (minis2s.parallel, started by "spawn") imports this module as
# __mp_main__ and must not run the command again
if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C landing after main handled the first: no traceback
        code = 130
    # the command is over: a late Ctrl-C must not turn the exit (atexit hooks) into a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(code)
