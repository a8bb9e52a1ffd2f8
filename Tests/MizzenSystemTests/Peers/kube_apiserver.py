#!/usr/bin/env python3
"""A stand-in Kubernetes API server for Mizzen's tests: the list/watch protocol for real.

    kube_apiserver.py --tls-cert PEM --tls-key PEM [--port 0] [--ready-file PATH]
                      [--client-ca PEM] [--token TOKEN[,USER]]... [--token-file PATH]
                      [--control-port 0] [--history 1000] [--bookmark-interval 1]
                      [--min-request-timeout 1800] [--seed PATH]... [--deny VERB:RESOURCE[:NS]]...
                      [--parent-pid PID]

The API (HTTPS, HTTP/1.1 keep-alive, JSON) behaves as kube-apiserver over etcd for the core,
discovery.k8s.io and Istio resources the gateway reads: one global resourceVersion counter,
create/get/update/patch/delete with the real Status errors, lists with label and field
selectors and limit/continue paging at a consistent resourceVersion, chunked watches with
history replay, bookmarks, 410 Expired when the history is gone, and a server-side timeout.
Authentication: a bearer token (--token, or --token-file re-read on every request so a rotated
projected token works) or a client certificate verified against --client-ca (user = CN).
--deny answers 403 Forbidden like RBAC.

The control API (plain HTTP on 127.0.0.1:--control-port, JSON, no authentication) lets a test
change the cluster and break things: see CONTROL in this file and Peers/README.md.

Once both listeners are up the ready file gets {"port": P, "control_port": C} (written to a
temporary name and renamed, so a reader never sees half of it). Exits on SIGTERM/SIGINT and
within a second of --parent-pid disappearing.
"""
import argparse
import base64
import collections
import copy
import datetime
import hashlib
import json
import os
import queue
import random
import re
import select
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
ISTIO_NETWORKING = ["v1", "v1beta1", "v1alpha3"]
ISTIO_SECURITY = ["v1", "v1beta1"]


class Resource:
    """One kind of object: its group, the versions it is served at, its storage and watchers."""

    def __init__(self, group, versions, plural, kind, namespaced=True, short=(), status=False,
                 categories=()):
        self.group = group
        self.versions = versions
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.singular = kind.lower()
        self.categories = list(categories)
        # Built-in kinds are served in typed lists without apiVersion/kind on the items, as
        # kube-apiserver does; custom resources (unstructured) keep them.
        self.builtin = group in ("", "discovery.k8s.io")
        # Has a status subresource: writes to the main resource keep the stored status.
        self.status = status
        # metadata.generation: custom resources and EndpointSlices keep one (bumped when
        # anything but metadata and status changes); Services, Pods, Secrets... have none.
        self.generation = not self.builtin or kind == "EndpointSlice"
        self.group_resource = plural if not group else f"{plural}.{group}"
        self.objects = {}          # key ("ns/name" or "name") -> Entry
        self._sorted = None        # cached sorted keys, None when stale
        self.history = collections.deque()   # Events, oldest first
        self.compacted = 0         # the highest RV whose events are gone
        self.watchers = set()

    def api_version(self, version):
        return version if not self.group else f"{self.group}/{version}"

    def sorted_keys(self):
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def key(self, namespace, name):
        return f"{namespace}/{name}" if self.namespaced else name


def build_resources():
    core, disc = ["v1"], ["v1"]
    net_cat = ["istio-io", "networking-istio-io"]
    sec_cat = ["istio-io", "security-istio-io"]
    return [
        Resource("", core, "namespaces", "Namespace", namespaced=False, short=["ns"], status=True),
        Resource("", core, "services", "Service", short=["svc"], status=True),
        Resource("", core, "endpoints", "Endpoints", short=["ep"]),
        Resource("", core, "pods", "Pod", short=["po"], status=True),
        Resource("", core, "secrets", "Secret"),
        Resource("", core, "configmaps", "ConfigMap", short=["cm"]),
        Resource("discovery.k8s.io", disc, "endpointslices", "EndpointSlice"),
        Resource("networking.istio.io", ISTIO_NETWORKING, "gateways", "Gateway", short=["gw"], status=True, categories=net_cat),
        Resource("networking.istio.io", ISTIO_NETWORKING, "virtualservices", "VirtualService", short=["vs"], status=True, categories=net_cat),
        Resource("networking.istio.io", ISTIO_NETWORKING, "destinationrules", "DestinationRule", short=["dr"], status=True, categories=net_cat),
        Resource("networking.istio.io", ISTIO_NETWORKING, "serviceentries", "ServiceEntry", short=["se"], status=True, categories=net_cat),
        Resource("networking.istio.io", ISTIO_NETWORKING, "workloadentries", "WorkloadEntry", short=["we"], status=True, categories=net_cat),
        Resource("networking.istio.io", ISTIO_NETWORKING, "workloadgroups", "WorkloadGroup", short=["wg"], status=True, categories=net_cat),
        Resource("networking.istio.io", ISTIO_NETWORKING, "sidecars", "Sidecar", status=True, categories=net_cat),
        Resource("networking.istio.io", ["v1alpha3"], "envoyfilters", "EnvoyFilter", status=True, categories=net_cat),
        Resource("security.istio.io", ISTIO_SECURITY, "peerauthentications", "PeerAuthentication", short=["pa"], status=True, categories=sec_cat),
        Resource("security.istio.io", ISTIO_SECURITY, "authorizationpolicies", "AuthorizationPolicy", short=["ap"], status=True, categories=sec_cat),
        Resource("security.istio.io", ISTIO_SECURITY, "requestauthentications", "RequestAuthentication", short=["ra"], status=True, categories=sec_cat),
        Resource("telemetry.istio.io", ["v1", "v1alpha1"], "telemetries", "Telemetry", short=["telemetry"], status=True,
                 categories=["istio-io", "telemetry-istio-io"]),
    ]


# --------------------------------------------------------------------------------------------
# Errors (metav1.Status)
# --------------------------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, extra_metadata=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.extra_metadata = extra_metadata or {}

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.extra_metadata), "status": "Failure",
                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def details(res, name=None):
    d = {}
    if name is not None:
        d["name"] = name
    if res.group:
        d["group"] = res.group
    d["kind"] = res.plural
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.group_resource} "{name}" not found', details(res, name))


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{res.group_resource} "{name}" already exists', details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": {why}', details(res, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(res, name, field, message):
    kind = res.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {message}',
                    {"name": name, **({"group": res.group} if res.group else {}), "kind": kind,
                     "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]})


def expired(message):
    return ApiError(410, "Expired", message)


def too_old(rv, oldest):
    return expired(f"too old resource version: {rv} ({oldest})")


PATH_NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource",
                          {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})

# --------------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------------


def json_default(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=json_default)


class Entry:
    """A stored object version, never changed once made: the object without apiVersion/kind
    and its JSON, rendered once (lists are joins of these)."""
    __slots__ = ("obj", "body", "rv", "key")

    def __init__(self, obj, rv, key):
        self.obj = obj
        self.rv = rv
        self.key = key
        self.body = dumps(obj)

    def typed(self, res, version):
        return '{"kind":"%s","apiVersion":"%s",%s' % (res.kind, res.api_version(version), self.body[1:])

    @property
    def labels(self):
        return (self.obj.get("metadata") or {}).get("labels") or {}


class Event:
    __slots__ = ("rv", "type", "entry", "prev")

    def __init__(self, rv, type_, entry, prev):
        self.rv, self.type, self.entry, self.prev = rv, type_, entry, prev


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_without_server_fields(obj):
    """What a write may change: the object minus the fields the server owns (for no-op detection)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"):
        meta.pop(field, None)
    out["metadata"] = meta
    return out


def spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------

LABEL_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
LABEL_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def split_top_level(text):
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_label_selector(text):
    """labels.Parse: k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b), k>n, k<n; comma = AND."""
    reqs = []
    if not text or not text.strip():
        return reqs
    for raw in split_top_level(text):
        part = raw.strip()
        if not part:
            raise bad_request(f"unable to parse requirement: found '', expected: identifier in labelSelector {text!r}")
        m = re.fullmatch(rf"({LABEL_KEY})\s+(in|notin)\s*\(([^()]*)\)", part)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            for v in values:
                if not re.fullmatch(LABEL_VALUE, v):
                    raise bad_request(f"unable to parse requirement: invalid label value: {v!r}")
            reqs.append((m.group(1), m.group(2), values))
            continue
        m = re.fullmatch(rf"!\s*({LABEL_KEY})", part)
        if m:
            reqs.append((m.group(1), "!", None))
            continue
        m = re.fullmatch(rf"({LABEL_KEY})\s*(==|!=|=|>|<)\s*({LABEL_VALUE})", part)
        if m:
            op = "=" if m.group(2) == "==" else m.group(2)
            if op in (">", "<"):
                try:
                    int(m.group(3))
                except ValueError:
                    raise bad_request(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {part!r}")
            reqs.append((m.group(1), op, m.group(3)))
            continue
        m = re.fullmatch(rf"({LABEL_KEY})", part)
        if m:
            reqs.append((m.group(1), "exists", None))
            continue
        raise bad_request(f"unable to parse requirement: {part!r} in labelSelector {text!r}")
    return reqs


def labels_match(reqs, labels):
    for key, op, value in reqs:
        present = key in labels
        actual = labels.get(key)
        if op == "=":
            if not present or actual != value:
                return False
        elif op == "!=":
            if present and actual == value:
                return False
        elif op == "in":
            if not present or actual not in value:
                return False
        elif op == "notin":
            if present and actual in value:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!":
            if present:
                return False
        elif op in (">", "<"):
            try:
                number = int(actual)
            except (TypeError, ValueError):
                return False
            if (op == ">" and not number > int(value)) or (op == "<" and not number < int(value)):
                return False
    return True


# Field selectors each kind supports beside metadata.name and metadata.namespace.
EXTRA_FIELDS = {
    "Secret": ["type"],
    "Pod": ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
    "Namespace": ["status.phase"],
}


def unescape_field_value(value):
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text, res):
    reqs = []
    if not text or not text.strip():
        return reqs
    allowed = {"metadata.name", "metadata.namespace", *EXTRA_FIELDS.get(res.kind, [])}
    for raw in re.split(r"(?<!\\),", text):
        part = raw.strip()
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)", part)
        if not m:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        field, op, value = m.group(1), m.group(2), unescape_field_value(m.group(3))
        if field not in allowed:
            raise bad_request(f'field label not supported: {field}')
        reqs.append((field, "!=" if op == "!=" else "=", value))
    return reqs


def field_value(obj, field):
    value = obj
    for part in field.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields_match(reqs, obj):
    for field, op, value in reqs:
        actual = field_value(obj, field)
        if (op == "=") != (actual == value):
            return False
    return True


class Filter:
    """Which objects a list or watch sees: namespace, name (legacy watch path), selectors."""

    def __init__(self, res, namespace, name, label_text, field_text):
        self.namespace = namespace
        self.name = name
        self.labels = parse_label_selector(label_text)
        self.fields = parse_field_selector(field_text, res)
        self.trivial = not self.labels and not self.fields and name is None

    def matches(self, entry):
        obj = entry.obj
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name is not None and meta.get("name") != self.name:
            return False
        if self.labels and not labels_match(self.labels, meta.get("labels") or {}):
            return False
        if self.fields and not fields_match(self.fields, obj):
            return False
        return True


# --------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Strategic merge patch: the merge keys of the list fields a gateway test touches; every other
# list is replaced whole (as for atomic lists, e.g. EndpointSlice endpoints).
SMP_MERGE_KEYS = {
    ("Service", "spec.ports"): "port",
    ("Pod", "spec.containers"): "name",
    ("Pod", "spec.initContainers"): "name",
    ("Pod", "spec.containers.ports"): "containerPort",
    ("Pod", "spec.initContainers.ports"): "containerPort",
    ("Pod", "spec.containers.env"): "name",
    ("Pod", "spec.initContainers.env"): "name",
    ("Pod", "spec.containers.volumeMounts"): "mountPath",
    ("Pod", "spec.initContainers.volumeMounts"): "mountPath",
    ("Pod", "spec.volumes"): "name",
    ("Pod", "status.conditions"): "type",
    ("Pod", "status.containerStatuses"): "name",
    ("*", "metadata.ownerReferences"): "uid",
}


def strategic_merge_patch(kind, target, patch, path=""):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = f"{path}.{key}" if path else key
        if value is None:
            result.pop(key, None)
            continue
        merge_key = SMP_MERGE_KEYS.get((kind, child)) or SMP_MERGE_KEYS.get(("*", child))
        if isinstance(value, list) and merge_key and isinstance(result.get(key), list):
            merged = [copy.deepcopy(item) for item in result[key]]
            for item in value:
                if not isinstance(item, dict) or merge_key not in item:
                    merged.append(copy.deepcopy(item))
                    continue
                index = next((i for i, old in enumerate(merged)
                              if isinstance(old, dict) and old.get(merge_key) == item[merge_key]), None)
                if item.get("$patch") == "delete":
                    if index is not None:
                        merged.pop(index)
                elif index is None:
                    merged.append({k: v for k, v in item.items() if k != "$patch"})
                else:
                    merged[index] = strategic_merge_patch(kind, merged[index], item, child)
            result[key] = merged
        elif isinstance(value, dict):
            merged = strategic_merge_patch(kind, result.get(key), value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, operations):
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(doc)

    def parent(parts):
        node = doc
        for p in parts[:-1]:
            if isinstance(node, list):
                node = node[int(p)]
            elif isinstance(node, dict) and p in node:
                node = node[p]
            else:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: path {p!r} not found")
        return node

    def get(parts):
        node = parent(parts)
        last = parts[-1]
        try:
            return node[int(last)] if isinstance(node, list) else node[last]
        except (KeyError, IndexError, ValueError):
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: missing value at {'/'.join(parts)!r}")

    def remove(parts):
        value = get(parts)
        node = parent(parts)
        if isinstance(node, list):
            node.pop(int(parts[-1]))
        else:
            del node[parts[-1]]
        return value

    def add(parts, value):
        nonlocal doc
        if not parts:
            doc = value
            return
        node = parent(parts)
        last = parts[-1]
        if isinstance(node, list):
            if last == "-":
                node.append(value)
            else:
                node.insert(int(last), value)
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request")

    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, parts = op["op"], json_pointer(op["path"])
        if kind == "add":
            add(parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            remove(parts)
        elif kind == "replace":
            remove(parts)
            add(parts, copy.deepcopy(op.get("value")))
        elif kind == "move":
            add(parts, remove(json_pointer(op["from"])))
        elif kind == "copy":
            add(parts, copy.deepcopy(get(json_pointer(op["from"]))))
        elif kind == "test":
            if get(parts) != op.get("value"):
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {op['path']} failed")
        else:
            raise bad_request(f"unknown json patch operation {kind!r}")
    return doc


# --------------------------------------------------------------------------------------------
# The store: etcd and the watch cache in one
# --------------------------------------------------------------------------------------------

BREAK = object()       # a watcher's queue: abort the stream (no final chunk)
ERROR_410 = object()   # a watcher's queue: send ERROR 410 Expired and end the stream


class Watcher:
    def __init__(self, res, version, flt, connection):
        self.res = res
        self.version = version
        self.filter = flt
        self.queue = queue.SimpleQueue()
        self.connection = connection


class Store:
    def __init__(self, history_limit):
        self.lock = threading.RLock()
        self.rv = 0
        self.history_limit = max(1, history_limit)
        self.resources = build_resources()
        self.by_plural = {r.plural: r for r in self.resources}
        self.by_gv = {}          # (group, version) -> {plural: Resource}
        self.by_kind = {}        # (group, kind) -> Resource
        for r in self.resources:
            for v in r.versions:
                self.by_gv.setdefault((r.group, v), {})[r.plural] = r
            self.by_kind[(r.group, r.kind)] = r
        self.watchers = set()
        self.cluster_ips = set()
        self.next_ip = 10
        self.last_dispatch_ns = 0
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.write(self.by_plural["namespaces"], {"metadata": {"name": name}}, mode="control")

    # -- lookups --------------------------------------------------------------------------

    def resource_for(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        res = self.by_kind.get((group, kind))
        if res is None or version not in res.versions:
            raise bad_request(f'no matches for kind "{kind}" in version "{api_version}"')
        return res, version

    def namespace_exists(self, name):
        return name in self.by_plural["namespaces"].objects

    # -- writes (callers hold self.lock) ------------------------------------------------------

    def _commit(self, res, key, type_, entry, prev):
        """Records an event in the history and hands it to the resource's watchers."""
        event = Event(entry.rv, type_, entry, prev)
        history = res.history
        if len(history) >= self.history_limit:
            res.compacted = history.popleft().rv
        history.append(event)
        if type_ == "DELETED":
            del res.objects[key]
            res._sorted = None
        else:
            if key not in res.objects:
                res._sorted = None
            res.objects[key] = entry
        for watcher in res.watchers:
            watcher.queue.put(event)
        self.last_dispatch_ns = time.time_ns()
        return event

    def _allocate_ip(self):
        while True:
            n = self.next_ip
            self.next_ip += 1
            ip = f"10.96.{(n >> 8) & 255}.{n & 255}"
            if ip not in self.cluster_ips:
                return ip

    def _defaults(self, res, obj, prev):
        """What kube-apiserver fills in on the kinds whose defaults a gateway reads."""
        if res.kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec["type"] != "ExternalName":
                if not spec.get("clusterIP"):
                    old = ((prev.obj.get("spec") or {}).get("clusterIP")) if prev else None
                    spec["clusterIP"] = old or self._allocate_ip()
                if spec["clusterIP"] != "None":
                    self.cluster_ips.add(spec["clusterIP"])
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
                spec.setdefault("internalTrafficPolicy", "Cluster")
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    if "port" in port:
                        port.setdefault("targetPort", port["port"])
        elif res.kind == "EndpointSlice":
            for port in obj.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
        elif res.kind == "Endpoints":
            for subset in obj.get("subsets") or []:
                for port in (subset or {}).get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
        elif res.kind == "Namespace":
            spec = obj.setdefault("spec", {})
            spec.setdefault("finalizers", ["kubernetes"])
            status = obj.setdefault("status", {})
            status.setdefault("phase", "Active")
            labels = obj["metadata"].setdefault("labels", {})
            labels.setdefault("kubernetes.io/metadata.name", obj["metadata"]["name"])
        elif res.kind == "Secret":
            obj.setdefault("type", "Opaque")

    def write(self, res, obj, namespace=None, name=None, mode="create", expect_rv=None, subresource=None):
        """Creates or replaces one object. mode: "create" (API POST), "update" (API PUT/PATCH),
        "control" (create or replace, no preconditions, status kept as given).
        Returns (entry, action) with action created|updated|unchanged."""
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        obj = dict(obj)
        obj.pop("apiVersion", None)
        obj.pop("kind", None)
        meta = obj.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        meta = dict(meta)
        obj["metadata"] = meta
        if res.namespaced:
            body_ns = meta.get("namespace")
            if namespace is None:
                namespace = body_ns or "default"
            elif body_ns and body_ns != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = None
        if name is not None:
            if meta.get("name") and meta["name"] != name:
                raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
            meta["name"] = name
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if mode == "create" and prefix:
                alphabet = "bcdfghjklmnpqrstvwxz2456789"
                while True:
                    candidate = prefix + "".join(random.choice(alphabet) for _ in range(5))
                    if res.key(namespace, candidate) not in res.objects:
                        break
                meta["name"] = candidate
            else:
                raise invalid(res, "", "metadata.name", "Required value: name or generateName is required")
        name = meta["name"]
        if res.namespaced and not self.namespace_exists(namespace):
            if mode == "control":
                self.write(self.by_plural["namespaces"], {"metadata": {"name": namespace}}, mode="control")
            else:
                ns_res = self.by_plural["namespaces"]
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found', details(ns_res, namespace))
        key = res.key(namespace, name)
        prev = res.objects.get(key)
        given_rv = meta.get("resourceVersion")
        if mode == "create":
            if prev is not None:
                raise already_exists(res, name)
            if given_rv:
                raise bad_request("resourceVersion should not be set on objects to be created")
        elif mode == "update":
            if prev is None:
                raise not_found(res, name)
            wanted = expect_rv if expect_rv is not None else given_rv
            if wanted:
                if str(wanted) != str(prev.rv):
                    raise conflict(res, name)
            elif not res.builtin:
                raise invalid(res, name, "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")
        # Fields the server owns.
        if prev is not None:
            old_meta = prev.obj["metadata"]
            meta["uid"] = old_meta["uid"]
            meta["creationTimestamp"] = old_meta["creationTimestamp"]
            if res.generation and (mode != "control" or "generation" not in meta):
                meta["generation"] = old_meta.get("generation", 1)
            if res.status and mode == "update":
                if subresource == "status":
                    status = obj.get("status")
                    obj = copy.deepcopy(prev.obj)
                    obj["metadata"]["resourceVersion"] = str(prev.rv)
                    meta = obj["metadata"]
                    if status is None:
                        obj.pop("status", None)
                    else:
                        obj["status"] = status
                elif "status" in prev.obj:
                    obj["status"] = prev.obj["status"]
                else:
                    obj.pop("status", None)
        else:
            meta["uid"] = meta.get("uid") if mode == "control" and meta.get("uid") else str(uuid.uuid4())
            meta["creationTimestamp"] = (meta.get("creationTimestamp") if mode == "control" and meta.get("creationTimestamp")
                                         else now_rfc3339())
            if res.generation and (mode != "control" or "generation" not in meta):
                meta["generation"] = 1
            if res.status and mode == "create":
                obj.pop("status", None)
        meta.pop("resourceVersion", None)
        meta.pop("selfLink", None)
        self._defaults(res, obj, prev)
        if prev is not None:
            if content_without_server_fields(prev.obj) == content_without_server_fields(obj) and \
                    prev.obj["metadata"].get("generation") == meta.get("generation"):
                return prev, "unchanged"
            if spec_part(prev.obj) != spec_part(obj) and "generation" in meta and \
                    meta["generation"] == prev.obj["metadata"].get("generation", 1):
                meta["generation"] = meta["generation"] + 1
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        entry = Entry(obj, self.rv, key)
        self._commit(res, key, "MODIFIED" if prev is not None else "ADDED", entry, prev)
        return entry, "updated" if prev is not None else "created"

    def delete(self, res, namespace, name, preconditions=None):
        key = res.key(namespace, name)
        prev = res.objects.get(key)
        if prev is None:
            raise not_found(res, name)
        preconditions = preconditions or {}
        if preconditions.get("uid") and preconditions["uid"] != prev.obj["metadata"].get("uid"):
            raise conflict(res, name, f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                      f"UID in object meta: {prev.obj['metadata'].get('uid')}")
        if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != str(prev.rv):
            raise conflict(res, name, f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                                      f"ResourceVersion in object meta: {prev.rv}")
        if res.kind == "Namespace":
            # The namespace controller's work, done at once: everything inside goes first.
            for other in self.resources:
                if other.namespaced:
                    for other_key in [k for k in other.sorted_keys() if k.startswith(name + "/")]:
                        entry = other.objects[other_key]
                        self.delete(other, name, entry.obj["metadata"]["name"])
        if res.kind == "Service":
            ip = (prev.obj.get("spec") or {}).get("clusterIP")
            self.cluster_ips.discard(ip)
        self.rv += 1
        obj = dict(prev.obj)
        obj["metadata"] = dict(obj["metadata"], resourceVersion=str(self.rv))
        entry = Entry(obj, self.rv, key)
        self._commit(res, key, "DELETED", entry, prev)
        return entry

    def compact(self):
        with self.lock:
            for res in self.resources:
                res.history.clear()
                res.compacted = self.rv
            return self.rv

    # -- reads ----------------------------------------------------------------------------

    def snapshot(self, res, rv):
        """The resource's objects as they were at `rv`, as a sorted list of entries.
        Raises 410 Expired when the history needed is gone. Caller holds the lock."""
        if rv >= self.rv:
            return [res.objects[k] for k in res.sorted_keys()]
        if rv < res.compacted:
            raise too_old(rv, res.compacted)
        older = {}
        for event in reversed(res.history):
            if event.rv <= rv:
                break
            older[event.entry.key] = event.prev     # the earliest event after rv wins (overwrites)
        if not older:
            return [res.objects[k] for k in res.sorted_keys()]
        state = dict(res.objects)
        for key, prev in older.items():
            if prev is None:
                state.pop(key, None)
            else:
                state[key] = prev
        return [state[k] for k in sorted(state)]


def encode_continue(rv, start_key):
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": start_key + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_continue(text):
    try:
        padded = text + "=" * (-len(text) % 4)
        token = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if token.get("v") != "meta.k8s.io/v1" or not isinstance(token.get("rv"), int):
            raise ValueError
        start = token.get("start", "")
        return token["rv"], start
    except Exception:
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")


# --------------------------------------------------------------------------------------------
# Authentication and authorization
# --------------------------------------------------------------------------------------------


def jwt_subject(token):
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return payload.get("sub")
    except Exception:
        return None


class Auth:
    def __init__(self, tokens, token_file):
        self.static = {}
        for spec in tokens or []:
            token, _, user = spec.partition(",")
            self.static[token] = user or jwt_subject(token) or "token-user"
        self.token_file = token_file

    def tokens(self):
        tokens = dict(self.static)
        if self.token_file:
            try:
                with open(self.token_file, encoding="utf-8") as f:
                    for line in f.read().splitlines():
                        line = line.strip()
                        if line:
                            token, _, user = line.partition(",")
                            tokens[token] = user.split(",")[0] or jwt_subject(token) or "token-user"
            except OSError:
                pass
        return tokens

    def user(self, headers, peer_cert):
        """The user a request authenticates as, or None: a verified client certificate (its CN)
        or a bearer token, whichever succeeds (kube-apiserver's union authenticator)."""
        if peer_cert:
            for rdn in peer_cert.get("subject", ()):
                for attr, value in rdn:
                    if attr == "commonName":
                        return value
        header = headers.get("Authorization") or ""
        if header[:7].lower() == "bearer ":
            return self.tokens().get(header[7:].strip())
        return None


class DenyRules:
    def __init__(self, rules):
        self.lock = threading.Lock()
        self.rules = []
        for rule in rules or []:
            self.add(rule)

    @staticmethod
    def parse(rule):
        parts = rule.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise ValueError(f"deny rule {rule!r} is not VERB:RESOURCE[:NAMESPACE]")
        return (parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def add(self, rule):
        parsed = self.parse(rule)
        with self.lock:
            if parsed not in self.rules:
                self.rules.append(parsed)

    def remove(self, rule):
        parsed = self.parse(rule)
        with self.lock:
            if parsed in self.rules:
                self.rules.remove(parsed)

    def clear(self):
        with self.lock:
            self.rules = []

    def listed(self):
        with self.lock:
            return [":".join(p for p in rule if p is not None) for rule in self.rules]

    def denies(self, verb, plural, namespace):
        with self.lock:
            for v, r, ns in self.rules:
                if v in ("*", verb) and r in ("*", plural) and (ns is None or ns == namespace):
                    return True
        return False


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


def parse_bool(value):
    return value in ("1", "t", "T", "true", "TRUE", "True")


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def parse_documents(text, content_type=""):
    """JSON or YAML (one object, a List, several documents) -> list of dicts."""
    stripped = text.lstrip()
    docs = None
    if stripped[:1] in ("{", "[") and "yaml" not in content_type:
        try:
            parsed = json.loads(text)
            docs = parsed if isinstance(parsed, list) else [parsed]
        except json.JSONDecodeError:
            docs = None
    if docs is None:
        try:
            docs = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
        except yaml.YAMLError as error:
            raise bad_request(f"the body is neither JSON nor YAML: {error}")
    objects = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise bad_request("every document must be an object")
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            list_kind = doc["kind"][:-4]
            for item in doc["items"]:
                if not isinstance(item, dict):
                    raise bad_request("every list item must be an object")
                if "kind" not in item and list_kind:
                    item = dict(item, kind=list_kind, apiVersion=doc.get("apiVersion", "v1"))
                objects.append(item)
        else:
            objects.append(doc)
    return objects


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256

    def __init__(self, address, handler, app):
        self.app = app
        super().__init__(address, handler)

    def get_request(self):
        sock, address = self.socket.accept()
        # The handshake runs in the connection's own thread (APIHandler.setup), not here.
        return self.app.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if not isinstance(error, (OSError, ssl.SSLError, ValueError)):
            super().handle_error(request, client_address)


class APIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin"
    sys_version = ""
    timeout = 300      # idle keep-alive connections close after 5 minutes

    def setup(self):
        self.app = self.server.app
        raw = self.request
        raw.settimeout(10)
        raw.do_handshake()
        self.peer_cert = raw.getpeercert() if self.app.client_ca else None
        self.app.connection_opened(raw)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.app.connection_closed(self.request)

    def log_message(self, format, *args):
        pass

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.app.serve(self, "GET")

    def do_POST(self):
        self.app.serve(self, "POST")

    def do_PUT(self):
        self.app.serve(self, "PUT")

    def do_PATCH(self):
        self.app.serve(self, "PATCH")

    def do_DELETE(self):
        self.app.serve(self, "DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def raw_shutdown(sock):
    """Shuts a socket down below TLS (an SSLSocket's own shutdown would drop its SSL state
    under a thread that may be reading)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# The API server
# --------------------------------------------------------------------------------------------


class App:
    def __init__(self, args):
        self.args = args
        self.store = Store(args.history)
        self.auth = Auth(args.token, args.token_file)
        self.deny = DenyRules(args.deny)
        # Continue tokens to refuse as expired from now on (POST /expire-continue), as when the
        # server's compaction passed the list's version between two pages.
        self.expire_continues = 0
        self.client_ca = args.client_ca
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(args.tls_cert, args.tls_key)
        self.tls.set_alpn_protocols(["http/1.1"])
        if args.client_ca:
            self.tls.load_verify_locations(args.client_ca)
            self.tls.verify_mode = ssl.CERT_OPTIONAL
        self.requests_lock = threading.Lock()
        self.requests = collections.deque(maxlen=100_000)
        self.connections_lock = threading.Lock()
        self.connections = set()
        self.server_lock = threading.Lock()
        self.server = None
        self.port = args.port
        self.down_generation = 0

    # -- listener --------------------------------------------------------------------------

    def listen(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                server = TLSServer((args_host(self.args), self.port), APIHandler, self)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port = server.server_address[1]
        self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def go_down(self, seconds):
        with self.server_lock:
            self.down_generation += 1
            generation = self.down_generation
            server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self.store.lock:
            for watcher in list(self.store.watchers):
                watcher.queue.put(BREAK)
        with self.connections_lock:
            connections = list(self.connections)
        for sock in connections:
            raw_shutdown(sock)

        def come_back():
            time.sleep(seconds)
            with self.server_lock:
                if self.down_generation == generation and self.server is None:
                    self.listen()
        threading.Thread(target=come_back, daemon=True).start()

    def come_up(self):
        with self.server_lock:
            self.down_generation += 1
            if self.server is None:
                self.listen()

    def connection_opened(self, sock):
        with self.connections_lock:
            self.connections.add(sock)

    def connection_closed(self, sock):
        with self.connections_lock:
            self.connections.discard(sock)

    # -- request log ---------------------------------------------------------------------------

    def record(self, handler, method, parts, user, status, watch, verb=None, res=None, namespace=None):
        with self.requests_lock:
            self.requests.append({"time": time.time(), "method": method, "path": parts.path, "query": parts.query,
                                  "user": user, "status": status, "watch": watch, "verb": verb,
                                  "resource": res.plural if res else None, "namespace": namespace})

    # -- dispatch ------------------------------------------------------------------------------

    def serve(self, handler, method):
        parts = urlsplit(handler.path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            body = handler.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        except (OSError, ValueError):
            handler.close_connection = True
            return
        if segments in (["healthz"], ["livez"], ["readyz"]) and method == "GET":
            handler.reply(200, "ok", "text/plain; charset=utf-8")
            self.record(handler, method, parts, None, 200, False)
            return
        if segments == ["version"] and method == "GET":
            handler.reply(200, dumps(VERSION_INFO) + "\n")
            self.record(handler, method, parts, None, 200, False)
            return
        user = self.auth.user(handler.headers, getattr(handler, "peer_cert", None))
        if user is None:
            self.fail(handler, ApiError(401, "Unauthorized", "Unauthorized"))
            self.record(handler, method, parts, None, 401, False)
            return
        verb, res, namespace = None, None, None
        try:
            route = self.route(segments)
            if route[0] == "discovery":
                if method != "GET":
                    raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource")
                handler.reply(200, dumps(route[1]) + "\n")
                self.record(handler, method, parts, user, 200, False, "get")
                return
            _, res, version, namespace, name, subresource, watch_path = route
            watch = watch_path or parse_bool(query.get("watch", ""))
            verb = self.verb(method, name, watch)
            if verb is None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            if self.deny.denies(verb, res.plural, namespace):
                scope = f'in the namespace "{namespace}"' if namespace is not None else "at the cluster scope"
                sub = f"/{subresource}" if subresource else ""
                subject = f'{res.group_resource} "{name}"' if name else res.group_resource
                raise ApiError(403, "Forbidden",
                               f'{subject} is forbidden: User "{user}" cannot {verb} resource "{res.plural}{sub}" '
                               f'in API group "{res.group}" {scope}', details(res, name))
            if verb == "watch":
                self.watch(handler, res, version, namespace, name, query,
                           lambda: self.record(handler, method, parts, user, 200, True, verb, res, namespace))
                return
            code, payload = self.execute(verb, res, version, namespace, name, subresource, query, body,
                                         handler.headers.get("Content-Type", ""))
            handler.reply(code, payload)
            self.record(handler, method, parts, user, code, False, verb, res, namespace)
        except ApiError as error:
            self.fail(handler, error)
            self.record(handler, method, parts, user, error.code, False, verb, res, namespace)

    def fail(self, handler, error):
        handler.reply(error.code, dumps(error.status()) + "\n")

    @staticmethod
    def verb(method, name, watch):
        if watch:
            return "watch" if method == "GET" else None
        return {("GET", True): "get", ("GET", False): "list", ("POST", False): "create",
                ("PUT", True): "update", ("PATCH", True): "patch", ("DELETE", True): "delete",
                ("DELETE", False): "deletecollection"}.get((method, name is not None))

    def route(self, segments):
        """-> ("discovery", document) or ("resource", res, version, namespace, name, subresource, watch_path)."""
        store = self.store
        if not segments or segments[0] not in ("api", "apis"):
            raise PATH_NOT_FOUND
        if segments[0] == "api":
            if len(segments) == 1:
                return ("discovery", {"kind": "APIVersions", "versions": ["v1"],
                                      "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                      "serverAddress": f"127.0.0.1:{self.port}"}]})
            group, version, rest = "", segments[1], segments[2:]
        else:
            if len(segments) == 1:
                return ("discovery", self.group_list())
            group = segments[1]
            if len(segments) == 2:
                document = self.group_document(group)
                if document is None:
                    raise PATH_NOT_FOUND
                return ("discovery", document)
            version, rest = segments[2], segments[3:]
        plurals = store.by_gv.get((group, version))
        if plurals is None or (group == "" and segments[0] != "api"):
            raise PATH_NOT_FOUND
        if not rest:
            return ("discovery", self.resource_list(group, version))
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise PATH_NOT_FOUND
        res = plurals.get(rest[0])
        if res is None or (namespace is not None and not res.namespaced):
            raise PATH_NOT_FOUND
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource is not None and (subresource != "status" or not res.status or watch_path):
            raise PATH_NOT_FOUND
        if not res.namespaced:
            namespace = None
        return ("resource", res, version, namespace, name, subresource, watch_path)

    # -- discovery -------------------------------------------------------------------------

    def groups(self):
        seen = collections.OrderedDict()
        for res in self.store.resources:
            if res.group:
                versions = seen.setdefault(res.group, [])
                for v in res.versions:
                    if v not in versions:
                        versions.append(v)
        return seen

    def group_document(self, group):
        versions = self.groups().get(group)
        if versions is None:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]}}

    def group_list(self):
        groups = []
        for group in self.groups():
            document = self.group_document(group)
            del document["kind"], document["apiVersion"]
            groups.append(document)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group, version):
        resources = []
        for res in self.store.by_gv[(group, version)].values():
            entry = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                     "kind": res.kind, "verbs": VERBS}
            if res.short:
                entry["shortNames"] = res.short
            if res.categories:
                entry["categories"] = res.categories
            resources.append(entry)
            if res.status:
                resources.append({"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced,
                                  "kind": res.kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}

    # -- verbs -------------------------------------------------------------------------------

    def execute(self, verb, res, version, namespace, name, subresource, query, body, content_type):
        store = self.store
        if query.get("dryRun"):
            raise bad_request("dryRun is not supported by the stand-in API server")
        if verb == "get":
            with store.lock:
                entry = res.objects.get(res.key(namespace, name))
            if entry is None:
                raise not_found(res, name)
            return 200, entry.typed(res, version) + "\n"
        if verb == "list":
            return 200, self.list(res, version, namespace, query)
        if verb == "create":
            obj = self.body_object(body, content_type, res, version)
            with store.lock:
                entry, _ = store.write(res, obj, namespace, None, mode="create")
            return 201, entry.typed(res, version) + "\n"
        if verb == "update":
            obj = self.body_object(body, content_type, res, version)
            with store.lock:
                entry, _ = store.write(res, obj, namespace, name, mode="update", subresource=subresource)
            return 200, entry.typed(res, version) + "\n"
        if verb == "patch":
            kind = content_type.split(";")[0].strip().lower()
            try:
                patch = json.loads(body or b"null")
            except json.JSONDecodeError as error:
                raise bad_request(f"the body of the request was in an unknown format: {error}")
            with store.lock:
                current = res.objects.get(res.key(namespace, name))
                if current is None:
                    raise not_found(res, name)
                doc = {"apiVersion": res.api_version(version), "kind": res.kind, **copy.deepcopy(current.obj)}
                if kind == "application/merge-patch+json":
                    patched = merge_patch(doc, patch)
                elif kind == "application/json-patch+json":
                    patched = json_patch(doc, patch)
                elif kind == "application/strategic-merge-patch+json":
                    if not res.builtin:
                        raise ApiError(415, "UnsupportedMediaType",
                                       f'the body of the request was in an unknown format - accepted media types include: '
                                       f'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml')
                    patched = strategic_merge_patch(res.kind, doc, patch)
                else:
                    raise ApiError(415, "UnsupportedMediaType",
                                   f"the body of the request was in an unknown format - accepted media types include: "
                                   f"application/json-patch+json, application/merge-patch+json"
                                   f"{', application/strategic-merge-patch+json' if res.builtin else ''}")
                if not isinstance(patched, dict):
                    raise bad_request("the patch did not produce an object")
                # A resourceVersion the patch leaves in the object is a precondition; without one
                # the patch applies to the current version.
                wanted = (patched.get("metadata") or {}).get("resourceVersion")
                if wanted and str(wanted) != str(current.rv):
                    raise conflict(res, name)
                expect = str(current.rv)
                entry, _ = store.write(res, patched, namespace, name, mode="update", expect_rv=expect,
                                       subresource=subresource)
            return 200, entry.typed(res, version) + "\n"
        if verb == "delete":
            options = {}
            if body:
                try:
                    options = json.loads(body) or {}
                except json.JSONDecodeError:
                    raise bad_request("the body of the request was in an unknown format")
            with store.lock:
                entry = store.delete(res, namespace, name, (options or {}).get("preconditions"))
            return 200, entry.typed(res, version) + "\n"
        if verb == "deletecollection":
            flt = Filter(res, namespace, None, query.get("labelSelector"), query.get("fieldSelector"))
            deleted = []
            with store.lock:
                for key in list(res.sorted_keys()):
                    entry = res.objects.get(key)
                    if entry is not None and flt.matches(entry):
                        meta = entry.obj["metadata"]
                        deleted.append(store.delete(res, meta.get("namespace"), meta["name"]))
                rv = store.rv
            return 200, self.list_body(res, version, rv, deleted, None, None)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def body_object(self, body, content_type, res, version):
        try:
            if "yaml" in content_type:
                obj = yaml.load(body.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            else:
                obj = json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"the body of the request was in an unknown format: {error}")
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        kind = obj.get("kind")
        if kind and kind != res.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        api_version = obj.get("apiVersion")
        if api_version:
            group = api_version.rpartition("/")[0]
            if group != res.group or api_version.rpartition("/")[2] not in res.versions:
                raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                                  f"({res.api_version(version)})")
        return obj

    # -- list ----------------------------------------------------------------------------------

    def list_body(self, res, version, rv, entries, continue_token, remaining):
        meta = '"resourceVersion":"%d"' % rv
        if continue_token:
            meta += ',"continue":"%s"' % continue_token
        if remaining:
            meta += ',"remainingItemCount":%d' % remaining
        if res.builtin:
            items = ",".join(e.body for e in entries)
        else:
            items = ",".join(e.typed(res, version) for e in entries)
        return '{"kind":"%sList","apiVersion":"%s","metadata":{%s},"items":[%s]}\n' % (
            res.kind, res.api_version(version), meta, items)

    def wait_for_rv(self, rv):
        deadline = time.monotonic() + 3
        while self.store.rv < rv:
            if time.monotonic() > deadline:
                raise ApiError(504, "Timeout", f"Too large resource version: {rv}, current: {self.store.rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                                "retryAfterSeconds": 1})
            time.sleep(0.05)

    def list(self, res, version, namespace, query):
        store = self.store
        flt = Filter(res, namespace, None, query.get("labelSelector"), query.get("fieldSelector"))
        limit_text = query.get("limit", "")
        try:
            limit = int(limit_text) if limit_text else 0
        except ValueError:
            raise bad_request(f"limit: Invalid value: {limit_text!r}")
        rv_text = query.get("resourceVersion")
        match = query.get("resourceVersionMatch", "")
        token = query.get("continue")
        if match and match not in ("NotOlderThan", "Exact"):
            raise bad_request(f"resourceVersionMatch: Unsupported value: {match!r}")
        if match and not rv_text:
            raise bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        start = ""
        if token:
            if rv_text:
                raise bad_request("specifying resource version is not allowed when using continue")
            at, start = decode_continue(token)
            exact = True
            with store.lock:
                expire = self.expire_continues > 0
                if expire:
                    self.expire_continues -= 1
            if expire:
                raise self.expired_continue(res, at, start, flt)
        else:
            exact = match == "Exact"
            if rv_text:
                try:
                    at = int(rv_text)
                except ValueError:
                    raise bad_request(f"invalid resource version {rv_text!r}")
                if exact and at == 0:
                    raise bad_request("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
                if at > store.rv:
                    self.wait_for_rv(at)
            else:
                at = 0
        with store.lock:
            current = store.rv
            if exact:
                try:
                    entries = store.snapshot(res, at)
                except ApiError as error:
                    if token:
                        raise self.expired_continue(res, at, start, flt)
                    raise error
                list_rv = at
            else:
                entries = [res.objects[k] for k in res.sorted_keys()]
                list_rv = current
        if start:
            # Keys after the one the token names (start is "lastkey\0": the next key up).
            low, high = 0, len(entries)
            while low < high:
                mid = (low + high) // 2
                if entries[mid].key < start:
                    low = mid + 1
                else:
                    high = mid
            entries = entries[low:]
        if namespace is not None and res.namespaced:
            prefix = namespace + "/"
            entries = [e for e in entries if e.key.startswith(prefix)]
        if not flt.trivial:
            entries = [e for e in entries if flt.matches(e)]
        next_token, remaining = None, None
        if limit > 0 and len(entries) > limit:
            remaining = len(entries) - limit if flt.trivial else None
            entries = entries[:limit]
            next_token = encode_continue(list_rv, entries[-1].key)
        return self.list_body(res, version, list_rv, entries, next_token, remaining)

    def expired_continue(self, res, at, start, flt):
        """410 for a continue token whose snapshot is gone, with a token for an inconsistent
        continuation at the current RV, as kube-apiserver gives."""
        with self.store.lock:
            rv = self.store.rv
        return ApiError(410, "Expired",
                        "The provided continue parameter is too old to display a consistent list result. You can start a "
                        "new list without the continue parameter, or use the continue token in this response to retrieve "
                        "the remainder of the results. Continuing with the provided token results in an inconsistent list "
                        "- objects that were created, modified, or deleted between the time the first chunk was returned "
                        "and now may show up in the list.",
                        extra_metadata={"continue": encode_continue(rv, start.rstrip("\x00"))})

    # -- watch ---------------------------------------------------------------------------------

    def watch(self, handler, res, version, namespace, name, query, record):
        store = self.store
        flt = Filter(res, namespace, name, query.get("labelSelector"), query.get("fieldSelector"))
        rv_text = query.get("resourceVersion", "")
        bookmarks = parse_bool(query.get("allowWatchBookmarks", ""))
        send_initial = parse_bool(query.get("sendInitialEvents", ""))
        try:
            timeout = int(query.get("timeoutSeconds") or 0)
        except ValueError:
            raise bad_request(f"timeoutSeconds: Invalid value: {query.get('timeoutSeconds')!r}")
        if timeout <= 0:
            minimum = self.args.min_request_timeout
            timeout = minimum * (1 + random.random())
        if send_initial and (query.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks):
            raise ApiError(422, "Invalid", "sendInitialEvents=true requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true")
        if rv_text and not rv_text.isdigit():
            raise bad_request(f"invalid resource version {rv_text!r}")
        watcher = Watcher(res, version, flt, handler.connection)
        initial, error, initial_end_rv = [], None, None
        with store.lock:
            if not rv_text or rv_text == "0" or send_initial:
                initial = [("ADDED", res.objects[k]) for k in res.sorted_keys()]
                if send_initial:
                    initial_end_rv = store.rv
            else:
                rv = int(rv_text)
                if rv < res.compacted:
                    error = too_old(rv, res.compacted)
                else:
                    initial = [event for event in res.history if event.rv > rv]
            if error is None:
                res.watchers.add(watcher)
                store.watchers.add(watcher)
        record()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Cache-Control", "no-cache, private")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        out = handler.wfile
        try:
            if error is not None:
                out.write(chunk(self.error_event(error)) + b"0\r\n\r\n")
                return
            ended_cleanly = self.stream(handler, watcher, initial, initial_end_rv, bookmarks, timeout)
            if ended_cleanly:
                out.write(b"0\r\n\r\n")
            else:
                handler.close_connection = True
                raw_shutdown(handler.connection)
        except (OSError, ValueError):
            handler.close_connection = True
        finally:
            with store.lock:
                res.watchers.discard(watcher)
                store.watchers.discard(watcher)

    @staticmethod
    def error_event(error):
        return ('{"type":"ERROR","object":%s}\n' % dumps(error.status())).encode()

    def render(self, watcher, item):
        """A history event as the watcher sees it (selectors turn moves in/out into ADDED/DELETED), or None."""
        res, version, flt = watcher.res, watcher.version, watcher.filter
        if isinstance(item, tuple):             # synthetic initial ADDED
            type_, entry = item
            if not flt.matches(entry):
                return None
            return ('{"type":"ADDED","object":%s}\n' % entry.typed(res, version)).encode()
        event = item
        now = event.type != "DELETED" and flt.matches(event.entry)
        before = event.prev is not None and flt.matches(event.prev)
        if now and before:
            type_, entry = "MODIFIED", event.entry
        elif now:
            type_, entry = "ADDED", event.entry
        elif before:
            type_ = "DELETED"
            if event.type == "DELETED":
                entry = event.entry
            else:   # moved out of the selector: the previous content at the event's RV
                obj = dict(event.prev.obj)
                obj["metadata"] = dict(obj["metadata"], resourceVersion=str(event.rv))
                entry = Entry(obj, event.rv, event.entry.key)
        else:
            return None
        return ('{"type":"%s","object":%s}\n' % (type_, entry.typed(res, version))).encode()

    def stream(self, handler, watcher, initial, initial_end_rv, bookmarks, timeout):
        """Writes events until the timeout (True: end cleanly) or an abort (False)."""
        out = handler.wfile
        sock = handler.connection
        res, version = watcher.res, watcher.version
        batch = []
        for item in initial:
            data = self.render(watcher, item)
            if data is not None:
                batch.append(chunk(data))
                if len(batch) >= 256:
                    out.write(b"".join(batch))
                    batch = []
        if initial_end_rv is not None:
            batch.append(chunk(('{"type":"BOOKMARK","object":{"kind":"%s","apiVersion":"%s","metadata":{"resourceVersion":"%d",'
                                '"annotations":{"k8s.io/initial-events-end":"true"}}}}\n'
                                % (res.kind, res.api_version(version), initial_end_rv)).encode()))
        if batch:
            out.write(b"".join(batch))
        start = time.monotonic()
        deadline = start + timeout
        interval = self.args.bookmark_interval
        next_bookmark = start + interval if bookmarks else float("inf")
        q = watcher.queue
        while True:
            now = time.monotonic()
            if now >= deadline:
                return True
            wait = min(deadline, next_bookmark, now + 0.25) - now
            try:
                item = q.get(timeout=max(wait, 0.001))
            except queue.Empty:
                item = None
            if item is None:
                if self.client_gone(sock):
                    return False
                if time.monotonic() >= next_bookmark:
                    with self.store.lock:
                        rv = self.store.rv if q.empty() else None
                    if rv is not None:
                        out.write(chunk(('{"type":"BOOKMARK","object":{"kind":"%s","apiVersion":"%s","metadata":{"resourceVersion":"%d"}}}\n'
                                         % (res.kind, res.api_version(version), rv)).encode()))
                    next_bookmark = time.monotonic() + interval
                continue
            batch = []
            while True:
                if item is BREAK:
                    if batch:
                        out.write(b"".join(batch))
                    return False
                if item is ERROR_410:
                    with self.store.lock:
                        rv = self.store.rv
                    batch.append(chunk(self.error_event(too_old(rv, rv))))
                    out.write(b"".join(batch))
                    return True
                data = self.render(watcher, item)
                if data is not None:
                    batch.append(chunk(data))
                if len(batch) >= 256:
                    break
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                out.write(b"".join(batch))

    @staticmethod
    def client_gone(sock):
        """During a watch a client sends nothing: anything readable is its FIN (or close_notify)."""
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    # -- control -------------------------------------------------------------------------------

    def apply(self, objects):
        """Creates or replaces each object (control API and --seed): no preconditions."""
        store = self.store
        results = []
        resolved = []
        for obj in objects:
            api_version, kind = obj.get("apiVersion"), obj.get("kind")
            if not api_version or not kind:
                raise bad_request(f"an object without apiVersion/kind: {dumps(obj.get('metadata', {}))[:200]}")
            resolved.append((obj, store.resource_for(api_version, kind)[0]))
        with store.lock:
            for obj, res in resolved:
                api_version, kind = obj["apiVersion"], obj["kind"]
                entry, action = store.write(res, obj, mode="control")
                meta = entry.obj["metadata"]
                results.append({"apiVersion": api_version, "kind": kind, "namespace": meta.get("namespace"),
                                "name": meta["name"], "resourceVersion": str(entry.rv), "action": action})
            rv = store.rv
            event_time = store.last_dispatch_ns
        return {"resourceVersion": str(rv), "eventTimeNs": event_time, "objects": results}


VERSION_INFO = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-mizzen-standin", "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5",
                "compiler": "gc", "platform": "linux/amd64"}


def args_host(args):
    return args.host


# --------------------------------------------------------------------------------------------
# Control API (plain HTTP, 127.0.0.1)
# --------------------------------------------------------------------------------------------

CONTROL = """
POST   /objects                       YAML/JSON: one object, a List, or several documents; each
                                      created or replaced -> {"resourceVersion", "eventTimeNs", "objects": [...]}
DELETE /objects/PLURAL/NS|_/NAME      -> {"resourceVersion", "eventTimeNs"} (404 Status when absent)
POST   /compact                       drop all history -> {"resourceVersion"}
POST   /expire-continue?count=N       the next N list requests with a continue token get 410 Expired
                                      (as after a compaction past the list's version) -> {"expireContinues"}
POST   /break-watches                 abort every open watch (socket closed, no final chunk) -> {"watches"}
POST   /error-watches                 ERROR 410 Expired to every open watch, then end it -> {"watches"}
POST   /down?seconds=N                close the listener and every connection; listen again on the same port after N s
POST   /up                            listen again now
GET    /requests                      [{"time","method","path","query","user","status","watch","verb","resource","namespace"}]
DELETE /requests                      clear the log
GET    /watches                       {"PLURAL": open watches, ...}
GET    /deny  POST /deny  DELETE /deny   {"rules": ["VERB:RESOURCE[:NS]", ...]} (DELETE without a body clears all)
GET    /state                         {"resourceVersion", "objects": {PLURAL: count}, "compacted": {PLURAL: rv}}
GET    /healthz                       {"ok": true, "apiListening": bool, "port"}
"""


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin-control"
    sys_version = ""

    def log_message(self, format, *args):
        pass

    def reply(self, code, payload):
        data = (dumps(payload) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_control("GET")

    def do_POST(self):
        self.handle_control("POST")

    def do_DELETE(self):
        self.handle_control("DELETE")

    def handle_control(self, method):
        app = self.server.app
        store = app.store
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if path == "/objects" and method == "POST":
                objects = parse_documents(body.decode("utf-8"), self.headers.get("Content-Type", ""))
                return self.reply(200, app.apply(objects))
            if path.startswith("/objects/") and method == "DELETE":
                segments = [unquote(s) for s in path.split("/")[2:]]
                if len(segments) != 3:
                    raise bad_request("DELETE /objects/PLURAL/NAMESPACE|_/NAME")
                plural, namespace, name = segments
                res = store.by_plural.get(plural)
                if res is None:
                    raise bad_request(f"unknown resource {plural!r}")
                with store.lock:
                    entry = store.delete(res, namespace if res.namespaced and namespace != "_" else None, name)
                    event_time = store.last_dispatch_ns
                return self.reply(200, {"resourceVersion": str(entry.rv), "eventTimeNs": event_time})
            if path == "/expire-continue" and method == "POST":
                with store.lock:
                    app.expire_continues = int(query.get("count", "1"))
                return self.reply(200, {"expireContinues": app.expire_continues})
            if path == "/compact" and method == "POST":
                return self.reply(200, {"resourceVersion": str(store.compact())})
            if path in ("/break-watches", "/error-watches") and method == "POST":
                signal_item = BREAK if path == "/break-watches" else ERROR_410
                with store.lock:
                    watchers = list(store.watchers)
                    for watcher in watchers:
                        watcher.queue.put(signal_item)
                if signal_item is BREAK:
                    for watcher in watchers:
                        raw_shutdown(watcher.connection)
                return self.reply(200, {"watches": len(watchers)})
            if path == "/down" and method == "POST":
                seconds = float(query.get("seconds", "1"))
                app.go_down(seconds)
                return self.reply(200, {"down": True, "seconds": seconds, "port": app.port})
            if path == "/up" and method == "POST":
                app.come_up()
                return self.reply(200, {"down": False, "port": app.port})
            if path == "/requests":
                if method == "GET":
                    with app.requests_lock:
                        return self.reply(200, list(app.requests))
                if method == "DELETE":
                    with app.requests_lock:
                        app.requests.clear()
                    return self.reply(200, {"cleared": True})
            if path == "/watches" and method == "GET":
                with store.lock:
                    return self.reply(200, {res.plural: len(res.watchers) for res in store.resources})
            if path == "/deny":
                rules = []
                if body:
                    parsed = json.loads(body)
                    rules = parsed.get("rules", []) if isinstance(parsed, dict) else parsed
                if "rule" in query:
                    rules.append(query["rule"])
                try:
                    if method == "POST":
                        for rule in rules:
                            app.deny.add(rule)
                    elif method == "DELETE":
                        if rules:
                            for rule in rules:
                                app.deny.remove(rule)
                        else:
                            app.deny.clear()
                except ValueError as error:
                    raise bad_request(str(error))
                return self.reply(200, {"rules": app.deny.listed()})
            if path == "/state" and method == "GET":
                with store.lock:
                    return self.reply(200, {"resourceVersion": str(store.rv),
                                            "objects": {r.plural: len(r.objects) for r in store.resources},
                                            "compacted": {r.plural: r.compacted for r in store.resources}})
            if path == "/healthz" and method == "GET":
                return self.reply(200, {"ok": True, "apiListening": app.server is not None, "port": app.port})
            raise ApiError(404, "NotFound", f"no control endpoint {method} {path}; see:\n{CONTROL}")
        except ApiError as error:
            self.reply(error.code, error.status())
        except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as error:
            self.reply(400, bad_request(str(error)).status())


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, app):
        self.app = app
        super().__init__(address, ControlHandler)


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def seed_files(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".yaml", ".yml", ".json"))]
        else:
            files.append(path)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CONTROL)
    peerlib.add_server_arguments(parser)
    parser.add_argument("--ready-file", help='write {"port", "control_port"} here once listening')
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    parser.add_argument("--client-ca", help="accept client certificates verified against this CA (user = CN)")
    parser.add_argument("--token", action="append", default=[], help="accepted bearer token, TOKEN or TOKEN,USER (repeatable)")
    parser.add_argument("--token-file", help="accepted bearer tokens, one a line, re-read on every request")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--history", type=int, default=1000, help="events kept per resource for watches (default 1000)")
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    parser.add_argument("--min-request-timeout", type=float, default=1800.0,
                        help="a watch without timeoutSeconds ends after a random time in [t, 2t] (default 1800)")
    parser.add_argument("--seed", action="append", default=[], help="YAML/JSON file or directory of objects loaded at start")
    parser.add_argument("--deny", action="append", default=[], help="VERB:RESOURCE[:NAMESPACE]: 403 Forbidden (repeatable)")
    args = parser.parse_args()
    if not args.token and not args.token_file and not args.client_ca:
        parser.error("no way to authenticate: give --token, --token-file or --client-ca")
    peerlib.exit_with_parent(args)

    try:
        app = App(args)
    except ValueError as error:
        parser.error(str(error))
    for path in seed_files(args.seed):
        with open(path, encoding="utf-8") as f:
            try:
                app.apply(parse_documents(f.read()))
            except ApiError as error:
                sys.exit(f"kube_apiserver.py: --seed {path}: {error.message}")
    app.listen()
    control = ControlServer(("127.0.0.1", args.control_port), app)
    threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    ready = {"port": app.port, "control_port": control.server_address[1]}
    if args.ready_file:
        temporary = args.ready_file + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(ready, f)
        os.replace(temporary, args.ready_file)
    print(f"kube_apiserver.py: API https://127.0.0.1:{app.port}, control http://127.0.0.1:{ready['control_port']}",
          file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
