"""A real single-node SLURM cluster for the backend tests: installed (as root, through apt) and started
once per test session, stopped afterwards. Where that cannot happen, the tests that need it skip
with the reason and how to provide a cluster (SLURM_CONF pointing to a running one also works).
Side effects on the machine, as root: the apt packages stay installed, /etc/munge/munge.key is
created if missing (1 KiB random) and munged keeps running for later sessions."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]

CONF = """ClusterName=tests
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SlurmctldPort={port}
SlurmdPort={port2}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
NodeName={host} CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=tests Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Unavailable(Exception):
    pass


def _run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{' '.join(cmd)} did not finish within {timeout:.0f} s") from None


def install() -> None:
    if all(shutil.which(c) for c in ("sbatch", "slurmctld", "slurmd", "munged")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("no SLURM here and not root with apt-get to install it (apt-get install "
                          + " ".join(PACKAGES) + ", or set SLURM_CONF to a running cluster's slurm.conf)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    r = _run(["apt-get", "install", "-y", "-q", *PACKAGES], env=env)
    if r.returncode != 0:
        _run(["apt-get", "update", "-q"], env=env)
        r = _run(["apt-get", "install", "-y", "-q", *PACKAGES], env=env)
    if r.returncode != 0:
        raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {r.stderr.strip()[-300:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path) -> Path:
    """Start munged (if needed), slurmctld and slurmd with a localhost slurm.conf; return its path."""
    install()
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o400)
    if _run(["pgrep", "-x", "munged"]).returncode != 0:
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        r = _run(["munged", "--force"])
        if r.returncode != 0:
            raise Unavailable(f"munged did not start: {r.stderr.strip()}")
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    host = _run(["hostname", "-s"]).stdout.strip() or socket.gethostname()
    mem = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                   if ln.startswith("MemTotal")) ) // 1024 - 1024
    conf = folder / "slurm.conf"
    conf.write_text(CONF.format(host=host, dir=folder, cpus=os.cpu_count(), mem=mem, port=_free_port(),
                                port2=_free_port()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for daemon in (["slurmctld", "-c", "-f", str(conf)], ["slurmd", "-f", str(conf)]):
        r = _run(daemon, env=env, timeout=60)
        if r.returncode != 0:
            stop(folder)
            raise Unavailable(f"{daemon[0]} did not start: {r.stderr.strip()[-300:]}")
    deadline = time.time() + 60
    while time.time() < deadline:
        r = _run(["sinfo", "-h", "-o", "%t"], env=env, timeout=30)
        if r.returncode == 0 and r.stdout.strip() in ("idle", "mix", "alloc"):
            return conf
        time.sleep(0.5)
    log = (folder / "slurmctld.log").read_text()[-500:] if (folder / "slurmctld.log").exists() else ""
    stop(folder)
    raise Unavailable(f"the SLURM node did not come up within 60 s: {log}")


def stop(folder: Path) -> None:
    for pid_file in ("slurmd.pid", "slurmctld.pid"):
        f = folder / pid_file
        if f.exists():
            try:
                os.kill(int(f.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass
    time.sleep(0.5)
