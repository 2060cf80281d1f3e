"""Network pages: the network, its members, a member; the Secretariat's forms."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from liaison.core.errors import ServiceError
from liaison.core.permissions import Perm, Role
from liaison.core.views import network_view
from liaison.directory.queries import visible_contact_points
from liaison.networks import services
from liaison.networks.forms import (
    MemberCreateForm,
    MemberEditForm,
    MemberFilterForm,
    NetworkSettingsForm,
)
from liaison.networks.queries import (
    acting_for_members,
    can_see_member_people,
    get_member,
    member_people,
    members_with_counts,
    network_counts,
)


@network_view(Perm.NETWORK_VIEW)
def detail(request, access):
    network = access.network
    acting_for = {m.pk: m for m in acting_for_members(access)}
    roles = [
        {
            "label": role.label,
            "members": [
                acting_for[pk] for pk in access.members_by_role.get(role, ()) if pk in acting_for
            ],
        }
        for role in Role
        if role in access.roles
    ]
    return render(
        request,
        "networks/detail.html",
        {"network": network, "roles": roles, "counts": network_counts(access)},
    )


@network_view(Perm.MEMBERS_VIEW)
def members(request, access):
    form = MemberFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = list(
        members_with_counts(
            access,
            status=filters.get("status", ""),
            kind=filters.get("kind", ""),
            q=filters.get("q", ""),
        )
    )
    return render(
        request,
        "networks/members.html",
        {
            "network": access.network,
            "form": form,
            "members": rows,
            "filtered": any(filters.values()) if filters else False,
            "can_manage": access.has(Perm.NETWORK_MANAGE),
        },
    )


@network_view(Perm.MEMBERS_VIEW)
def member(request, access, public_id):
    obj = get_member(access, public_id)
    contact_points = list(
        visible_contact_points(access)
        .filter(member=obj)
        .prefetch_related(None)
        .order_by("position", "id")
    )
    return render(
        request,
        "networks/member.html",
        {
            "network": access.network,
            "member": obj,
            "history": list(obj.status_changes.select_related("recorded_by")),
            "contact_points": contact_points,
            "can_see_directory": access.has(Perm.DIRECTORY_VIEW),
            "show_people": can_see_member_people(access, obj),
            "people": list(member_people(access, obj)),
            "can_manage": access.has(Perm.NETWORK_MANAGE),
        },
    )


@network_view(Perm.NETWORK_MANAGE)
def member_create(request, access):
    form = MemberCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.add_member(
                request.user,
                access.network,
                code=data["code"],
                name=data["name"],
                kind=data["kind"],
                status=data["status"],
                status_since=data["status_since"],
                access=access,
            )
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("%(name)s was added.") % {"name": created.name})
            return redirect("networks:member", access.network.slug, created.public_id)
    return render(
        request,
        "networks/member_form.html",
        {"network": access.network, "form": form, "member": None},
    )


@network_view(Perm.NETWORK_MANAGE)
def member_edit(request, access, public_id):
    obj = get_member(access, public_id)
    # The date starts blank: a new status left undated takes effect today, not on the old date.
    initial = {"name": obj.name, "status": obj.status}
    form = MemberEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_member(
                request.user,
                obj,
                name=data["name"],
                status=data["status"],
                status_since=data["status_since"],
                note=data["note"],
                access=access,
            )
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("The member was updated."))
            return redirect("networks:member", access.network.slug, obj.public_id)
    return render(
        request,
        "networks/member_form.html",
        {"network": access.network, "form": form, "member": obj},
    )


@network_view(Perm.NETWORK_MANAGE)
def settings(request, access):
    network = access.network
    initial = {field: getattr(network, field) for field in services.NETWORK_FIELDS}
    form = NetworkSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_network(request.user, network, access=access, **form.cleaned_data)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("The network's settings were saved."))
            return redirect("networks:detail", network.slug)
    return render(request, "networks/settings.html", {"network": network, "form": form})
