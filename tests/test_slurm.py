"""The workflow on a real SLURM cluster: two virtual nodes on this host (tests/slurm/start_cluster.sh),
driven through `snakemake --workflow-profile profiles/slurm` exactly as on a user's cluster.

Only the first status check is made sooner than the profile's default, so the tests do not idle.
The daemons the fixture started are stopped by pid at the end (tests/slurm/stop_cluster.sh).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opencoder.training import launch
from opencoder.training.metrics import read as read_metrics
from smoke_workflow import PER_SHARD

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "slurm"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "2"]

needs_cluster = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("slurmctld", path=os.environ["PATH"] + ":/usr/sbin"),
    reason="the test cluster runs its daemons as root and needs slurm-wlm and munge (make setup)",
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # jobs inherit the submitter's environment (sbatch --export=ALL): the venv must come first
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}:/usr/sbin"
    return env


def test_training_rule_takes_its_request_from_the_cluster_config(tmp_path):
    """Partition, account, GPUs per node (with model), extra flags and multi-node launch come from
    config alone; the rule files are not touched."""
    cfg = tmp_path / "cluster.yaml"
    cfg.write_text(textwrap.dedent("""\
        resources:
          rules: {pretrain: {nodes: 2, threads: 2}}
          cluster: {partition: gpu, account: proj, gpus_per_node: 8, gpu_model: h100, extra: "--exclusive"}
        """))
    # the workflow itself, plus one line that prints the request its pretrain rule gets (the console
    # shows a job's message, not its resources)
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""\
        import json

        include: "{REPO / 'Snakefile'}"
        print("REQUEST", json.dumps(res("pretrain"), sort_keys=True))
        """))
    proc = run_snakemake(["pretrain", "-n", "-p", "--snakefile", str(tmp_path / "Snakefile"), "--directory", str(REPO),
                          "--configfile", str(REPO / "config" / "smoke.yaml"), str(cfg),
                          "--config", f"out_dir={tmp_path / 'out'}"], cwd=REPO, timeout=120)
    resources = json.loads(proc.stdout.split("REQUEST ", 1)[1].splitlines()[0])
    assert {k: resources[k] for k in ("gpus", "gres", "nodes", "mpi", "tasks", "slurm_partition", "slurm_account",
                                      "slurm_extra")} == {
        "gpus": 8, "gres": "gpu:h100:8", "nodes": 2, "mpi": "srun", "tasks": 2, "slurm_partition": "gpu",
        "slurm_account": "proj", "slurm_extra": "--exclusive"}
    assert "-m opencoder.training.launch --nodes 2 --gpus-per-node 8 --cpus-per-task 2 -- train" in proc.stdout


def test_launcher_plans_one_process_per_gpu_on_every_node():
    train = ["train", "--stage", "pretrain"]
    assert launch.plan(["--", *train], {}) is None  # one process: the stage runs in place
    cmd = launch.plan(["--gpus-per-node", "4", "--", *train], {})
    assert cmd[1:] == ["-m", "torch.distributed.run", "--nproc-per-node=4", "--standalone", "-m", "opencoder", *train]
    argv = ["--nodes", "3", "--gpus-per-node", "8", "--cpus-per-task", "32", "--", *train]
    with pytest.raises(RuntimeError, match="needs a SLURM allocation"):
        launch.plan(argv, {})
    srun = launch.plan(argv, {"SLURM_JOB_ID": "7"})  # the job's batch step: one launcher per node
    assert srun[:6] == ["srun", "--nodes=3", "--ntasks=3", "--ntasks-per-node=1", "--cpus-per-task=32",
                        "--kill-on-bad-exit=1"]
    assert srun[-len(argv):] == argv
    with pytest.raises(RuntimeError, match="has 2 nodes"):
        launch.plan(argv, {launch.PER_NODE_ENV: "1", "SLURM_JOB_ID": "7", "SLURM_NNODES": "2"})


@pytest.fixture(scope="module")
def cluster():
    state = Path(os.environ.get("OPENCODER_SLURM_STATE", "/var/lib/opencoder-slurm"))
    env = {**_env(), "OPENCODER_SLURM_STATE": str(state)}
    # a cluster that was up before (another test session uses it) is left running afterwards
    record = state / "started" / "slurmctld.pid"
    already_up = record.is_file() and Path(f"/proc/{record.read_text().strip()}/comm").is_file()
    subprocess.run(["bash", SCRIPTS / "start_cluster.sh"], env=env, check=True, timeout=120)
    try:
        yield state
    finally:
        if not already_up:
            subprocess.run(["bash", SCRIPTS / "stop_cluster.sh"], env=env, check=True, timeout=120)
            assert not list((state / "started").glob("*.pid")), "stop_cluster.sh left pid records behind"


def run_snakemake(args: list[str], *, cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return proc


@needs_cluster
def test_two_node_rule_runs_one_launcher_per_node(cluster, tmp_path):
    """A rule asking for 2 nodes (config resources) gets both nodes of the cluster, and the launcher
    starts one torchrun per node that rendezvous into one process group (gloo on CPUs)."""
    overrides = tmp_path / "cluster.yaml"
    overrides.write_text(textwrap.dedent(f"""\
        out_dir: {tmp_path / 'out'}
        resources:
          rules:
            probe: {{nodes: 2, threads: 1, mem_mb: 500, runtime: 5}}
          cluster: {{partition: debug, account: null, gpus_per_node: 0, gpu_model: null, extra: "--mail-type=NONE"}}
        """))
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""\
        configfile: "{REPO / 'config' / 'config.yaml'}"
        include: "{REPO / 'rules' / 'common.smk'}"

        rule probe:
            output: f"{{OUT}}/probe.json"
            threads: res("probe")["threads"]
            resources: **res("probe")
            shell: "cd {SCRIPTS} && {{LAUNCH}} --nodes {{resources.nodes}} --gpus-per-node {{resources.gpus}} --cpus-per-task {{threads}} --module allreduce_probe -- {{output}}"
        """))
    proc = run_snakemake(
        ["--snakefile", str(tmp_path / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(overrides),
         "--workflow-profile", str(REPO / "profiles" / "slurm"), *FAST_STATUS, "--verbose"],
        cwd=tmp_path, timeout=300,
    )
    sbatch = [line for line in (proc.stdout + proc.stderr).splitlines() if "sbatch call:" in line]
    assert sbatch and "--nodes=2" in sbatch[0] and "--ntasks=2" in sbatch[0] and "-p debug" in sbatch[0]
    assert "--mail-type=NONE" in sbatch[0]
    seen = json.loads((tmp_path / "out" / "probe.json").read_text())
    assert seen["world_size"] == 2 and seen["sum"] == 1 + 2
    assert sorted(r["node_id"] for r in seen["ranks"]) == ["0", "1"]
    assert len({r["node"] for r in seen["ranks"]}) == 2, "both ranks ran on the same node"


def _digests(root: Path, patterns: list[str]) -> dict[str, str]:
    files = sorted(p for pattern in patterns for p in root.glob(pattern) if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


DIGESTED = ["corpus/*.parquet", "tokenizer/tokenizer.json", "tokens/*.bin", "tokens/*.idx", "tokens/blend.json"]


def _outputs(out: Path) -> dict:
    """What must not depend on where the build ran: the data files and the loss curve (timings,
    tokens/s and MFU, differ between any two runs)."""
    outputs = _digests(out, DIGESTED)
    outputs["pretrain"] = [(r["step"], r["loss"], r["lr"], r["tokens"])
                           for r in read_metrics(out / "pretrain" / "metrics.jsonl")]
    return outputs


@needs_cluster
@pytest.mark.slow
@pytest.mark.timeout(2700)  # the shared local smoke build (if not made yet) and ~30 SLURM jobs
def test_smoke_workflow_on_slurm_equals_local_run(smoke_build, cluster, tmp_path):
    """The smoke build to the tokens target and the tiny pretrain target on SLURM, at 10 shards a job,
    gives the same corpus, tokenizer, token files and training metrics as the same build run locally at
    1 a job (the session's shared smoke build: same smoke config, default workflow profile, 2 cores);
    its 4 shards are one batch, so each per-shard rule is one sbatch."""
    out = tmp_path / "slurm"
    cfg = tmp_path / "slurm.yaml"
    cfg.write_text(f"out_dir: {out}\n")
    proc = run_snakemake(["tokens", "pretrain", "--snakefile", str(REPO / "Snakefile"), "--config", "resources={shards_per_job: 10}",
                          "--workflow-profile", str(REPO / "profiles" / "slurm"), *FAST_STATUS, "--jobs", "4", "--verbose",
                          "--configfile", str(REPO / "config" / "smoke.yaml"), str(cfg)], cwd=REPO, timeout=2000)
    sbatch = [line for line in (proc.stdout + proc.stderr).splitlines() if "sbatch call:" in line]
    assert {rule: sum(f"rule_{rule}_wildcards_" in line for line in sbatch) for rule in PER_SHARD} == dict.fromkeys(PER_SHARD, 1)
    local = _outputs(smoke_build.out)
    assert len(local) > 5 and local["pretrain"], "the local run made too little to compare"
    built = _outputs(out)
    shards = len(list((smoke_build.out / "ingest").glob("[0-9]*.parquet")))
    pads = {f"corpus/{i:05d}.parquet" for i in range(shards, 10)}  # the batch's members past ingest's last shard
    assert {path: built[path] for path in local} == local and set(built) - set(local) == pads
