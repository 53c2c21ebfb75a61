"""``manage.py create_org_user``: creates, then updates idempotently; refuses bad input."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from portal.management.commands.create_org_user import TEMPLATE_MANAGERS_GROUP
from portal.models import Membership, Organization

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_org_user", *args, stdout=out)
    return out.getvalue()


def test_it_creates_the_organization_and_a_member():
    output = run("Acme", "alice", "--password", PASSWORD)
    user = get_user_model().objects.get(username="alice")
    assert Organization.objects.filter(name="Acme").count() == 1
    assert user.membership.organization.name == "Acme"
    assert user.membership.role == "member"
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    assert not user.is_superuser
    assert "Created user 'alice' (member)" in output


def test_it_uses_an_existing_organization():
    org = Organization.objects.create(name="Acme")
    run("Acme", "alice", "--password", PASSWORD)
    run("Acme", "bob", "--password", PASSWORD)
    assert Organization.objects.filter(name="Acme").count() == 1
    assert org.memberships.count() == 2


def test_running_it_again_sets_the_password_and_keeps_one_user():
    run("Acme", "alice", "--password", PASSWORD)
    output = run("Acme", "alice", "--password", "another-long-password")
    user = get_user_model().objects.get(username="alice")
    assert user.check_password("another-long-password")
    assert get_user_model().objects.filter(username="alice").count() == 1
    assert Membership.objects.filter(user=user).count() == 1
    assert output.startswith("Updated")


def test_a_manager_is_staff_with_the_template_permissions():
    run("Acme", "carol", "--password", PASSWORD, "--role", "manager")
    user = get_user_model().objects.get(username="carol")
    assert user.membership.role == "manager"
    assert user.is_staff
    assert user.groups.filter(name=TEMPLATE_MANAGERS_GROUP).exists()
    for model in ("template", "templatesection", "rule", "styleguide"):
        for action in ("add", "change", "delete", "view"):
            assert user.has_perm(f"templates_app.{action}_{model}")
    assert not user.has_perm("documents.delete_generateddocument")


def test_switching_roles_back_and_forth_updates_staff_and_group():
    run("Acme", "dave", "--password", PASSWORD)
    run("Acme", "dave", "--password", PASSWORD, "--role", "manager")
    user = get_user_model().objects.get(username="dave")
    assert user.is_staff and user.membership.role == "manager"

    run("Acme", "dave", "--password", PASSWORD, "--role", "member")
    user = get_user_model().objects.get(username="dave")
    user.membership.refresh_from_db()
    assert user.membership.role == "member"
    assert not user.is_staff
    assert not user.groups.filter(name=TEMPLATE_MANAGERS_GROUP).exists()
    assert not user.has_perm("templates_app.change_template")


def test_superuser_is_an_operator_and_is_not_demoted_by_a_rerun():
    run("Acme", "root-op", "--password", PASSWORD, "--superuser")
    user = get_user_model().objects.get(username="root-op")
    assert user.is_superuser and user.is_staff
    run("Acme", "root-op", "--password", PASSWORD)
    user.refresh_from_db()
    assert user.is_superuser and user.is_staff


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "alice", "--password", PASSWORD), "organization name must not be empty"),
        (("Acme", "bad name!", "--password", PASSWORD), "Invalid username"),
        (("Acme", "alice", "--password", "short"), "Password refused"),
        (("Acme", "alice", "--password", PASSWORD, "--role", "owner"), "role must be one of"),
        (("Acme", "alice"), "--password is required"),
    ],
)
def test_it_refuses_bad_input_with_a_one_line_reason(args, message):
    with pytest.raises(CommandError, match=message) as excinfo:
        run(*args)
    assert "\n" not in str(excinfo.value)
    assert not get_user_model().objects.filter(username="alice").exists()


def test_it_refuses_to_move_a_user_to_another_organization():
    run("Acme", "erin", "--password", PASSWORD)
    with pytest.raises(CommandError, match="already belongs to organization 'Acme'"):
        run("Globex", "erin", "--password", PASSWORD)
    user = get_user_model().objects.get(username="erin")
    assert user.membership.organization.name == "Acme"
