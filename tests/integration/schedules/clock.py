"""The test-only clock of jobcell-api's scheduler: JOBCELL_TEST_CLOCK_FILE names a file
holding the scheduler's time in milliseconds, so a test moves time forward instantly."""
import os
import tempfile
import time

# 2026-11-19T00:00:00Z, a minute boundary.
T0 = 1795046400000
MIN = 60000


class Clock:
    def __init__(self, start):
        fd, self.path = tempfile.mkstemp(prefix="jc-clock-")
        os.close(fd)
        self.set(start)
        os.environ["JOBCELL_TEST_CLOCK_FILE"] = self.path

    def set(self, ms):
        self.now = ms
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(ms))
        os.replace(tmp, self.path)  # never a half-written time

    def cleanup(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def wait_for(pred, timeout=10.0, step=0.02):
    """Poll pred() until true or timeout (bounded); returns its last value."""
    deadline = time.time() + timeout
    v = pred()
    while not v and time.time() < deadline:
        time.sleep(step)
        v = pred()
    return v
