"""A child process that a test module starts early and whose result a test collects later.

A module that defines ``start_in_background()`` has it called by the suite's conftest once the
tests are chosen (only if some of its tests were chosen), and its tests are run last: the child
runs on a spare core meanwhile instead of holding up the suite.
"""
import subprocess
import threading


class BackgroundRun:
    """``args`` run as a child process, started at most once, its output captured as text."""

    def __init__(self, args, **popen_kwargs):
        self.args = args
        self.popen_kwargs = popen_kwargs
        self._child = None

    def start(self):
        """Start the child unless it has been started already."""
        if self._child is None:
            self._child = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True,
                                           **self.popen_kwargs)

    def result(self, timeout):
        """Wait for the child (starting it first if need be), at most ``timeout`` seconds;
        return it as a CompletedProcess. The child is killed if it runs over."""
        self.start()
        try:
            stdout, stderr = self._child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.communicate()
            raise
        return subprocess.CompletedProcess(self.args, self._child.returncode, stdout, stderr)


class BackgroundRuns:
    """Named commands run one after the other in a background thread, each as a child process
    whose output is captured as text; ``prepare()`` runs first, in the caller's thread.

    One at a time, so that the commands do not compete with each other for the spare core, and
    the first to compile a kernel caches it for the next.
    """

    def __init__(self, commands, prepare=lambda: None, **run_kwargs):
        self.commands = dict(commands)
        self.prepare = prepare
        self.run_kwargs = run_kwargs
        self._done = {name: threading.Event() for name in self.commands}
        self._results = {}
        self._thread = None

    def start(self):
        """Prepare and start the commands unless they have been started already."""
        if self._thread is None:
            self.prepare()
            self._thread = threading.Thread(target=self._run_all, daemon=True)
            self._thread.start()

    def _run_all(self):
        for name, args in self.commands.items():
            try:
                self._results[name] = subprocess.run(args, capture_output=True, text=True,
                                                     **self.run_kwargs)
            except Exception as error:  # a timeout, a missing program: re-raised by result()
                self._results[name] = error
            self._done[name].set()

    def result(self, name, timeout):
        """The CompletedProcess of command ``name``, waiting for it (and starting the commands
        first if need be) at most ``timeout`` seconds."""
        self.start()
        if not self._done[name].wait(timeout):
            raise TimeoutError(f"{name!r} did not finish within {timeout} s")
        result = self._results[name]
        if isinstance(result, Exception):
            raise result
        return result
