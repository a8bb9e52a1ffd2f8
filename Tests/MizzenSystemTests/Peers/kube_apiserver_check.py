#!/usr/bin/env python3
"""Checks kube_apiserver.py with the official Kubernetes Python client only.

    kube_apiserver_check.py [--keep]

Makes a PKI with kube_certs.sh in a temporary folder, starts the stand-in (token, token file,
client CA, short history, bookmark interval and server-side timeout, one --deny rule), and
drives it through kubernetes.client, kubernetes.watch and kubernetes.config the way a
controller would. Prints one line per check (PASS/FAIL name, time, reason) and exits 0 only
when every check passes. --keep leaves the temporary folder (certificates, kubeconfigs,
server log) for a look afterwards.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "check-token"
MIN_REQUEST_TIMEOUT = 1.0
BOOKMARK_INTERVAL = 0.3
HISTORY = 200


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


class Stand:
    """The stand-in, started for the checks, and the clients that talk to it."""

    def __init__(self, directory):
        self.directory = directory
        self.certs = os.path.join(directory, "pki")
        subprocess.run(["bash", os.path.join(HERE, "kube_certs.sh"), self.certs], check=True)
        self.token_file = os.path.join(directory, "token")
        with open(self.token_file, "w") as f:
            f.write("rotating-token-1\n")
        ready = os.path.join(directory, "ready.json")
        self.log = open(os.path.join(directory, "server.log"), "w")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "kube_apiserver.py"), "--port", "0", "--control-port", "0",
             "--ready-file", ready, "--tls-cert", self.cert("server.crt"), "--tls-key", self.cert("server.key"),
             "--client-ca", self.cert("ca.crt"), "--token", TOKEN, "--token-file", self.token_file,
             "--history", str(HISTORY), "--bookmark-interval", str(BOOKMARK_INTERVAL),
             "--min-request-timeout", str(MIN_REQUEST_TIMEOUT), "--deny", "list:secrets:restricted",
             "--parent-pid", str(os.getpid())],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stand-in did not start: {open(self.log.name).read()}")
            time.sleep(0.02)
        with open(ready) as f:
            ports = json.load(f)
        self.port, self.control_port = ports["port"], ports["control_port"]
        self.url = f"https://127.0.0.1:{self.port}"

    def cert(self, name):
        return os.path.join(self.certs, name)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    # -- clients ------------------------------------------------------------------------------

    def api_client(self, token=TOKEN):
        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.cert("ca.crt")
        if token is not None:
            configuration.api_key = {"authorization": token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.retries = False
        return client.ApiClient(configuration)

    def core(self, token=TOKEN):
        return client.CoreV1Api(self.api_client(token))

    def custom(self, token=TOKEN):
        return client.CustomObjectsApi(self.api_client(token))

    def kubeconfig(self, name, user):
        def data(path):
            with open(path, "rb") as f:
                return base64.b64encode(f.read()).decode()
        document = {
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url,
                                                          "certificate-authority-data": data(self.cert("ca.crt"))}}],
            "users": [{"name": "user", "user": {"client-certificate-data": data(self.cert(f"{user}.crt")),
                                                 "client-key-data": data(self.cert(f"{user}.key"))}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "user", "namespace": "default"}}],
        }
        path = os.path.join(self.directory, name)
        with open(path, "w") as f:
            yaml.safe_dump(document, f)
        return path

    # -- control API --------------------------------------------------------------------------

    def control(self, method, path, body=None, timeout=60):
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def apply(self, objects):
        return self.control("POST", "/objects", json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

    def requests(self):
        return self.control("GET", "/requests")

    def watches(self, plural):
        return self.control("GET", "/watches").get(plural, 0)

    def wait_watches(self, plural, count, timeout=5):
        deadline = time.monotonic() + timeout
        while self.watches(plural) != count:
            if time.monotonic() > deadline:
                raise Failure(f"{self.watches(plural)} open watches on {plural}, expected {count}")
            time.sleep(0.02)


def service(name, namespace, labels=None, port=80):
    return client.V1Service(metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
                            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=port, name="http")]))


def virtual_service(name, namespace, host):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": host}}]}]}}


def namespace(core, name):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))


def api_error(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as error:
        return error
    raise Failure(f"{getattr(call, '__name__', call)} succeeded; an ApiException was expected")


def status_of(error):
    return json.loads(error.body) if error.body else {}


class Collector:
    """A watch.Watch().stream in a thread: its events as they come and how it ended."""

    def __init__(self, func, *args, **kwargs):
        self.watch = watch.Watch()
        self.events = []
        self.error = None
        self.ended = threading.Event()
        self.lock = threading.Lock()

        def run():
            try:
                for event in self.watch.stream(func, *args, **kwargs):
                    with self.lock:
                        self.events.append(event)
            except BaseException as error:   # noqa: BLE001 - reported by the check
                self.error = error
            finally:
                self.ended.set()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout=5, what="events"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.events):
                    return list(self.events)
            if self.ended.is_set():
                break
            time.sleep(0.01)
        with self.lock:
            if predicate(self.events):
                return list(self.events)
        raise Failure(f"no {what} within {timeout}s: got {[e['type'] for e in self.events]}, error {self.error!r}")

    def stop(self):
        self.watch.stop()
        self.ended.wait(5)


def types(events, skip_bookmarks=True):
    return [e["type"] for e in events if not (skip_bookmarks and e["type"] == "BOOKMARK")]


def rv_of(event):
    return int(event["raw_object"]["metadata"]["resourceVersion"])


# ------------------------------------------------------------------------------------------------
# The checks, in order
# ------------------------------------------------------------------------------------------------

CHECKS = []


def check(function):
    CHECKS.append(function)
    return function


@check
def discovery_and_version(s):
    core_versions = client.CoreApi(s.api_client()).get_api_versions()
    expect(core_versions.versions == ["v1"], f"/api versions {core_versions.versions}")
    groups = {g.name: g for g in client.ApisApi(s.api_client()).get_api_versions().groups}
    for group in ("discovery.k8s.io", "networking.istio.io", "security.istio.io"):
        expect(group in groups, f"/apis lacks {group}: {sorted(groups)}")
    expect(groups["networking.istio.io"].preferred_version.version == "v1", "networking.istio.io preferred version")
    expect({v.version for v in groups["networking.istio.io"].versions} >= {"v1", "v1beta1", "v1alpha3"}, "istio versions")
    resources = client.CoreV1Api(s.api_client()).get_api_resources()
    names = {r.name: r for r in resources.resources}
    expect(names["namespaces"].namespaced is False and names["services"].namespaced is True, "core resources")
    raw = s.api_client().call_api("GET", f"{s.url}/apis/security.istio.io/v1beta1",
                                  header_params={"Authorization": f"Bearer {TOKEN}"})
    raw.read()
    listed = json.loads(raw.data)
    expect({r["name"] for r in listed["resources"]} >= {"peerauthentications", "authorizationpolicies", "requestauthentications"},
           f"security.istio.io/v1beta1 resources {listed}")
    version = client.VersionApi(s.api_client()).get_code()
    expect(version.major == "1" and version.git_version.startswith("v1."), f"version {version}")


@check
def token_authentication(s):
    namespaces = [n.metadata.name for n in s.core().list_namespace().items]
    expect("default" in namespaces and "kube-system" in namespaces, f"namespaces {namespaces}")
    for token in ("wrong-token", None):
        error = api_error(s.core(token).list_namespace)
        expect(error.status == 401, f"token {token!r}: status {error.status}")
        body = status_of(error)
        expect(body.get("kind") == "Status" and body.get("reason") == "Unauthorized" and body.get("code") == 401,
               f"401 body {body}")
    users = {r["user"] for r in s.requests() if r["path"] == "/api/v1/namespaces" and r["status"] == 200}
    expect(users == {"token-user"}, f"users {users}")


@check
def token_file_is_reread(s):
    expect(s.core("rotating-token-1").list_namespace().items, "the first token from the file")
    with open(s.token_file, "w") as f:
        f.write("rotating-token-2\n")
    expect(api_error(s.core("rotating-token-1").list_namespace).status == 401, "the rotated-out token still works")
    expect(s.core("rotating-token-2").list_namespace().items, "the rotated-in token")


@check
def service_create_get_replace_delete(s):
    core = s.core()
    namespace(core, "crud")
    created = core.create_namespaced_service("crud", service("reviews", "crud", {"app": "reviews"}, 9080))
    expect(created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp,
           f"server fields {created.metadata}")
    expect(created.spec.cluster_ip and created.spec.ports[0].protocol == "TCP", f"defaults {created.spec}")
    again = api_error(core.create_namespaced_service, "crud", service("reviews", "crud"))
    expect(again.status == 409 and status_of(again)["reason"] == "AlreadyExists", f"second create: {again.status} {again.body}")
    read = core.read_namespaced_service("reviews", "crud")
    expect(read.metadata.resource_version == created.metadata.resource_version, "read RV")
    read.metadata.labels["version"] = "v2"
    replaced = core.replace_namespaced_service("reviews", "crud", read)
    expect(int(replaced.metadata.resource_version) > int(created.metadata.resource_version), "replace bumps the RV")
    expect(replaced.metadata.uid == created.metadata.uid and replaced.spec.cluster_ip == created.spec.cluster_ip,
           "uid and clusterIP kept")
    stale = api_error(core.replace_namespaced_service, "reviews", "crud", read)   # still carries the old RV
    expect(stale.status == 409 and status_of(stale)["reason"] == "Conflict", f"stale replace: {stale.status} {stale.body}")
    patched = core.patch_namespaced_service("reviews", "crud", {"metadata": {"labels": {"patched": "yes"}},
                                                                   "spec": {"ports": [{"port": 9443, "name": "https"}]}})
    expect(patched.metadata.labels == {"app": "reviews", "version": "v2", "patched": "yes"}, f"labels {patched.metadata.labels}")
    expect(sorted(p.port for p in patched.spec.ports) == [9080, 9443], "strategic merge by port")
    deleted = core.delete_namespaced_service("reviews", "crud")
    expect(int(deleted.metadata.resource_version) > int(patched.metadata.resource_version), "delete returns the object at a new RV")
    missing = api_error(core.read_namespaced_service, "reviews", "crud")
    expect(missing.status == 404 and status_of(missing)["reason"] == "NotFound"
           and status_of(missing)["message"] == 'services "reviews" not found', f"read after delete: {missing.body}")
    nowhere = api_error(core.create_namespaced_service, "no-such-namespace", service("x", "no-such-namespace"))
    expect(nowhere.status == 404 and status_of(nowhere)["message"] == 'namespaces "no-such-namespace" not found', nowhere.body)


@check
def list_paging_and_selectors(s):
    core = s.core()
    namespace(core, "paging")
    for i in range(25):
        core.create_namespaced_service("paging", service(f"svc-{i:02d}", "paging",
                                                         {"app": "a" if i % 2 else "b", "tier": "db" if i % 5 == 0 else "web"}))
    seen, token, pages, rvs = [], None, 0, set()
    while True:
        page = core.list_namespaced_service("paging", limit=10, _continue=token)
        pages += 1
        rvs.add(page.metadata.resource_version)
        seen += [item.metadata.name for item in page.items]
        token = page.metadata._continue
        if not token:
            break
        expect(page.metadata.remaining_item_count == 25 - len(seen), f"remainingItemCount {page.metadata.remaining_item_count}")
        if pages == 1:
            # A write between pages: the continuation still shows the first page's snapshot.
            core.create_namespaced_service("paging", service("svc-00a", "paging"))
    expect(pages == 3 and seen == [f"svc-{i:02d}" for i in range(25)], f"pages {pages}: {seen}")
    expect(len(rvs) == 1, f"every page at one RV: {rvs}")
    expect(page.items[0].api_version is None and page.items[0].kind is None, "typed list items carry no apiVersion/kind")
    selected = core.list_namespaced_service("paging", label_selector="app in (a),tier!=db", field_selector="metadata.name!=svc-01")
    names = [i.metadata.name for i in selected.items]
    expect(names == [f"svc-{i:02d}" for i in range(25) if i % 2 and i % 5 and i != 1], f"selected {names}")
    expect([i.metadata.name for i in core.list_namespaced_service("paging", label_selector="!tier").items] == ["svc-00a"], "!tier")
    everywhere = core.list_service_for_all_namespaces(field_selector="metadata.namespace=paging")
    expect(len(everywhere.items) == 26, f"cluster-scope list with a namespace field selector: {len(everywhere.items)}")
    bad = api_error(core.list_namespaced_service, "paging", label_selector="app in (a")
    expect(bad.status == 400 and status_of(bad)["reason"] == "BadRequest", f"bad selector {bad.status}")


@check
def istio_objects_through_custom_objects_api(s):
    custom = s.custom()
    namespace(s.core(), "istio-check")
    created = custom.create_namespaced_custom_object("networking.istio.io", "v1", "istio-check", "virtualservices",
                                                     virtual_service("reviews", "istio-check", "reviews"))
    expect(created["apiVersion"] == "networking.istio.io/v1" and created["metadata"]["generation"] == 1, f"created {created}")
    as_beta = custom.get_namespaced_custom_object("networking.istio.io", "v1beta1", "istio-check", "virtualservices", "reviews")
    expect(as_beta["apiVersion"] == "networking.istio.io/v1beta1" and as_beta["spec"] == created["spec"], f"v1beta1 {as_beta}")
    listed = custom.list_namespaced_custom_object("networking.istio.io", "v1alpha3", "istio-check", "virtualservices")
    expect(listed["kind"] == "VirtualServiceList" and listed["items"][0]["kind"] == "VirtualService"
           and listed["items"][0]["apiVersion"] == "networking.istio.io/v1alpha3", f"list {listed}")
    patched = custom.patch_namespaced_custom_object("networking.istio.io", "v1", "istio-check", "virtualservices", "reviews",
                                                    {"spec": {"hosts": ["reviews", "reviews.example.com"]}})
    expect(patched["metadata"]["generation"] == 2 and patched["spec"]["http"], f"merge patch {patched}")
    policy = {"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
              "metadata": {"name": "deny-all", "namespace": "istio-check"}, "spec": {}}
    custom.create_namespaced_custom_object("security.istio.io", "v1beta1", "istio-check", "authorizationpolicies", policy)
    as_v1 = custom.list_cluster_custom_object("security.istio.io", "v1", "authorizationpolicies")
    expect([i["metadata"]["name"] for i in as_v1["items"]] == ["deny-all"], f"cluster list {as_v1}")
    unconditional = api_error(custom.replace_namespaced_custom_object, "networking.istio.io", "v1", "istio-check",
                              "virtualservices", "reviews", virtual_service("reviews", "istio-check", "other"))
    expect(unconditional.status == 422, f"a custom resource update without resourceVersion: {unconditional.status}")
    envoy = api_error(custom.list_namespaced_custom_object, "networking.istio.io", "v1", "istio-check", "envoyfilters")
    expect(envoy.status == 404, "envoyfilters is served only as v1alpha3")

    events = Collector(custom.list_namespaced_custom_object, "networking.istio.io", "v1", "istio-check", "virtualservices",
                       timeout_seconds=10)
    events.wait_for(lambda e: types(e) == ["ADDED"], what="the synthetic ADDED")
    custom.create_namespaced_custom_object("networking.istio.io", "v1", "istio-check", "virtualservices",
                                           virtual_service("ratings", "istio-check", "ratings"))
    custom.delete_namespaced_custom_object("networking.istio.io", "v1", "istio-check", "virtualservices", "reviews")
    got = events.wait_for(lambda e: types(e) == ["ADDED", "ADDED", "DELETED"], what="ADDED, ADDED, DELETED")
    expect(got[1]["object"]["metadata"]["name"] == "ratings" and got[1]["object"]["apiVersion"] == "networking.istio.io/v1"
           and got[1]["object"]["kind"] == "VirtualService", f"watched custom object {got[1]['object']}")
    events.stop()


@check
def watch_services_in_order_with_bookmarks(s):
    core = s.core()
    namespace(core, "watched")
    start_rv = core.list_namespaced_service("watched").metadata.resource_version
    events = Collector(core.list_namespaced_service, "watched", resource_version=start_rv, timeout_seconds=20,
                       allow_watch_bookmarks=True)
    s.wait_watches("services", 1)
    core.create_namespaced_service("watched", service("details", "watched", {"app": "details"}))
    core.patch_namespaced_service("details", "watched", {"metadata": {"labels": {"v": "2"}}})
    core.delete_namespaced_service("details", "watched")
    got = events.wait_for(lambda e: types(e) == ["ADDED", "MODIFIED", "DELETED"], what="ADDED, MODIFIED, DELETED")
    changes = [e for e in got if e["type"] != "BOOKMARK"]
    rvs = [rv_of(e) for e in changes]
    expect(rvs == sorted(rvs) and len(set(rvs)) == 3 and rvs[0] > int(start_rv), f"RVs {rvs} after {start_rv}")
    expect(isinstance(changes[0]["object"], client.V1Service) and changes[0]["object"].metadata.name == "details",
           "events deserialized into V1Service")
    expect(changes[2]["object"].metadata.labels == {"app": "details", "v": "2"}, "DELETED carries the last state")
    got = events.wait_for(lambda e: e and e[-1]["type"] == "BOOKMARK", timeout=3, what="a BOOKMARK")
    bookmark = got[-1]["raw_object"]
    expect(set(bookmark) == {"kind", "apiVersion", "metadata"} and set(bookmark["metadata"]) == {"resourceVersion"}
           and int(bookmark["metadata"]["resourceVersion"]) >= rvs[-1], f"bookmark {bookmark}")
    expect(events.watch.resource_version == bookmark["metadata"]["resourceVersion"], "the client keeps the bookmark's RV")
    events.stop()
    s.wait_watches("services", 0)

    # A label selector turns an object moving out of it into DELETED and back into ADDED.
    core.create_namespaced_service("watched", service("mover", "watched", {"app": "in"}))
    selected = Collector(core.list_namespaced_service, "watched", label_selector="app=in", timeout_seconds=20)
    selected.wait_for(lambda e: types(e) == ["ADDED"], what="the synthetic ADDED")
    core.patch_namespaced_service("mover", "watched", {"metadata": {"labels": {"app": "out"}}})
    core.patch_namespaced_service("mover", "watched", {"metadata": {"labels": {"app": "in"}}})
    selected.wait_for(lambda e: types(e) == ["ADDED", "DELETED", "ADDED"], what="ADDED, DELETED, ADDED")
    selected.stop()


@check
def watch_from_a_compacted_rv_gets_410(s):
    core = s.core()
    namespace(core, "expiring")
    core.create_namespaced_service("expiring", service("old", "expiring"))
    old_rv = core.list_namespaced_service("expiring").metadata.resource_version
    core.create_namespaced_service("expiring", service("new", "expiring"))
    # Paging: a continue token made before the compaction.
    first_page = core.list_namespaced_service("expiring", limit=1)
    core.create_namespaced_service("expiring", service("newer", "expiring"))   # the token's RV is now history
    s.control("POST", "/compact")
    # With timeout_seconds the client does not retry: the ERROR event becomes ApiException 410.
    started = time.monotonic()
    error = api_error(lambda: list(watch.Watch().stream(core.list_namespaced_service, "expiring", resource_version=old_rv,
                                                        timeout_seconds=5)))
    expect(error.status == 410 and "Expired: too old resource version" in error.reason, f"{error.status} {error.reason}")
    expect(time.monotonic() - started < 5, "the 410 came at once")
    # Without timeout_seconds the client retries once from the same RV, then raises the 410.
    s.control("DELETE", "/requests")
    error = api_error(lambda: list(watch.Watch().stream(core.list_namespaced_service, "expiring", resource_version=old_rv)))
    expect(error.status == 410, f"{error.status}")
    attempts = [r for r in s.requests() if r["watch"]]
    expect(len(attempts) == 2 and all(f"resourceVersion={old_rv}" in r["query"] and r["status"] == 200 for r in attempts),
           f"watch attempts {attempts}")
    s.wait_watches("services", 0)
    # The raw stream: HTTP 200, then one ERROR event with the Status, then the end.
    raw = core.list_namespaced_service("expiring", watch=True, resource_version=old_rv, _preload_content=False)
    expect(raw.status == 200 and raw.headers.get("Transfer-Encoding") == "chunked", f"{raw.status} {raw.headers}")
    lines = [json.loads(line) for line in raw.read().decode().splitlines()]
    expect(len(lines) == 1 and lines[0]["type"] == "ERROR", f"lines {lines}")
    status = lines[0]["object"]
    expect(status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
           and status["message"].startswith(f"too old resource version: {old_rv} ("), f"status {status}")
    # Lists: an Exact RV and a continue token from before the compaction are gone too.
    exact = api_error(core.list_namespaced_service, "expiring", resource_version=old_rv, resource_version_match="Exact")
    expect(exact.status == 410 and status_of(exact)["reason"] == "Expired", f"exact list {exact.status}")
    stale = api_error(core.list_namespaced_service, "expiring", limit=1, _continue=first_page.metadata._continue)
    expect(stale.status == 410 and status_of(stale)["metadata"].get("continue"), f"stale continue {stale.status} {stale.body}")
    # The RV a fresh list gives is watchable again.
    fresh = core.list_namespaced_service("expiring").metadata.resource_version
    events = Collector(core.list_namespaced_service, "expiring", resource_version=fresh, timeout_seconds=5)
    s.wait_watches("services", 1)
    core.delete_namespaced_service("old", "expiring")
    events.wait_for(lambda e: types(e) == ["DELETED"], what="DELETED after the relist")
    events.stop()


@check
def history_window_expires_old_rvs(s):
    core = s.core()
    namespace(core, "window")
    core.create_namespaced_service("window", service("first", "window"))
    first_rv = core.list_namespaced_service("window").metadata.resource_version
    s.apply([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"fill-{i}", "namespace": "window"}}
             for i in range(HISTORY + 5)])
    error = api_error(lambda: list(watch.Watch().stream(core.list_namespaced_service, "window", resource_version=first_rv,
                                                        timeout_seconds=5)))
    expect(error.status == 410, f"an RV older than --history events: {error.status}")


@check
def server_side_timeout_ends_a_watch(s):
    core = s.core()
    namespace(core, "timeouts")
    # No timeoutSeconds: the server picks one in [min-request-timeout, 2x] and ends the stream cleanly.
    started = time.monotonic()
    raw = core.list_namespaced_service("timeouts", watch=True, _preload_content=False)
    body = raw.read()          # urllib3 raises on a chunked stream that ends without its last chunk
    elapsed = time.monotonic() - started
    expect(body == b"", f"body {body!r}")
    expect(MIN_REQUEST_TIMEOUT - 0.05 <= elapsed <= 2 * MIN_REQUEST_TIMEOUT + 2, f"ended after {elapsed:.2f}s")
    # timeoutSeconds: the generator simply ends.
    started = time.monotonic()
    got = list(watch.Watch().stream(core.list_namespaced_service, "timeouts", timeout_seconds=1))
    elapsed = time.monotonic() - started
    expect(got == [] and 0.9 <= elapsed <= 3.5, f"timeout_seconds=1 ended after {elapsed:.2f}s with {got}")
    # Without timeout_seconds the client rewatches from the last RV it saw when the server ends a watch.
    core.create_namespaced_service("timeouts", service("seen", "timeouts"))
    s.control("DELETE", "/requests")
    events = Collector(core.list_namespaced_service, "timeouts")
    got = events.wait_for(lambda e: types(e) == ["ADDED"], what="the synthetic ADDED")
    seen_rv = rv_of(got[0])
    deadline = time.monotonic() + 2 * MIN_REQUEST_TIMEOUT + 2
    while time.monotonic() < deadline:
        watches = [r for r in s.requests() if r["watch"]]
        if len(watches) >= 2:
            break
        time.sleep(0.05)
    events.stop()
    expect(len(watches) >= 2 and "resourceVersion" not in watches[0]["query"]
           and f"resourceVersion={seen_rv}" in watches[1]["query"], f"rewatch {watches}")


@check
def kubeconfig_with_client_certificate(s):
    configuration = client.Configuration()
    config.load_kube_config(config_file=s.kubeconfig("kubeconfig-cert", "client"), client_configuration=configuration)
    configuration.retries = False
    core = client.CoreV1Api(client.ApiClient(configuration))
    expect("default" in [n.metadata.name for n in core.list_namespace().items], "list with the client certificate")
    users = [r["user"] for r in s.requests() if r["path"] == "/api/v1/namespaces"]
    expect(users and users[-1] == "mizzen-test-client", f"user {users[-1:]}")
    untrusted = client.Configuration()
    config.load_kube_config(config_file=s.kubeconfig("kubeconfig-untrusted", "untrusted-client"), client_configuration=untrusted)
    untrusted.retries = False
    try:
        client.CoreV1Api(client.ApiClient(untrusted)).list_namespace()
        raise Failure("a certificate from another CA was accepted")
    except ApiException as error:
        # The client wraps transport errors in ApiException with status 0.
        expect(error.status == 0 and "SSL" in str(error.reason), f"untrusted certificate: {error}")


@check
def deny_gives_403(s):
    core = s.core()
    namespace(core, "restricted")
    denied = api_error(core.list_namespaced_secret, "restricted")
    body = status_of(denied)
    expect(denied.status == 403 and body["reason"] == "Forbidden"
           and body["message"] == 'secrets is forbidden: User "token-user" cannot list resource "secrets" in API group "" '
                                  'in the namespace "restricted"', f"{denied.status} {body}")
    core.list_namespaced_secret("default")
    core.create_namespaced_secret("restricted", client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"a": "b"}))
    s.control("POST", "/deny", json.dumps({"rules": ["get:configmaps", "watch:*:restricted"]}))
    expect(api_error(core.read_namespaced_config_map, "anything", "default").status == 403, "runtime get:configmaps")
    expect(api_error(lambda: list(watch.Watch().stream(core.list_namespaced_service, "restricted", timeout_seconds=1))).status == 403,
           "runtime watch:*:restricted")
    s.control("DELETE", "/deny", json.dumps({"rules": ["get:configmaps", "watch:*:restricted"]}))
    expect(api_error(core.read_namespaced_config_map, "anything", "default").status == 404, "rule removed")


@check
def broken_and_errored_watches(s):
    core = s.core()
    namespace(core, "breaking")
    events = Collector(core.list_namespaced_service, "breaking", timeout_seconds=20)
    s.wait_watches("services", 1)
    answer = s.control("POST", "/break-watches")
    expect(answer["watches"] == 1, f"break-watches {answer}")
    expect(events.ended.wait(5), "the broken watch did not end")
    expect(isinstance(events.error, urllib3.exceptions.ProtocolError), f"a broken stream: {events.error!r}")
    events = Collector(core.list_namespaced_service, "breaking", timeout_seconds=20)
    s.wait_watches("services", 1)
    s.control("POST", "/error-watches")
    expect(events.ended.wait(5), "the errored watch did not end")
    expect(isinstance(events.error, ApiException) and events.error.status == 410, f"error-watches: {events.error!r}")
    s.wait_watches("services", 0)


@check
def down_refuses_then_listens_on_the_same_port(s):
    core = s.core()
    s.control("POST", "/down?seconds=1")
    started = time.monotonic()
    try:
        core.list_namespace()
        raise Failure("a request succeeded while the API server was down")
    except (ApiException, urllib3.exceptions.HTTPError, OSError):
        pass
    while True:
        try:
            core.list_namespace()
            break
        except (ApiException, urllib3.exceptions.HTTPError, OSError):
            if time.monotonic() - started > 5:
                raise Failure("the API server did not come back")
            time.sleep(0.05)
    elapsed = time.monotonic() - started
    expect(0.8 <= elapsed <= 4, f"back after {elapsed:.2f}s")


@check
def bulk_load_and_list_quickly(s):
    vs = [virtual_service(f"vs-{i:05d}", f"bulk-{i % 10}", f"svc-{i % 1000}.example.com") for i in range(10_000)]
    services = [{"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": f"svc-{i}", "namespace": f"bulk-{i % 10}", "labels": {"app": f"svc-{i}", "bulk": "true"}},
                 "spec": {"selector": {"app": f"svc-{i}"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
                for i in range(1000)]
    slices = [{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": f"svc-{i}-abcde", "namespace": f"bulk-{i % 10}",
                            "labels": {"kubernetes.io/service-name": f"svc-{i}",
                                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
               "endpoints": [{"addresses": [f"10.{i // 250}.{i % 250}.{j}"],
                              "conditions": {"ready": True, "serving": True, "terminating": False},
                              "nodeName": f"node-{j % 3}", "zone": "zone-a",
                              "targetRef": {"kind": "Pod", "namespace": f"bulk-{i % 10}", "name": f"svc-{i}-pod-{j}"}}
                             for j in range(50)]}
              for i in range(1000)]
    started = time.monotonic()
    answer = s.apply(vs + services + slices)
    load = time.monotonic() - started
    expect(len(answer["objects"]) == 12_000 and all(o["action"] == "created" for o in answer["objects"]), "12,000 created")
    expect(load < 20, f"load took {load:.1f}s")
    api = s.api_client()
    timings = {}
    counts = s.control("GET", "/state")["objects"]
    for name, path, count in (("virtualservices", "/apis/networking.istio.io/v1/virtualservices", counts["virtualservices"]),
                              ("services", "/api/v1/services?labelSelector=bulk%3Dtrue", 1000),
                              ("endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", 1000)):
        started = time.monotonic()
        response = api.call_api("GET", s.url + path, header_params={"Authorization": f"Bearer {TOKEN}"})
        response.read()
        items = json.loads(response.data)["items"]
        timings[name] = time.monotonic() - started
        expect(len(items) == count, f"{name}: {len(items)} items")
        expect(timings[name] < 5, f"{name} list took {timings[name]:.2f}s")
    return f"load {load:.1f}s, lists " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="kube-apiserver-check-")
    stand = Stand(directory)
    failed = 0
    try:
        for function in CHECKS:
            started = time.monotonic()
            try:
                note = function(stand)
                print(f"PASS {function.__name__} ({time.monotonic() - started:.1f}s){' ' + note if note else ''}", flush=True)
            except Exception as error:  # noqa: BLE001 - every failure is reported the same way
                failed += 1
                where = traceback.extract_tb(error.__traceback__)[-1]
                print(f"FAIL {function.__name__} ({time.monotonic() - started:.1f}s): {type(error).__name__}: "
                      f"{str(error)[:600]} [line {where.lineno}]", flush=True)
    finally:
        stand.stop()
        if args.keep:
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{len(CHECKS) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
