"""Run the whole system in one terminal: web server (with the Wix sandbox), Celery worker and beat.

`make run` calls this after migrating. Ctrl-C (or SIGTERM) stops every process it started; if one
of them exits on its own, the others are stopped too, so nothing is left half running.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    port = os.environ.get("PORT", "8000")
    os.environ["PORT"] = port
    python = sys.executable
    commands = {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [python, "-m", "celery", "-A", "site_project", "worker", "-l", "info"]
        + ["--concurrency", os.environ.get("WORKER_CONCURRENCY", "2")],
        "beat": [python, "-m", "celery", "-A", "site_project", "beat", "-l", "info"],
    }
    processes = {
        name: subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        for name, command in commands.items()
    }
    base = f"http://127.0.0.1:{port}"
    print(
        f"\nInbox Intake is starting:\n"
        f"  contact form  {base}/intake/contact/\n"
        f"  admin         {base}/admin/\n"
        f"  Wix sandbox   {base}/wix-sandbox/\n"
        f"Press Ctrl-C to stop.\n",
        flush=True,
    )

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
