"""``make mutation``: mutation testing of the security core with mutmut 3 (issue 14).

Run: ``make mutation`` (every module of ``[tool.mutmut] only_mutate`` in pyproject.toml), or
``make mutation MODULES="delegation/policy.py tenantauth/crypto.py"`` for some of them;
``make mutation MODULES=--seeded`` puts back, one at a time, the five bugs issue 14 found
the suite let through, and shows the tests that now fail. It
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


# The tests each module's mutants run (those of them that call the mutated function). A
# narrow list per module keeps a surviving mutant of a function every fixture calls
# (encryption, the limiter) from running the whole suite.
MODULE_TESTS = {
    "delegation/policy.py": [
        "tests/delegation/test_policy.py",
        "tests/delegation/test_target_and_scope.py",
    ],
    "delegation/rules.py": ["tests/delegation/test_policy.py"],
    "delegation/tokens.py": [
        "tests/delegation/test_clock.py",
        "tests/delegation/test_user_token.py",
        "tests/delegation/test_user_token_rfc.py",
        "tests/delegation/test_auth_time.py",
        "tests/delegation/test_claims.py",
        "tests/delegation/test_user_token_checks.py",
    ],
    "delegation/ratelimit.py": [
        "tests/delegation/test_rate_limit.py",
        "tests/delegation/test_clock.py",
    ],
    "tenantauth/limiter.py": [
        "tests/tenantauth/test_limiter.py",
        "tests/tenantauth/test_throttling.py",
        "tests/delegation/test_rate_limit.py",
        "tests/tenantauth/test_limiter_rules.py",
    ],
    "tenantauth/oidc/throttling.py": [
        "tests/tenantauth/test_throttling.py",
        "tests/tenantauth/test_throttling_rules.py",
        "tests/tenantauth/test_limiter.py",
    ],
    "tenantauth/crypto.py": [
        "tests/tenantauth/test_secrets_at_rest.py",
        "tests/addons/test_secrets_at_rest.py",
    ],
    "tenantauth/admin_site.py": [
        "tests/tenantauth/test_admin_security.py",
        "tests/tenantauth/test_roles.py",
        "tests/tenantauth/test_admin_walk.py",
        "tests/tenantauth/test_members.py",
        "tests/tenantauth/test_admin_site_scoping.py",
    ],
    "tenantauth/oidc/tokens.py": [
        "tests/tenantauth/test_oidc_signup_userinfo.py",
        "tests/tenantauth/test_oidc_token.py",
        "tests/tenantauth/test_oidc_tokens_checks.py",
    ],
}


def config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]


def workdir(module: str) -> Path:
    """``.mutation/<module>/``: one copy and one mutmut state per module."""
    return WORK / module.removesuffix(".py").replace("/", ".")


def module_pyproject(module: str) -> str:
    """pyproject.toml with ``[tool.mutmut]`` narrowed to ``module`` and its tests."""
    text = (ROOT / "pyproject.toml").read_text()
    head, _, _ = text.partition("[tool.mutmut]")
    shared = config()
    lines = ["[tool.mutmut]"]
    for key in ("source_paths", "also_copy", "pytest_add_cli_args"):
        lines.append(f"{key} = {json.dumps(shared[key])}")
    lines.append(f"only_mutate = {json.dumps([module])}")
    lines.append(f"pytest_add_cli_args_test_selection = {json.dumps(MODULE_TESTS[module])}")
    return head + "\n".join(lines) + "\n"


def prepare(module: str, fresh: bool) -> Path:
    """The module's copy under ``.mutation/`` and its migrated template database."""
    work = workdir(module)
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source, target = ROOT / name, work / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    if (work / "tests").exists():
        shutil.rmtree(work / "tests")
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns(*TESTS_LEFT_OUT))
    (work / "pyproject.toml").write_text(module_pyproject(module))

    template = work / "template.sqlite3"
    template.unlink(missing_ok=True)
    env = environment(work) | {"DATABASE_URL": f"sqlite:///{template}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=work, env=env, check=True
    )
    with sqlite3.connect(template) as db:  # one self-contained file to copy
        db.execute("PRAGMA journal_mode=DELETE")
    return work


def environment(work: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    if work is not None:
        env["TEST_DATABASE_TEMPLATE"] = str(work / "template.sqlite3")
    env.pop("REQUIRE_POSTGRES", None)
    return env


def run(module: str) -> None:
    work = prepare(module, fresh=not os.environ.get("MUTATION_KEEP"))
    mutmut = Path(sys.executable).parent / "mutmut"
    jobs = os.environ.get("MUTATION_JOBS", str(os.cpu_count() or 2))
    print(f"== {module}: {' '.join(MODULE_TESTS[module])}", flush=True)
    subprocess.run(
        [str(mutmut), "run", "--max-children", jobs], cwd=work, env=environment(work), check=False
    )


def results(module: str) -> dict[str, str] | None:
    """``{mutant name: status}`` of one module from mutmut's meta file; None when mutmut has
    not run it, ``{}`` when it made no mutant (constants only, like delegation/rules.py)."""
    meta = workdir(module) / "mutants" / f"{module}.meta"
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {
        name: "not checked"
        if code is None
        else "timeout"
        if code in TIMEOUTS
        else STATUS.get(code, "suspicious")
        for name, code in codes.items()
    }


def report(modules: list[str]) -> bool:
    rows, survivors, reached = [], [], True
    for module in modules:
        statuses = results(module)
        if statuses is None:
            reached = False
            rows.append(f"| {module} | - | - | - | - | - | not run |")
            continue
        if not statuses:
            rows.append(f"| {module} | 0 | - | - | - | 0 | no mutant |")
            continue
        counts = Counter(statuses.values())
        unchecked = sum(n for status, n in counts.items() if status.startswith("not checked"))
        checked = len(statuses) - counts["skipped"] - unchecked
        killed = counts["killed"] + counts["timeout"]
        if not checked:
            reached = False
            rows.append(f"| {module} | {len(statuses)} | - | - | - | {unchecked} | not run |")
            continue
        score = killed / checked
        reached &= score >= TARGET and not unchecked
        partial = f" ({checked} checked)" if unchecked else ""
        rows.append(
            f"| {module} | {len(statuses)} | {killed} | {counts['survived']} | "
            f"{counts['no tests']} | {unchecked} | {score:.1%}{partial} |"
        )
        survivors += [
            name
            for name, status in sorted(statuses.items())
            if status in ("survived", "no tests", "suspicious")
        ]
    table = [
        "| module | mutants | killed | survived | no tests | not checked | score |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(table))
    WORK.mkdir(exist_ok=True)
    (WORK / "scores.md").write_text("\n".join(table) + "\n")
    if survivors:
        print("\nNot killed (`cd .mutation/<module> && mutmut show NAME` prints the diff):")
        for name in survivors:
            print(f"  {name}")
    return reached


# The five bugs that the suite once let through, each put back on its own into a
# fresh copy of the project: (file, original text, the bug, tests that must now fail).
SEEDED = [
    (
        "delegation/tokens.py",
        "    if exp <= now - leeway:",
        "    if exp < now - leeway:",
        ["tests/delegation/test_clock.py"],
    ),
    (
        "tenantauth/admin.py",
        "            obj.client_secret_fingerprint[:12],",
        "            obj.client_secret()[:12],",
        ["tests/test_secret_fragments.py"],
    ),
    (
        "delegation/policy.py",
        "    elif source.client_id in target.allowed_clients:",
        "    elif source.client_id in target.allowed_clients"
        " or target.client_id in source.allowed_clients:",
        ["tests/delegation/test_policy.py"],
    ),
    (
        # The tenant-user add page's 500: the add form named the model's hash column.
        "tenantauth/admin.py",
        '            kwargs["fields"] = ["email", "email_verified", "name", "nickname", "picture", '
        '"blocked"]',
        '            kwargs["fields"] = ["email", "password", "email_verified", "name", '
        '"nickname", "picture", "blocked"]',
        ["tests/tenantauth/test_admin_walk.py"],
    ),
    (
        # Control characters copied into an issued token: the claims rule made a no-op.
        "tenantauth/text.py",
        "    if contains_control_characters(claims):",
        "    if False and contains_control_characters(claims):",
        ["tests/delegation/test_claims.py", "tests/addons/test_delegation.py"],
    ),
]


def seeded() -> bool:
    """Put back each seeded bug in a copy of the project; its tests must fail (kill it)."""
    import tempfile

    all_killed = True
    for path, original, bug, tests in SEEDED:
        with tempfile.TemporaryDirectory(prefix="tenantauth-seeded-") as folder:
            copy = Path(folder)
            for name in [*COPIED, "pyproject.toml"]:
                source = ROOT / name
                if source.is_dir():
                    shutil.copytree(
                        source, copy / name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(source, copy / name)
            shutil.copytree(
                ROOT / "tests", copy / "tests", ignore=shutil.ignore_patterns(*TESTS_LEFT_OUT)
            )
            target = copy / path
            text = target.read_text()
            assert text.count(original) == 1, f"{path} changed: update SEEDED"
            target.write_text(text.replace(original, bug))
            env = environment()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                cwd=copy,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
            killed = result.returncode == 1 and failed
            all_killed &= bool(killed)
            print(f"{'killed' if killed else 'SURVIVED'}: {path}: {bug.strip()}")
            for line in failed:
                print(f"    {line}")
    return all_killed


def main(argv: list[str]) -> int:
    if argv == ["--seeded"]:
        return 0 if seeded() else 1
    every = config()["only_mutate"]
    modules = argv or every
    unknown = [m for m in modules if m not in every]
    if unknown:
        print(f"not in [tool.mutmut] only_mutate: {unknown}")
        return 2
    if not os.environ.get("MUTATION_REPORT_ONLY"):
        for module in modules:  # one at a time: two cores are all a run gets
            run(module)
    return 0 if report(modules) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
