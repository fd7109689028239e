"""Child processes that test modules start early and whose results their tests collect later.

A module that defines ``BACKGROUND`` (a :class:`BackgroundRuns`) has it queued by the suite's
conftest once the tests are chosen (only if some of its chosen tests are marked ``slow``, as
every test that reads the runs must be), and its tests are run last. The queued runs go one
after the other on a single thread, so they take one spare core, never compete with each
other, and the later ones find the kernels the main process compiled meanwhile in numba's
on-disk cache instead of compiling them again.
"""
import atexit
import os
import signal
import subprocess
import threading

# the child processes running now, each the leader of its own process group: killed with
# their own children when the suite's process exits (a run stopped by -x or Ctrl-C included)
_RUNNING = set()


def _kill(process):
    """Kill ``process`` and its process group (the process alone where there are none)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        pass   # already gone


@atexit.register
def _stop_running():
    for process in list(_RUNNING):
        _kill(process)


def _run(args, timeout=None, **popen_kwargs):
    """``subprocess.run(args, capture_output=True, text=True, timeout=timeout, ...)``, with
    the child (and the processes it starts) in a process group of its own, killed if the
    suite exits first or the timeout passes."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, **popen_kwargs)
    _RUNNING.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.communicate()
        raise
    finally:
        _RUNNING.discard(process)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


class BackgroundRuns:
    """Named commands, each run as a child process with its output captured as text, one after
    the other; ``prepare()`` runs first."""

    def __init__(self, commands, prepare=lambda: None, **run_kwargs):
        self.commands = dict(commands)
        self.prepare = prepare
        self.run_kwargs = run_kwargs
        self._done = {name: threading.Event() for name in self.commands}
        self._results = {}
        self._claimed = False
        self._lock = threading.Lock()

    def _claim(self):
        """Whether this call is the first to ask for the runs (and so must run them)."""
        with self._lock:
            first, self._claimed = not self._claimed, True
        return first

    def _run_all(self):
        try:
            self.prepare()
        except Exception as error:  # re-raised by result(), in the test that needs the runs
            self._results = dict.fromkeys(self.commands, error)
        for name, args in self.commands.items():
            if name not in self._results:
                try:
                    self._results[name] = _run(args, **self.run_kwargs)
                except Exception as error:  # a timeout, a missing program
                    self._results[name] = error
            self._done[name].set()

    def result(self, name, timeout):
        """The CompletedProcess of command ``name``, waiting for it at most ``timeout`` seconds
        (and running the commands now if they were never queued)."""
        if self._claim():
            self._run_all()
        if not self._done[name].wait(timeout):
            raise TimeoutError(f"{name!r} did not finish within {timeout} s")
        result = self._results[name]
        if isinstance(result, Exception):
            raise result
        return result


# set while no queue of background runs is running
_IDLE = threading.Event()
_IDLE.set()


def start_one_after_another(queue):
    """Run the ``BackgroundRuns`` of ``queue``, in order, on one background thread."""
    claimed = [runs for runs in queue if runs._claim()]

    def run_queue():
        try:
            for runs in claimed:
                runs._run_all()
        finally:
            _IDLE.set()
    _IDLE.clear()
    threading.Thread(target=run_queue, daemon=True).start()


def wait_until_idle(timeout):
    """Wait (at most ``timeout`` seconds) until the queued background runs are all done:
    for tests whose threads must have both cores."""
    return _IDLE.wait(timeout)
