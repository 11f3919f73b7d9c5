"""``make mutation``: mutation testing of the security core with mutmut 3 (issue 14).

Run: ``make mutation`` (every module of ``[tool.mutmut] only_mutate`` in pyproject.toml), or
``make mutation MODULES="delegation/policy.py tenantauth/crypto.py"`` for some of them. It
prints, per module, how many mutants the tests killed, and the survivors; the equivalent
survivors and why they cannot be killed are listed in docs/mutation.md. Not part of
``make test`` or CI: it is slow (minutes per module on two cores).

How it runs:

* a copy of the project goes to ``.mutation/`` (git-ignored) without the browser, e2e,
  interop and Node parts of the tests, so mutmut's own copy (``.mutation/mutants/``) stays
  small;
* one migrated SQLite file is made there once; every pytest session mutmut starts (one per
  mutant) copies it instead of migrating (``TEST_DATABASE_TEMPLATE``, tests/conftest.py);
* mutmut first runs the selected tests once and records which tests call which function;
  each mutant then runs only the tests that call its function, stopping at the first
  failure (a kill);
* no ``DATABASE_URL`` / ``REDIS_URL``: SQLite and the local-memory limiter, while the tests
  that take ``counter_store`` start their own ``redis-server`` for the Redis paths.

Exit status 0 when every module reached ``TARGET`` (killed + timed out over mutants tested).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
TARGET = 0.90
COPIED = [
    "delegation",
    "tenantauth",
    "addons",
    "templates",
    "static",
    "docs",
    "manage.py",
    "README.md",
]
TESTS_LEFT_OUT = ("node", "browser", "e2e", "interop", "__pycache__", "test-artifacts")
# mutmut's exit codes (mutmut.stats.status_by_exit_code), as this report counts them.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}
TIMEOUTS = {36, 24, -24, 152, 255}


def config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]


def prepare(fresh: bool) -> None:
    """The copy under ``.mutation/`` and its migrated template database."""
    if fresh and WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(exist_ok=True)
    for name in COPIED:
        source, target = ROOT / name, WORK / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    if (WORK / "tests").exists():
        shutil.rmtree(WORK / "tests")
    shutil.copytree(ROOT / "tests", WORK / "tests", ignore=shutil.ignore_patterns(*TESTS_LEFT_OUT))
    shutil.copy2(ROOT / "pyproject.toml", WORK / "pyproject.toml")

    template = WORK / "template.sqlite3"
    template.unlink(missing_ok=True)
    env = environment() | {"DATABASE_URL": f"sqlite:///{template}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=WORK, env=env, check=True
    )
    with sqlite3.connect(template) as db:  # one self-contained file to copy
        db.execute("PRAGMA journal_mode=DELETE")


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["TEST_DATABASE_TEMPLATE"] = str(WORK / "template.sqlite3")
    env.pop("REQUIRE_POSTGRES", None)
    return env


def mutant_glob(module: str) -> str:
    """``delegation/policy.py`` -> ``delegation.policy.*`` (mutmut's mutant names)."""
    return module.removesuffix(".py").replace("/", ".") + ".*"


def run(modules: list[str]) -> None:
    mutmut = Path(sys.executable).parent / "mutmut"
    jobs = os.environ.get("MUTATION_JOBS", str(os.cpu_count() or 2))
    args = [str(mutmut), "run", "--max-children", jobs]
    if modules != config()["only_mutate"]:
        args += [mutant_glob(m) for m in modules]
    subprocess.run(args, cwd=WORK, env=environment(), check=False)


def results(module: str) -> dict[str, str]:
    """``{mutant name: status}`` of one module from mutmut's meta file."""
    meta = WORK / "mutants" / f"{module}.meta"
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {
        name: ("timeout" if code in TIMEOUTS else STATUS.get(code, f"not checked ({code})"))
        for name, code in codes.items()
    }


def report(modules: list[str]) -> bool:
    rows, survivors, reached = [], [], True
    for module in modules:
        statuses = results(module)
        counts = Counter(statuses.values())
        tested = len(statuses) - counts["skipped"]
        killed = counts["killed"] + counts["timeout"]
        score = killed / tested if tested else 1.0
        reached &= score >= TARGET
        rows.append(
            f"| {module} | {len(statuses)} | {killed} | {counts['survived']} | "
            f"{counts['no tests']} | {tested - killed - counts['survived'] - counts['no tests']} "
            f"| {score:.1%} |"
        )
        survivors += [name for name, status in sorted(statuses.items()) if status != "killed"]
    table = [
        "| module | mutants | killed | survived | no tests | other | score |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(table))
    (WORK / "scores.md").write_text("\n".join(table) + "\n")
    if survivors:
        print("\nNot killed (`cd .mutation && ../.venv/bin/mutmut show NAME` for the diff):")
        for name in survivors:
            print(f"  {name}")
    return reached


def main(argv: list[str]) -> int:
    every = config()["only_mutate"]
    modules = argv or every
    unknown = [m for m in modules if m not in every]
    if unknown:
        print(f"not in [tool.mutmut] only_mutate: {unknown}")
        return 2
    if os.environ.get("MUTATION_REPORT_ONLY"):
        return 0 if report(modules) else 1
    prepare(fresh=not os.environ.get("MUTATION_KEEP"))
    run(modules)
    return 0 if report(modules) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
