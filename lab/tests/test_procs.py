"""theater_lab.procs: a signal that arrives while a process is being started waits
until its pid file is written."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from theater_lab.procs import alive, signals_held, start, stop


class SignalsHeld(unittest.TestCase):
    def test_a_signal_inside_the_block_is_acted_on_after_it(self):
        reached_the_end = False
        with self.assertRaises(KeyboardInterrupt), signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            reached_the_end = True
        self.assertTrue(reached_the_end, "^C cut the block short")

    def test_the_handlers_are_put_back(self):
        before = [signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
        with signals_held():
            pass
        after = [signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
        self.assertEqual(before, after)

    def test_an_ignored_signal_stays_ignored(self):
        previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            with signals_held():
                os.kill(os.getpid(), signal.SIGHUP)
        finally:
            signal.signal(signal.SIGHUP, previous)

    def test_start_writes_the_pid_file_when_interrupted_as_the_process_starts(self):
        real_popen = subprocess.Popen

        def popen_then_interrupt(*args, **kwargs):
            # ^C at the worst moment: the process runs, its pid is not yet written.
            process = real_popen(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGINT)
            return process

        with tempfile.TemporaryDirectory() as folder:
            run_dir = Path(folder)
            previous = signal.signal(signal.SIGINT, signal.default_int_handler)
            try:
                with (
                    mock.patch.object(subprocess, "Popen", popen_then_interrupt),
                    self.assertRaises(KeyboardInterrupt),
                ):
                    start("sleeper", ["sleep", "30"], run_dir)
            finally:
                signal.signal(signal.SIGINT, previous)
            pid = int((run_dir / "sleeper.pid").read_text())
            self.assertTrue(alive(pid))
            stop([pid], 5, say=lambda _message: None)
            self.assertFalse(alive(pid))


if __name__ == "__main__":
    unittest.main()
