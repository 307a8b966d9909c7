#!/usr/bin/env python3
"""Browser test of the FlukeBase Fleet dashboard (selenium 4, Debian chromium + chromium-driver).

Environment:
  DASHBOARD_URL      e.g. http://127.0.0.1:8000/ui/
  FLUKE_EMAIL, FLUKE_PASSWORD    a user of the first tenant (member or above)
  OTHER_EMAIL, OTHER_PASSWORD    a user of a second tenant
  ARTIFACTS_DIR      screenshots, one PNG per step (default ./artifacts)
  FIXTURE_IMAGE_APP  optional, for the deployment steps
  FIXTURE_APP_SOURCE the process executor's test app (Tests/DeployExecutorTests/Fixtures/app.py): the
                     deployment steps commit it to a git repository in a temporary directory and
                     deploy it from there (file://); the apps they make are deleted at the end
  DASHBOARD_DEPLOY_TIMEOUT  seconds a deployment may take (default 150)

Prints one JSON line: {"passed": [...], "failed": [{"step", "error"}], "metrics": {...}}; exits 1
when a step failed.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

URL = os.environ.get("DASHBOARD_URL", "http://127.0.0.1:8000/ui/")
if not URL.endswith("/"):
    URL += "/"
EMAIL = os.environ.get("FLUKE_EMAIL", "")
PASSWORD = os.environ.get("FLUKE_PASSWORD", "")
OTHER_EMAIL = os.environ.get("OTHER_EMAIL", "")
OTHER_PASSWORD = os.environ.get("OTHER_PASSWORD", "")
ARTIFACTS = os.environ.get("ARTIFACTS_DIR", "artifacts")
FIXTURE_IMAGE_APP = os.environ.get("FIXTURE_IMAGE_APP", "")
FIXTURE_APP_SOURCE = os.environ.get("FIXTURE_APP_SOURCE") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "DeployExecutorTests", "Fixtures", "app.py"))
TIMEOUT = float(os.environ.get("DASHBOARD_TIMEOUT", "20"))
DEPLOY_TIMEOUT = float(os.environ.get("DASHBOARD_DEPLOY_TIMEOUT", "150"))

RUN = uuid.uuid4().hex[:8]
state = {"project_id": None, "project_name": f"browser-test-{RUN}", "secret": f"s3cr3t-{uuid.uuid4().hex}",
         "app_name": f"bt-{RUN}", "apps": [], "repo": None, "subscriptions": [], "cleaned": False}
passed, failed, metrics = [], [], {}


def css(sel):
    return (By.CSS_SELECTOR, sel)


def make_driver():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--window-size=1280,900", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.set_script_timeout(60)
    return d


def wait(d, cond, timeout=TIMEOUT, message=""):
    # a re-rendered list makes elements stale between finding and reading them: look again
    return WebDriverWait(d, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(cond, message)


def visible(d, sel, timeout=TIMEOUT):
    return wait(d, EC.visibility_of_element_located(css(sel)), timeout)


def page_ready(d, page, timeout=TIMEOUT):
    """The router marks <main id="app"> with data-page and data-ready="true" once a page's data is rendered."""
    wait(d, lambda x: x.execute_script(
        "const m=document.getElementById('app');return m&&m.dataset.page===arguments[0]&&m.dataset.ready==='true'", page), timeout)


def go(d, hash_path, page):
    d.execute_script("location.hash = arguments[0]", hash_path)
    page_ready(d, page)


def set_value(el, text):
    el.clear()
    el.send_keys(text)


def confirm(d):
    visible(d, "[data-testid=confirm-dialog] [data-testid=confirm-ok]").click()


def sign_in(d, email, password):
    # a new document, without the previous session's cookies
    d.get(URL + "config.json")
    d.delete_all_cookies()
    d.get("about:blank")
    d.get(URL + "#/signin")
    page_ready(d, "signin")
    set_value(visible(d, "[data-testid=signin-email]"), email)
    set_value(d.find_element(*css("[data-testid=signin-password]")), password)
    d.find_element(*css("[data-testid=signin-submit]")).click()
    page_ready(d, "overview")
    visible(d, "[data-testid=overview-projects]")


def assert_no_field_error(d, root="main"):
    alerts = [e.text for e in d.find_elements(*css(f"{root} [data-testid=form-alert]")) if e.is_displayed()]
    if alerts:
        raise AssertionError(f"form alert: {alerts}")


# ---- steps ---------------------------------------------------------------------------------

def step_sign_in(d):
    sign_in(d, EMAIL, PASSWORD)
    assert d.find_element(*css("[data-testid=signout]")).is_displayed()
    # the access token is never stored by the page
    stored = d.execute_script("return [localStorage.length, sessionStorage.length]")
    assert stored == [0, 0], f"web storage used: {stored}"
    # the session survives a reload (refresh cookie)
    d.refresh()
    page_ready(d, "overview")


def step_create_project(d):
    go(d, "#/projects", "projects")
    set_value(visible(d, "[data-testid=project-name]"), state["project_name"])
    set_value(d.find_element(*css("[data-testid=project-description]")), "made by the browser test <b>not bold</b>")
    d.find_element(*css("[data-testid=project-create-submit]")).click()
    page_ready(d, "project")
    title = visible(d, "[data-testid=project-title]")
    assert title.text == state["project_name"], title.text
    m = re.search(r"#/projects/([0-9a-f-]{36})", d.current_url)
    assert m, d.current_url
    state["project_id"] = m.group(1)
    # focus moved to the page heading
    assert d.execute_script("return document.activeElement.tagName") == "H1"


def step_secret_env_var(d):
    pid = state["project_id"]
    go(d, f"#/projects/{pid}/env", "project")
    set_value(visible(d, "[data-testid=env-key]"), "BROWSER_TEST_SECRET")
    set_value(d.find_element(*css("[data-testid=env-value-input]")), state["secret"])
    box = d.find_element(*css("[data-testid=env-secret]"))
    if not box.is_selected():
        box.click()
    d.find_element(*css("[data-testid=env-submit]")).click()
    row_sel = "[data-testid=env-row][data-key=BROWSER_TEST_SECRET]"
    row = visible(d, row_sel)
    assert_no_field_error(d)
    cell = row.find_element(*css("[data-testid=env-value]"))
    assert cell.get_attribute("data-masked") == "true", "value not masked"
    assert state["secret"] not in cell.text
    assert state["secret"] not in d.page_source, "the secret value is in the page"
    assert row.get_attribute("data-secret") == "true"
    # Reveal reads that one variable (an owner holds secrets:read), and the read is logged.
    row.find_element(*css("[data-testid=env-reveal]")).click()
    wait(d, lambda d: d.find_element(*css(row_sel + " [data-testid=env-value]")).get_attribute("data-masked") == "false",
         message="the secret was not revealed")
    assert d.find_element(*css(row_sel + " [data-testid=env-value]")).text == state["secret"]
    row = d.find_element(*css(row_sel))
    row.find_element(*css("[data-testid=env-reveal]")).click()
    wait(d, lambda d: d.find_element(*css(row_sel + " [data-testid=env-value]")).get_attribute("data-masked") == "true",
         message="the secret was not hidden again")


def step_save_memory(d):
    pid = state["project_id"]
    go(d, f"#/projects/{pid}/memories", "project")
    text = f"Browser test memory {RUN}: deploys go through the fleet."
    Select(visible(d, "[data-testid=memory-type]")).select_by_value("convention")
    set_value(d.find_element(*css("[data-testid=memory-content]")), text)
    set_value(d.find_element(*css("[data-testid=memory-tags]")), "browser, test")
    d.find_element(*css("[data-testid=memory-submit]")).click()
    wait(d, lambda x: any(text in e.text for e in x.find_elements(*css("[data-testid=memory-item] [data-testid=memory-text]"))))
    assert_no_field_error(d)
    # it is there after a reload too
    d.refresh()
    page_ready(d, "project")
    wait(d, lambda x: any(text in e.text for e in x.find_elements(*css("[data-testid=memory-item] [data-testid=memory-text]"))))


def step_mcp_schema_error(d):
    pid = state["project_id"]
    go(d, f"#/projects/{pid}/mcp", "project")
    visible(d, "[data-testid=mcp-form]")
    enable = d.find_element(*css("[data-testid=mcp-plugin][data-plugin=flukebase-connect] [data-testid=mcp-enable]"))
    if not enable.is_selected():
        enable.click()
    path = "plugin_settings.flukebase-connect.sync_interval_seconds"
    field = d.find_element(*css(f'[data-field="{path}"]'))
    set_value(field, "5")  # the schema's minimum is 10
    d.find_element(*css("[data-testid=mcp-save]")).click()
    wait(d, lambda x: field.get_attribute("aria-invalid") == "true")
    fid = field.get_attribute("id")
    err = d.find_element(By.ID, f"{fid}-error")
    assert "field-error" in err.get_attribute("class")
    assert err.text.strip(), "empty field error"
    assert f"{fid}-error" in (field.get_attribute("aria-describedby") or "")
    # the error sits beside its field, not in the form-level alert
    plugin_box = d.find_element(*css("[data-testid=mcp-plugin][data-plugin=flukebase-connect]"))
    assert plugin_box.find_elements(By.ID, f"{fid}-error"), "error not placed in the plugin's fieldset"
    metrics["mcp_error_text"] = err.text


# >>> DEPLOYMENT STEPS >>>
# Contract: #/apps (app-new, app-create-form, app-name, app-project, app-executor, app-build-command,
# app-start-command, app-spec, app-create-submit) → #/apps/<name> (deploy-git-form: deploy-git-url,
# deploy-git-ref, deploy-git-version, deploy-git-submit; deploy-form: deploy-image, deploy-version,
# deploy-submit; app-current-release, app-url) →
# #/deployments/<id>: [data-testid=phases] > [data-testid=phase-item][data-phase][data-state],
# [data-testid=deployment-status][data-status], [data-testid=log-lines] [data-testid=log-line];
# releases: [data-testid=release-row][data-version] [data-testid=rollback] → confirm-dialog with
# [data-testid=confirm-reason] and [data-testid=confirm-ok]. FIXTURE_IMAGE_APP names the image.
DEPLOYMENT_STEPS = []

# ---- helpers of the deployment and webhook steps --------------------------------------------

TERMINAL = {"success", "failed", "rolled_back", "cancelled"}
PHASES = ["pre_build", "build", "pre_deploy", "deploy", "post_deploy"]
# The fixture app under the process executor. The hooks hold the deployment in pre_build long enough
# for the page to open its log tail before anything is built (so the build's lines arrive live), and
# in post_deploy after the build's lines were sent (so they arrive while the deployment runs).
APP_BUILD = "echo building the site"
APP_START = "exec /usr/bin/python3 app.py"
APP_SPEC = {"replicas": 1, "deploy_timeout": 120,
            "health_check": {"path": "/health", "interval": 1, "timeout": 2, "retries": 3, "start_period": 1},
            "hooks": {"pre_build": "echo preparing the build; sleep 5", "post_deploy": "echo checking the site; sleep 3"}}
_config = {}


def service_url(name):
    """A service's base URL from the dashboard's own config.json (what the pages call)."""
    if not _config:
        with urllib.request.urlopen(URL + "config.json", timeout=10) as r:
            _config.update(json.load(r))
    return _config["services"][name].rstrip("/")


def http(method, url, body=None, token=None, timeout=15):
    """(status, parsed body) of one request; HTTP errors are answers, not exceptions."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        text, status = e.read().decode(errors="replace"), e.code
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def api_token():
    """An access token of the first user, for the clean-up (the page keeps its own in memory)."""
    origin = re.match(r"^(https?://[^/]+)", URL).group(1)
    status, body = http("POST", origin + "/auth/login", {"email": EMAIL, "password": PASSWORD})
    if status != 200:
        raise AssertionError(f"POST /auth/login → {status} {body}")
    return body["access_token"]


def git(repo, *args):
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "init.defaultBranch=main", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make_repo():
    """A git repository holding the fixture app; tag release-1 adds version.txt "one" (the app serves it)."""
    repo = tempfile.mkdtemp(prefix=f"fluke-browser-{RUN}-")
    state["repo"] = repo
    git(repo, "init", "-q")
    shutil.copy(FIXTURE_APP_SOURCE, os.path.join(repo, "app.py"))
    commit(repo, "one", "release-1")
    return repo


def commit(repo, version, tag):
    with open(os.path.join(repo, "version.txt"), "w") as f:
        f.write(version + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"version {version}")
    git(repo, "tag", tag)


def submit(d, button_sel, page, root="main"):
    """Clicks a form's submit button and waits for `page`, failing at once on a form or field error."""
    before = d.execute_script("return location.hash")
    d.find_element(*css(button_sel)).click()

    def done(x):
        errors = [e.text for e in x.find_elements(*css(f"{root} [data-testid=form-alert], {root} [data-testid=field-error]")) if e.is_displayed()]
        if errors:
            raise AssertionError(f"form error: {errors}")
        return x.execute_script("const m=document.getElementById('app');return location.hash!==arguments[1]&&m.dataset.page===arguments[0]&&m.dataset.ready==='true'", page, before)
    wait(d, done, message=f"{button_sel} did not lead to the {page} page")


def open_app(d, name):
    """The app's page, freshly rendered (setting the hash it already has would render nothing)."""
    if d.execute_script("return location.hash") == f"#/apps/{name}":
        d.refresh()
        page_ready(d, "app")
    else:
        go(d, f"#/apps/{name}", "app")
    visible(d, "[data-testid=releases-table]")


def deploy_from_git(d, repo, ref):
    """The app page's "Deploy from git" form → the deployment page; the deployment's id."""
    set_value(visible(d, "[data-testid=deploy-git-url]"), "file://" + repo)
    set_value(d.find_element(*css("[data-testid=deploy-git-ref]")), ref)
    submit(d, "[data-testid=deploy-git-submit]", "deployment")
    m = re.search(r"#/deployments/([0-9a-f-]{36})", d.current_url)
    assert m, d.current_url
    return m.group(1)


def deployment_status(d):
    return d.execute_script("return document.querySelector('[data-testid=deployment-status]')?.dataset.status || null")


def wait_deployment(d, timeout=DEPLOY_TIMEOUT):
    """Waits on the deployment page until its status is final; the status."""
    wait(d, lambda x: deployment_status(x) in TERMINAL, timeout, f"the deployment did not finish within {timeout} s")
    return deployment_status(d)


def deployment_error(d):
    return d.execute_script("""
      const dl = [...document.querySelectorAll('main dl.kv dt')].map(dt => [dt.textContent, dt.nextElementSibling?.textContent]);
      return Object.fromEntries(dl.filter(([k]) => ['Error', 'Failure kind', 'Kind', 'Reason'].includes(k)));""")


def phase_states(d):
    return d.execute_script("return [...document.querySelectorAll('[data-testid=phases] [data-testid=phase-item]')].map(li => [li.dataset.phase, li.dataset.state, li.querySelector('[data-testid=phase-state]')?.textContent || ''])")


# Watches the deployment page from inside (every 50 ms): statuses and phase states as shown, when the
# tail's replay ended, and when a log line first shows up, with the status shown at that moment.
# It lives in this document: were the page reloaded, window.__deployWatch would be gone.
DEPLOY_WATCH = r"""
const needle = arguments[0];
const w = window.__deployWatch = {t0: performance.now(), statuses: [], phases: {}, tail: [], liveAt: null, liveHadNeedle: null,
                                  needleAt: null, needleStatus: null, needleTail: null, linesAtLive: null};
const has = (lv) => lv.text().includes(needle) || lv.pending.some((e) => String(e?.message ?? e).includes(needle));
const tick = () => {
  const lv = window.__fluke && window.__fluke.logView;
  const now = Math.round(performance.now() - w.t0);
  const status = document.querySelector('[data-testid=deployment-status]')?.dataset.status || null;
  const tail = document.querySelector('[data-testid=tail-state]')?.textContent || '';
  if (w.statuses[w.statuses.length - 1] !== status) w.statuses.push(status);
  if (w.tail[w.tail.length - 1] !== tail) w.tail.push(tail);
  for (const li of document.querySelectorAll('[data-testid=phase-item]')) {
    const s = (w.phases[li.dataset.phase] ||= []);
    if (s[s.length - 1] !== li.dataset.state) s.push(li.dataset.state);
  }
  if (!lv) return;
  const found = has(lv);
  if (w.liveAt === null && tail.startsWith('(live')) { w.liveAt = now; w.liveHadNeedle = found; w.linesAtLive = lv.store.size + lv.pending.length; }
  if (found && w.needleAt === null) { w.needleAt = now; w.needleStatus = status; w.needleTail = tail; }
};
tick();
w.timer = setInterval(tick, 50);
"""


def start_watch(d, needle):
    d.execute_script(DEPLOY_WATCH, needle)


def read_watch(d):
    w = d.execute_script("const w = window.__deployWatch; if (!w) return null; clearInterval(w.timer); const {timer, ...rest} = w; return rest;")
    assert w is not None, "the deployment page was reloaded (its watcher is gone)"
    return w


def app_url(d):
    return visible(d, "[data-testid=app-url]").get_attribute("href").rstrip("/")


def app_answer(url, timeout=20):
    """The fixture app's answer on `/` (its version), retried while nginx switches."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=3) as r:
                return r.read().decode().strip()
        except Exception as e:  # noqa: BLE001
            last = e
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer: {last}")


# ---- the deployment steps --------------------------------------------------------------------

def step_deploy_process_app(d):
    """Create a process app with the dashboard's form, deploy it from git, watch it live."""
    assert os.path.isfile(FIXTURE_APP_SOURCE), f"FIXTURE_APP_SOURCE {FIXTURE_APP_SOURCE!r} is not a file"
    repo = make_repo()
    pid, name = state["project_id"], state["app_name"]

    go(d, f"#/apps?project_id={pid}", "apps")
    box = visible(d, "[data-testid=app-new]")
    if box.get_attribute("open") is None:
        box.find_element(By.TAG_NAME, "summary").click()
    set_value(visible(d, "[data-testid=app-name]"), name)
    Select(d.find_element(*css("[data-testid=app-project]"))).select_by_value(pid)
    Select(d.find_element(*css("[data-testid=app-executor]"))).select_by_value("process")
    set_value(d.find_element(*css("[data-testid=app-build-command]")), APP_BUILD)
    set_value(d.find_element(*css("[data-testid=app-start-command]")), APP_START)
    set_value(d.find_element(*css("[data-testid=app-spec]")), json.dumps(APP_SPEC))
    submit(d, "[data-testid=app-create-submit]", "app")
    state["apps"].append(name)
    assert visible(d, "main h1").text == name
    assert visible(d, "[data-testid=app-status]").get_attribute("data-status") == "new"
    # the process executor numbers its releases: no version (an image tag) to give
    assert not d.find_element(*css("[data-testid=deploy-git-version]")).is_displayed(), "version offered for a process app"

    t0 = time.monotonic()
    state["deploy_v1"] = deploy_from_git(d, repo, "release-1")
    start_watch(d, "building the site")
    try:  # a picture of it under way (pre_build holds it for 5 s)
        wait(d, lambda x: deployment_status(x) in ("building", "deploying"), 5)
        d.save_screenshot(os.path.join(ARTIFACTS, "deploy_process_app-running.png"))
    except TimeoutException:
        pass
    status = wait_deployment(d)
    metrics["deploy_v1_seconds"] = round(time.monotonic() - t0, 1)
    assert status == "success", f"deployment ended {status}: {deployment_error(d)}"
    wait(d, lambda x: x.find_element(By.CSS_SELECTOR, "main h1").text == f"Deploy {name} v1", message="title is not 'Deploy <app> v1'")
    w = read_watch(d)
    metrics["deploy_v1_watch"] = {k: w[k] for k in ("statuses", "phases", "tail", "liveAt", "needleAt", "needleStatus", "linesAtLive")}

    # the five phases, in order, each showing its final state
    phases = phase_states(d)
    assert [p[0] for p in phases] == PHASES, phases
    for phase, st, label in phases:
        assert st in ("succeeded", "skipped"), f"phase {phase} ended {st}"
        assert label.strip() == st, f"phase {phase} shows {label!r} for {st}"
    # … and they changed as the deployment went on (the page followed it without a reload)
    assert any("running" in seen for seen in w["phases"].values()), f"no phase was ever shown running: {w['phases']}"
    assert any(s in ("pending", "building", "deploying") for s in w["statuses"]), f"never shown in progress: {w['statuses']}"

    # the build's output arrived over the tail while the deployment ran, after the replay had ended
    assert w["needleAt"] is not None, f"'building the site' never reached the log view: {w}"
    assert w["needleStatus"] not in TERMINAL, f"the line arrived only once the deployment was {w['needleStatus']}"
    assert w["liveAt"] is not None, f"the tail never went live: {w['tail']}"
    assert not w["liveHadNeedle"] and w["needleAt"] >= w["liveAt"], f"the line came with the replay, not live: {w}"
    # and the log view shows it: filter on it
    set_value(d.find_element(*css("[data-testid=logview] [data-testid=logview-search]")), "building the site")
    wait(d, lambda x: any("building the site" in e.text for e in x.find_elements(*css("[data-testid=log-lines] [data-testid=log-line]")) if e.is_displayed()),
         message="no log line 'building the site' is shown")
    d.find_element(*css("[data-testid=logview] [data-testid=logview-search]")).clear()
    d.execute_script("document.querySelector('[data-testid=phases]').scrollIntoView({block: 'start'})")
    d.save_screenshot(os.path.join(ARTIFACTS, "deploy_process_app-deployment.png"))

    # the app serves v1 (version.txt "one") behind its stable URL
    open_app(d, name)
    wait(d, lambda x: x.find_element(*css("[data-testid=app-current-release]")).text == "v1", message="current release is not v1")
    state["app_url"] = app_url(d)
    assert app_answer(state["app_url"]) == "one"


DEPLOYMENT_STEPS.append(("deploy_process_app", step_deploy_process_app))


def step_rollback_from_releases(d):
    """Deploy a second version, then roll back to the first from the releases table."""
    name, repo = state["app_name"], state["repo"]
    commit(repo, "two", "release-2")
    open_app(d, name)
    t0 = time.monotonic()
    state["deploy_v2"] = deploy_from_git(d, repo, "release-2")
    status = wait_deployment(d)
    metrics["deploy_v2_seconds"] = round(time.monotonic() - t0, 1)
    assert status == "success", f"the second deployment ended {status}: {deployment_error(d)}"

    open_app(d, name)
    wait(d, lambda x: x.find_element(*css("[data-testid=app-current-release]")).text == "v2", message="current release is not v2")
    current = visible(d, "[data-testid=release-row][data-version=v2]")
    assert current.get_attribute("data-current") == "true"
    assert not current.find_elements(*css("[data-testid=rollback]")), "the current release offers a rollback"
    assert app_answer(state["app_url"]) == "two"

    first = visible(d, "[data-testid=release-row][data-version=v1]")
    assert first.get_attribute("data-current") == "false"
    first.find_element(*css("[data-testid=rollback]")).click()
    reason = f"browser test {RUN}: back to the first release"
    set_value(visible(d, "[data-testid=confirm-dialog] [data-testid=confirm-reason]"), reason)
    t0 = time.monotonic()
    confirm(d)
    wait(d, lambda x: re.search(r"#/deployments/[0-9a-f-]{36}", x.current_url) and x.execute_script(
        "const m=document.getElementById('app');return m.dataset.page==='deployment'&&m.dataset.ready==='true'"),
        message="the rollback did not open its deployment page")
    rollback_id = re.search(r"#/deployments/([0-9a-f-]{36})", d.current_url).group(1)
    assert rollback_id not in (state["deploy_v1"], state["deploy_v2"])
    status = wait_deployment(d)
    metrics["rollback_seconds"] = round(time.monotonic() - t0, 1)
    info = deployment_error(d)
    assert status == "success", f"the rollback ended {status}: {info}"
    assert info.get("Kind") == "rollback", info
    assert info.get("Reason") == reason, info
    assert d.find_element(By.CSS_SELECTOR, "main h1").text == f"Roll {name} back to v1", d.find_element(By.CSS_SELECTOR, "main h1").text
    phases = dict((p[0], p[1]) for p in phase_states(d))
    assert phases["deploy"] == "succeeded" and all(phases[p] == "skipped" for p in ("pre_build", "build", "pre_deploy")), phases
    d.save_screenshot(os.path.join(ARTIFACTS, "rollback_from_releases-deployment.png"))

    open_app(d, name)
    wait(d, lambda x: x.find_element(*css("[data-testid=app-current-release]")).text == "v1", message="current release is not v1 again")
    assert visible(d, "[data-testid=release-row][data-version=v1]").get_attribute("data-current") == "true"
    assert d.find_element(*css("[data-testid=release-row][data-version=v2]")).get_attribute("data-current") == "false"
    row = visible(d, f"[data-testid=deployment-row][data-id='{rollback_id}']")
    assert row.get_attribute("data-status") == "success" and "rollback" in row.text, row.text
    assert app_answer(state["app_url"]) == "one", "the app does not serve the first release again"
    d.execute_script("document.querySelector('[data-testid=releases-table]').scrollIntoView({block: 'center'})")


DEPLOYMENT_STEPS.append(("rollback_from_releases", step_rollback_from_releases))


class Receiver:
    """A webhook receiver on 127.0.0.1: 500 to the first request, 200 afterwards; keeps what it got."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                code = 500 if len(outer.requests) == 1 else 200
                answer = b'{"error":"first attempt fails on purpose"}' if code == 500 else b'{"ok":true}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def signature_ok(secret, headers, body):
    """Standard Webhooks: v1,<base64 HMAC-SHA256(secret bytes, "<id>.<timestamp>.<body>")>."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers.get("webhook-signature", "").split())


def step_webhook_delivery_attempts(d):
    """Create a subscription on the Webhooks page, send a test event, see its attempts."""
    receiver = Receiver()
    try:
        callback = f"http://127.0.0.1:{receiver.port}/hook"
        go(d, "#/webhooks", "webhooks")
        Select(visible(d, "[data-testid=webhook-project]")).select_by_value(state["project_id"])
        set_value(d.find_element(*css("[data-testid=webhook-events]")), "deploy.*\nenv.updated")
        set_value(d.find_element(*css("[data-testid=webhook-url]")), callback)
        set_value(d.find_element(*css("[data-testid=webhook-description]")), f"browser test {RUN}")
        d.find_element(*css("[data-testid=webhook-submit]")).click()
        shown = wait(d, lambda x: x.find_elements(*css("[data-testid=secret-once]")) or
                     [e for e in x.find_elements(*css("main [data-testid=form-alert], main [data-testid=field-error]")) if e.is_displayed()],
                     message="no secret was shown")
        assert_no_field_error(d)
        assert not d.find_elements(*css("main [data-testid=field-error]")), [e.text for e in d.find_elements(*css("main [data-testid=field-error]"))]
        secret = shown[0].find_element(*css("[data-testid=secret-value]")).text
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", secret), f"not a signing secret: {secret!r}"
        link = d.find_element(*css("[data-testid=webhook-open]"))
        sid = re.search(r"#/webhooks/([0-9a-f-]{36})", link.get_attribute("href")).group(1)
        state["subscriptions"].append(sid)
        wait(d, lambda x: x.find_elements(*css(f"[data-testid=webhook-row][data-id='{sid}']")), message="the subscription is not listed")

        link.click()
        visible(d, "[data-testid=webhook-test]")
        page_ready(d, "webhooks")
        # shown once: not on the subscription's page
        assert secret not in d.page_source, "the secret is shown again"
        assert visible(d, "[data-testid=webhook-state]").get_attribute("data-status") == "enabled"

        d.find_element(*css("[data-testid=webhook-test]")).click()
        row_sel = "[data-testid=delivery-row]"
        wait(d, lambda x: x.find_elements(*css(row_sel)), message="no delivery row appeared")
        row = d.find_element(*css(row_sel))
        assert "webhook.test" in row.text, row.text
        delivery = row.get_attribute("data-id")
        row.find_element(*css("[data-testid=delivery-attempts]")).click()
        log_sel = f"[data-testid=attempt-log][data-delivery='{delivery}']"
        visible(d, log_sel)

        def attempts(x):
            return x.execute_script("return [...document.querySelectorAll(arguments[0] + ' [data-testid=attempt-row]')].map(r => [r.dataset.attempt, r.querySelector('[data-testid=attempt-status]').textContent])", log_sel)

        # the first attempt (500) shows up, then the retry (200): the list follows them by itself
        wait(d, lambda x: len(attempts(x)) >= 1, 30, "no attempt is listed")
        first_seen = attempts(d)
        wait(d, lambda x: x.find_element(*css(log_sel)).get_attribute("data-status") == "succeeded" and len(attempts(x)) >= 2, 60,
             "the delivery did not succeed on its retry")
        got = attempts(d)
        metrics["webhook_attempts"] = got
        assert got[0] == ["1", "500"] and got[1] == ["2", "200"], got
        row = d.find_element(*css(f"{row_sel}[data-id='{delivery}']"))
        wait(d, lambda x: x.find_element(*css(f"{row_sel}[data-id='{delivery}']")).get_attribute("data-status") == "succeeded",
             message="the delivery row does not show succeeded")
        metrics["webhook_first_attempts_seen"] = first_seen

        # what the receiver got: the same webhook-id twice, signed with the secret shown once
        reqs = receiver.requests
        assert len(reqs) >= 2, len(reqs)
        assert reqs[0]["path"] == "/hook" and reqs[0]["headers"]["webhook-id"] == reqs[1]["headers"]["webhook-id"]
        assert json.loads(reqs[1]["body"])["type"] == "webhook.test"
        assert all(signature_ok(secret, r["headers"], r["body"]) for r in reqs[:2]), "a delivery's signature does not verify with the secret shown"
        d.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", log_sel)
    finally:
        receiver.close()


DEPLOYMENT_STEPS.append(("webhook_delivery_attempts", step_webhook_delivery_attempts))


NARROW = 375
OVERFLOW_JS = """
const w = document.documentElement.clientWidth;
const wide = [];
// what sticks out of the page, not what scrolls inside its own box (tables, tabs, the log view)
const clipped = (el) => {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    if (getComputedStyle(p).overflowX !== 'visible') return true;
  }
  return false;
};
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width && r.right > w + 1 && !clipped(el)) {
    wide.push(el.tagName.toLowerCase() + (el.dataset.testid ? `[${el.dataset.testid}]` : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') + ` right=${Math.round(r.right)}`);
  }
}
return {scrollWidth: document.documentElement.scrollWidth, bodyScrollWidth: document.body.scrollWidth, clientWidth: w, innerWidth: innerWidth, wide: wide.slice(0, 8)};
"""


def step_narrow_viewport(d):
    """At 375 px wide the overview, the project page and the app page do not scroll sideways."""
    d.set_window_size(NARROW, 812)
    emulated = False
    try:
        if d.execute_script("return innerWidth") != NARROW:  # a window cannot always be that narrow: emulate the screen
            d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": NARROW, "height": 812, "deviceScaleFactor": 1, "mobile": True})
            emulated = True
        pages = [("overview", "#/overview", "overview", "[data-testid=overview-projects]"),
                 ("project", f"#/projects/{state['project_id']}", "project", "[data-testid=project-title]")]
        if state["app_name"] in state["apps"]:
            pages.append(("app", f"#/apps/{state['app_name']}", "app", "[data-testid=releases-table]"))
        results, wide = {}, []
        for label, hash_path, page, ready_sel in pages:
            go(d, hash_path, page)
            visible(d, ready_sel)
            d.execute_script("window.scrollTo(0, 0)")
            r = d.execute_script(OVERFLOW_JS)
            results[label] = r
            d.save_screenshot(os.path.join(ARTIFACTS, f"narrow_viewport-{label}.png"))
            if r["scrollWidth"] > NARROW or r["innerWidth"] != NARROW:
                wide.append((label, r))
        metrics["narrow_viewport"] = {k: v["scrollWidth"] for k, v in results.items()}
        metrics["narrow_viewport_emulated"] = emulated
        assert len(results) == 3, f"the app page was not checked (no app): {list(results)}"
        assert not wide, f"horizontal overflow at {NARROW} px: {wide}"
    finally:
        if emulated:
            d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        d.set_window_size(1280, 900)


# Every form control has a label, every button and link a name, images an alt; nothing
# focusable is hidden from the keyboard; the page's h1 has the focus after navigation.
A11Y_JS = """
const name = (el) => (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') && [...el.getAttribute('aria-labelledby').split(' ')]
  .map((id) => document.getElementById(id)?.textContent || '').join(' ') || el.textContent || el.getAttribute('title') || el.value || '').trim();
const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
const problems = [];
for (const el of document.querySelectorAll('main input, main select, main textarea, header input, header select')) {
  if (!shown(el) || el.type === 'hidden') continue;
  const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
  if (!labelled) problems.push('unlabelled ' + el.tagName.toLowerCase() + '[name=' + (el.name || '?') + ']');
}
for (const el of document.querySelectorAll('button, a[href], [role=button]')) {
  if (!shown(el)) continue;
  if (!name(el)) problems.push('nameless ' + el.tagName.toLowerCase() + ' ' + (el.dataset.testid || el.className));
  if (el.getAttribute('tabindex') === '-1') problems.push('unreachable ' + el.tagName.toLowerCase() + ' ' + (el.dataset.testid || ''));
}
for (const el of document.querySelectorAll('img, svg[role=img]')) {
  if (el.tagName === 'IMG' && el.getAttribute('alt') === null) problems.push('img without alt');
  if (el.tagName !== 'IMG' && !name(el)) problems.push('svg image without a name');
}
const h1 = document.querySelector('main h1');
return { problems, focusedH1: document.activeElement === h1, h1: h1 ? h1.textContent : null };
"""


def step_accessibility(d):
    """Labels and names on every page the user reaches, focus on the h1 after navigation, and a
    sign-in done with the keyboard alone."""
    pages = [("overview", "#/overview", "overview"), ("projects", "#/projects", "projects"),
             ("project", f"#/projects/{state['project_id']}", "project"), ("apps", "#/apps", "apps"),
             ("logs", "#/logs", "logs"), ("catalog", "#/catalog", "catalog"), ("webhooks", "#/webhooks", "webhooks"),
             ("settings", "#/settings", "settings")]
    for tab in ("env", "memories", "work", "mcp", "usage"):
        pages.append((f"project-{tab}", f"#/projects/{state['project_id']}/{tab}", "project"))
    found = {}
    for label, hash_path, page in pages:
        go(d, hash_path, page)
        r = d.execute_script(A11Y_JS)
        if r["problems"]:
            found[label] = sorted(set(r["problems"]))[:10]
        if label in ("overview", "projects", "apps", "webhooks") and not r["focusedH1"]:
            found.setdefault(label, []).append(f"focus not on the h1 ({r['h1']!r}) after navigation")
    metrics["a11y_pages_checked"] = len(pages)
    assert not found, f"accessibility problems: {found}"
    # Sign in with the keyboard alone: Tab to each field, Enter submits.
    d.get(URL + "config.json")
    d.delete_all_cookies()
    d.get(URL + "#/signin")
    page_ready(d, "signin")
    email = visible(d, "[data-testid=signin-email]")
    email.click()
    active = lambda: d.switch_to.active_element
    active().send_keys(EMAIL)
    active().send_keys(Keys.TAB)
    assert active().get_attribute("data-testid") == "signin-password", f"Tab went to {active().get_attribute('outerHTML')[:120]}"
    active().send_keys(PASSWORD)
    active().send_keys(Keys.ENTER)
    page_ready(d, "overview")


NARROW_STEPS = [("narrow_viewport", step_narrow_viewport), ("accessibility", step_accessibility)]


def cleanup():
    """Deletes what the deployment and webhook steps made (the app's replicas stop with it)."""
    if state["cleaned"]:
        return
    state["cleaned"] = True
    problems = []
    if state["apps"] or state["subscriptions"]:
        token = api_token()
        for sid in state["subscriptions"]:
            status, body = http("DELETE", f"{service_url('webhook_dispatcher')}/api/v1/webhooks/subscriptions/{sid}", token=token)
            if status not in (204, 404):
                problems.append(f"DELETE subscription {sid} → {status} {body}")
        for name in state["apps"]:
            deadline = time.monotonic() + 90
            while True:  # 409 deployment_active while one is queued or running
                status, body = http("DELETE", f"{service_url('deploy_tracker')}/api/v1/apps/{name}", token=token, timeout=60)
                if status != 409 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            if status not in (204, 404):
                problems.append(f"DELETE app {name} → {status} {body}")
            elif state.get("app_url"):
                # its replicas stopped: the stable URL no longer answers with the app
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    try:
                        with urllib.request.urlopen(state["app_url"] + "/health", timeout=2) as r:
                            still = r.status == 200
                    except Exception:  # noqa: BLE001 - refused or 502: gone
                        still = False
                    if not still:
                        break
                    time.sleep(0.5)
                else:
                    problems.append(f"{state['app_url']} still answers after the app was deleted")
    if state["repo"]:
        shutil.rmtree(state["repo"], ignore_errors=True)
    metrics["cleanup"] = problems or "ok"
    if problems:
        raise AssertionError("; ".join(problems))
# <<< DEPLOYMENT STEPS <<<


def step_tenant_isolation(d):
    sign_in(d, OTHER_EMAIL, OTHER_PASSWORD)
    ids = d.execute_script("return [...document.querySelectorAll('[data-testid=overview-project-row]')].map(r => r.dataset.projectId)")
    assert state["project_id"] not in ids, "the other tenant sees the project on the overview"
    go(d, "#/projects", "projects")
    wait(d, lambda x: x.execute_script("return !document.querySelector('[data-testid=load-more]')?.disabled"))
    names = [e.text for e in d.find_elements(*css("[data-testid=project-row] td:first-child"))]
    assert state["project_name"] not in names, "the other tenant lists the project"
    assert state["project_name"] not in d.page_source
    # opening the project directly is refused
    d.execute_script("location.hash = arguments[0]", f"#/projects/{state['project_id']}")
    page_ready(d, "project")
    alert = visible(d, "[data-testid=page-alert]")
    assert "404" in alert.text or "not found" in alert.text.lower(), alert.text
    assert state["project_name"] not in d.page_source


def step_overview_first_load(d):
    sign_in(d, EMAIL, PASSWORD)
    # a cold load: new document, empty HTTP cache (the session cookie stays)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.clearBrowserCache", {})
    d.get("about:blank")
    d.get(URL + "#/overview")
    page_ready(d, "overview", timeout=30)
    visible(d, "[data-testid=overview-projects]")
    res = d.execute_script("""
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const base = new URL('.', location.href).href;
      const mine = res.filter(r => r.name.startsWith(base));
      const sum = (xs) => xs.reduce((a, r) => a + (r.transferSize || 0), 0);
      const decoded = (xs) => xs.reduce((a, r) => a + (r.decodedBodySize || 0), 0);
      const mark = performance.getEntriesByName('fluke:interactive')[0];
      return {
        overview_bytes: (nav ? nav.transferSize : 0) + sum(mine),
        overview_decoded_bytes: (nav ? nav.decodedBodySize : 0) + decoded(mine),
        all_bytes: (nav ? nav.transferSize : 0) + sum(res),
        files: mine.map(r => [r.name.slice(base.length), r.transferSize, r.decodedBodySize]),
        overview_ms: mark ? Math.round(mark.startTime) : null,
      };
    """)
    metrics["overview_bytes"] = res["overview_bytes"]
    metrics["overview_decoded_bytes"] = res["overview_decoded_bytes"]
    metrics["overview_all_bytes"] = res["all_bytes"]
    metrics["overview_ms"] = res["overview_ms"]
    metrics["overview_files"] = res["files"]
    assert res["overview_ms"] is not None, "no fluke:interactive mark"
    assert res["overview_bytes"] < 300 * 1024, f"overview first load {res['overview_bytes']} bytes"


LOG_BENCH = r"""
const done = arguments[arguments.length - 1];
const lv = window.__fluke && window.__fluke.logView;
if (!lv) { done({error: 'no window.__fluke.logView'}); return; }
const frames = [];
let running = true;
const tick = (t) => { frames.push(t); if (running) requestAnimationFrame(tick); };
requestAnimationFrame(tick);
const levels = ['debug', 'info', 'warn', 'error'];
let n = 0;
const t0 = performance.now();
const timer = setInterval(() => {
  const batch = [];
  for (let i = 0; i < 50; i++, n++) {
    batch.push({id: 'bench-' + n, timestamp: new Date().toISOString(), level: levels[n % 4],
                message: 'synthetic line ' + n + ' <b>not html</b> \u0000 ' + 'x'.repeat(n % 80)});
  }
  lv.append(batch);
  if (performance.now() - t0 >= 3000) {
    clearInterval(timer);
    setTimeout(() => {
      running = false;
      const windows = [];
      for (let s = t0; s + 1000 <= t0 + 3000 + 1; s += 250) windows.push(frames.filter(f => f >= s && f < s + 1000).length);
      const sorted = windows.slice().sort((a, b) => a - b);
      done({sent: n, windows, min: sorted[0], median: sorted[Math.floor(sorted.length / 2)],
            stats: lv.frameStats(), domRows: document.querySelectorAll('[data-testid=log-line]').length});
    }, 100);
  }
}, 10);
"""


def step_log_view_fps(d):
    go(d, "#/logs", "logs")
    visible(d, "[data-testid=logview]")
    r = d.execute_async_script(LOG_BENCH)
    if r.get("error"):
        raise AssertionError(r["error"])
    metrics["log_fps_min"] = r["min"]
    metrics["log_fps_median"] = r["median"]
    metrics["log_lines_sent"] = r["sent"]
    metrics["log_frame_stats"] = r["stats"]
    metrics["log_dom_rows"] = r["domRows"]
    assert r["domRows"] < 500, f"{r['domRows']} rows in the DOM: not virtualised"
    assert r["stats"]["lines"] >= min(r["sent"], 100000) - 50, r["stats"]
    assert r["min"] >= 30, f"worst 1-s window {r['min']} fps"
    # hostile text stays text
    assert not d.find_elements(*css("[data-testid=log-lines] b")), "HTML from a log line was rendered"


def step_fill_log_gap(d):
    """The logs explorer's "Fill the gap" replays exactly what a gap lost: ten entries are sent,
    a gap between the 3rd and the 8th is filled through a second tail from the 3rd's since_id."""
    token = api_token()
    app = f"gap-{RUN}"[:63]
    entries = [{"level": "info", "message": f"gap line {i}", "source": {"service": "browser-test"},
                "flukedeploy_metadata": {"app_name": app}} for i in range(10)]
    status, body = http("POST", service_url("log_streamer") + "/api/v1/logs", entries, token=token)
    assert status == 202, f"POST /api/v1/logs → {status} {body}"
    ids = body["ids"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, page = http("GET", service_url("log_streamer") + f"/api/v1/logs?app_name={app}&limit=100", token=token)
        if status == 200 and len(page.get("items", [])) == 10:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the ten entries were not listed: {status} {page}")
    go(d, "#/logs", "logs")
    got = d.execute_async_script("""
        const [since, after, app, done] = arguments;
        import('./js/pages/logs.js')
          .then((m) => m.fillGap({ since_id: since, after: { id: after } }, { app_name: app }))
          .then((items) => done({ ids: items.map((e) => e.id), messages: items.map((e) => e.message) }))
          .catch((e) => done({ error: String(e && e.message || e) }));
    """, ids[2], ids[7], app)
    assert not got.get("error"), got
    assert got["ids"] == ids[3:7], f"filled {got['messages']} instead of gap lines 3 to 6"
    metrics["fill_gap_entries"] = len(got["ids"])


STEPS = [
    ("sign_in", step_sign_in),
    ("create_project", step_create_project),
    ("secret_env_var_masked", step_secret_env_var),
    ("save_memory", step_save_memory),
    ("mcp_schema_error_on_field", step_mcp_schema_error),
    *DEPLOYMENT_STEPS,
    *NARROW_STEPS,
    ("second_tenant_isolation", step_tenant_isolation),
    ("overview_first_load", step_overview_first_load),
    ("log_view_fps", step_log_view_fps),
    ("fill_log_gap", step_fill_log_gap),
]

NEEDS = {  # a step that needs an earlier one is skipped (as failed) when that one failed
    "secret_env_var_masked": "create_project", "save_memory": "create_project",
    "mcp_schema_error_on_field": "create_project", "second_tenant_isolation": "create_project",
    "deploy_process_app": "create_project", "rollback_from_releases": "deploy_process_app",
    "webhook_delivery_attempts": "create_project", "narrow_viewport": "create_project", "accessibility": "create_project",
}


STARTED = time.monotonic()


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    d = make_driver()
    try:
        for i, (name, fn) in enumerate(STEPS, 1):
            need = NEEDS.get(name)
            if need and need not in passed:
                failed.append({"step": name, "error": f"skipped: needs {need}"})
                continue
            t0 = time.monotonic()
            try:
                fn(d)
                passed.append(name)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                msg = f"{type(e).__name__}: {e}".strip()
                if isinstance(e, TimeoutException):
                    msg += " | " + traceback.format_exc(limit=3).strip().splitlines()[-3]
                failed.append({"step": name, "error": msg[:2000]})
            finally:
                metrics.setdefault("step_seconds", {})[name] = round(time.monotonic() - t0, 2)
                try:
                    d.save_screenshot(os.path.join(ARTIFACTS, f"{i:02d}-{name}.png"))
                except Exception:  # noqa: BLE001
                    pass
        # what the deployment and webhook steps made goes (the app's replicas stop with it)
        t0 = time.monotonic()
        try:
            cleanup()
            if state["apps"] or state["subscriptions"]:
                passed.append("cleanup")
        except Exception as e:  # noqa: BLE001
            failed.append({"step": "cleanup", "error": f"{type(e).__name__}: {e}"[:2000]})
        metrics.setdefault("step_seconds", {})["cleanup"] = round(time.monotonic() - t0, 2)
        try:
            logs = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
            metrics["console_errors"] = [e.get("message", "")[:300] for e in logs[:20]]
        except Exception:  # noqa: BLE001
            pass
    finally:
        d.quit()
        try:
            cleanup()  # when the loop above did not get there
        except Exception as e:  # noqa: BLE001
            failed.append({"step": "cleanup", "error": f"{type(e).__name__}: {e}"[:2000]})
    metrics["total_seconds"] = round(time.monotonic() - STARTED, 1)
    print(json.dumps({"passed": passed, "failed": failed, "metrics": metrics}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
