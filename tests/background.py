"""Child processes that test modules start early and whose results their tests collect later.

A module that defines ``BACKGROUND`` (a :class:`BackgroundRuns`) has it queued by the suite's
conftest once the tests are chosen (only if some of its chosen tests are marked ``slow``, as
every test that reads the runs must be), and its tests are run last. The queued runs go one
after the other on a single thread, so they take one spare core, never compete with each
other, and the later ones find the kernels the main process compiled meanwhile in numba's
on-disk cache instead of compiling them again.
"""
import subprocess
import threading


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
                    self._results[name] = subprocess.run(args, capture_output=True, text=True,
                                                         **self.run_kwargs)
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


def start_one_after_another(queue):
    """Run the ``BackgroundRuns`` of ``queue``, in order, on one background thread."""
    claimed = [runs for runs in queue if runs._claim()]

    def run_queue():
        for runs in claimed:
            runs._run_all()
    threading.Thread(target=run_queue, daemon=True).start()
