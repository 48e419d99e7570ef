"""nbval under coverage (`make test`): let each notebook's kernel exit normally, so coverage, which the kernel
runs through its subprocess patch ([tool.coverage.run] in pyproject.toml), writes what the notebook exercised.
nbval stops kernels with `shutdown_kernel(now=True)`, a SIGKILL that loses that data; a shutdown request ends the
kernel just as surely, in well under a second."""

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if "COVERAGE_PROCESS_CONFIG" not in os.environ:  # not under `coverage run`: nothing to change
        return
    from nbval.kernel import RunningKernel

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        del self.km

    RunningKernel.stop = stop
