"""A child process that a test module starts early and whose result a test collects later.

A module that defines ``start_in_background()`` has it called by the suite's conftest once the
tests are chosen (only if some of its tests were chosen), and its tests are run last: the child
runs on a spare core meanwhile instead of holding up the suite.
"""
import subprocess


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
