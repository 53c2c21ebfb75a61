"""The platform around the code: commands with no environment, migrations, fixtures, make, CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def add(a: int, b: int) -> int:
    """A job for the queue fixtures below."""
    return a + b


def _clean_env(data_dir: Path) -> dict[str, str]:
    # Nothing of the caller's environment but PATH: what a user has in a fresh terminal.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FOLIO_DATA_DIR": str(data_dir)}


def _manage(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=_clean_env(data_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_manage_py_check_works_with_no_environment_variable_set(tmp_path):
    result = _manage(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert (tmp_path / "secret_key").exists()


def test_models_and_migrations_agree(tmp_path):
    result = _manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def migrated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory migrated by ``manage.py migrate`` in a clean environment (once)."""
    data_dir = tmp_path_factory.mktemp("second-terminal")
    migrate = _manage(data_dir, "migrate", "--no-input", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    return data_dir


def test_a_second_terminal_can_migrate_and_create_a_user_with_no_environment(migrated_data_dir):
    created = _manage(
        migrated_data_dir, "create_org_user", "Acme", "alice", "--password", "a-long-password"
    )
    assert created.returncode == 0, created.stderr
    assert "Created user 'alice'" in created.stdout


def test_a_command_refusing_bad_input_exits_non_zero_with_one_line(migrated_data_dir):
    result = _manage(migrated_data_dir, "create_org_user", "Acme", "bob", "--password", "x")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "Password refused" in result.stderr


# --- Fixtures others rely on --------------------------------------------------------------------


def test_the_queue_fixtures_run_a_job_in_process(clean_queue, rq_worker):
    import django_rq
    from rq.job import Job
    from rq.serializers import JSONSerializer

    queue = django_rq.get_queue("default", commit_mode="auto")
    job = queue.enqueue(add, 2, 3)
    assert clean_queue.count == 1
    rq_worker()
    assert (
        Job.fetch(job.id, connection=queue.connection, serializer=JSONSerializer).return_value()
        == 5
    )
    assert queue.count == 0


def test_clean_queue_starts_from_an_empty_queue(clean_queue):
    assert clean_queue.count == 0
    assert clean_queue.connection.dbsize() == 0


def test_personas_belong_to_their_organizations(member, manager, outsider, org, other_org):
    assert member.membership.organization == org
    assert member.membership.role == "member" and not member.is_staff
    assert manager.membership.role == "manager" and manager.is_staff
    assert outsider.membership.organization == other_org
    assert member.check_password("pw-member")


def test_api_client_is_authenticated_for_the_users_organization(api_client, member):
    from rest_framework_simplejwt.tokens import AccessToken

    client = api_client(member)
    header = client._credentials["HTTP_AUTHORIZATION"]
    assert header.startswith("Bearer ")
    token = AccessToken(header.removeprefix("Bearer "))
    assert token["org"] == str(member.membership.organization_id)


def test_api_client_works_for_many_logins_in_one_test(api_client, member):
    # The login throttle (20/min) must not turn the 21st fixture login into a 429.
    for _ in range(25):
        api_client(member)


def test_corpus_dir_is_the_shared_corpus_beside_the_project(corpus_dir):
    assert corpus_dir == PROJECT_ROOT.parent / "shared" / "corpus"
    assert corpus_dir.is_dir()


@pytest.mark.browser
def test_a_browser_test_runs_only_where_chromium_is_installed():
    from tests.conftest import chromium_path

    # Without chromium the collection hook skips this with CHROMIUM_MISSING as the reason.
    assert chromium_path() is not None


# --- make and CI ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["run", "test", "bench", "lint", "worker", "migrations-check"])
def test_every_make_target_resolves_from_another_directory(tmp_path, target):
    result = subprocess.run(
        ["make", "-n", "-f", str(PROJECT_ROOT / "Makefile"), target],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert str(PROJECT_ROOT) in result.stdout


def test_ci_script_is_executable_bash_that_parses():
    script = PROJECT_ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK)
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_venv_setup_script_is_executable_bash_that_parses():
    script = PROJECT_ROOT / "scripts" / "setup-venv.sh"
    assert os.access(script, os.X_OK)
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_bench_runs_the_benchmarks_that_exist():
    result = subprocess.run(
        ["make", "-n", "-f", str(PROJECT_ROOT / "Makefile"), "bench"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "run_all" not in result.stdout and "bench/[!_]*.py" in result.stdout
    assert [p.name for p in (PROJECT_ROOT / "bench").glob("[!_]*.py")]
