//! Reads the rendered Kubernetes manifests (`kubectl kustomize` of every overlay under k8s/,
//! plus each overlay with every service enabled) and asserts what no schema knows: locked-down
//! containers with probes and limits, a termination grace that outlasts the server's drain,
//! env names and ports the binaries really read (asked through their `--help`), a
//! NetworkPolicy path for every caller and none for anyone else, the SLA policy ConfigMap that
//! csops-sla loads, the fields of the custom resources (CloudNativePG, ServiceMonitor,
//! PrometheusRule), and the collector's config as it runs (env resolved): memory limiter →
//! tail sampling (errors, slow traces, a share of the rest) → batch, on one replica.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// The services of the suite: short name, fully qualified gRPC service name.
const SERVICES: [(&str, &str); 4] = [
    ("customers", "csops.customers.v1.CustomersService"),
    ("complaints", "csops.complaints.v1.ComplaintsService"),
    ("visits", "csops.visits.v1.VisitsService"),
    ("feedback", "csops.feedback.v1.FeedbackService"),
];

/// Who calls whom (the architecture): caller → callees.
const CALLS: [(&str, &[&str]); 4] = [
    ("customers", &["visits"]),
    ("complaints", &["customers", "visits", "feedback"]),
    ("visits", &["customers", "feedback"]),
    ("feedback", &["customers", "complaints"]),
];

/// Standard OpenTelemetry variables the SDK reads; the binaries' `--help` names most of them.
const OTEL_SDK_ENV: [&str; 5] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
];

/// Kinds whose pod templates are checked.
const WORKLOADS: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

#[derive(Debug)]
struct Rendered {
    /// e.g. "dev" or "prod (all services)".
    name: String,
    overlay: String,
    objects: Vec<Value>,
}

impl Rendered {
    fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
        let kind = kind.to_owned();
        self.objects
            .iter()
            .filter(move |o| o["kind"] == kind.as_str())
    }

    fn named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.of_kind(kind).find(|o| o["metadata"]["name"] == name)
    }

    /// The csops gRPC servers in this rendering, by short name.
    fn servers(&self) -> BTreeMap<String, &Value> {
        self.of_kind("Deployment")
            .filter(|d| d["metadata"]["labels"]["app.kubernetes.io/component"] == "grpc-server")
            .map(|d| (str_of(&d["metadata"]["name"]).to_owned(), d))
            .collect()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn kustomize(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl (with its built-in kustomize) must be installed: see shared/TOOLS.md");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Renders `overlay` with the services that are commented out in it ("  #   - ../../services/…")
/// enabled, from a copy whose relative paths are rewritten to reach k8s/ (as check-k8s.sh does).
fn kustomize_all_services(overlay: &Path) -> Vec<Value> {
    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join(overlay.file_name().unwrap());
    copy_dir(overlay, &copy);
    let depth = copy.components().count() - 1; // minus the root "/"
    let k8s = repo().join("k8s");
    let to_k8s = format!(
        "{}{}/",
        "../".repeat(depth),
        k8s.strip_prefix("/").unwrap().display()
    );
    let file = copy.join("kustomization.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text
        .lines()
        .map(|line| match line.strip_prefix("  #   - ../../services/") {
            Some(rest) => format!("  - ../../services/{rest}"),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("../../", &to_k8s);
    std::fs::write(&file, text).unwrap();
    kustomize(&copy)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every overlay under k8s/overlays, as is and with every service enabled.
fn renderings() -> &'static [Rendered] {
    static RENDERED: OnceLock<Vec<Rendered>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let mut overlays: Vec<PathBuf> = std::fs::read_dir(repo().join("k8s/overlays"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("kustomization.yaml").exists())
            .collect();
        overlays.sort();
        assert!(!overlays.is_empty(), "no overlays under k8s/overlays");
        let mut all = Vec::new();
        for overlay in overlays {
            let name = overlay.file_name().unwrap().to_string_lossy().into_owned();
            all.push(Rendered {
                name: name.clone(),
                overlay: name.clone(),
                objects: kustomize(&overlay),
            });
            all.push(Rendered {
                name: format!("{name} (all services)"),
                overlay: name,
                objects: kustomize_all_services(&overlay),
            });
        }
        all
    })
}

fn rendering(name: &str) -> &'static Rendered {
    renderings()
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rendering named {name}"))
}

fn pod_spec(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

fn containers(workload: &Value) -> impl Iterator<Item = &Value> {
    pod_spec(workload)["containers"]
        .as_array()
        .into_iter()
        .flatten()
}

fn env_of(container: &Value) -> BTreeMap<String, &Value> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (str_of(&e["name"]).to_owned(), e))
        .collect()
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
}

fn port_named(container: &Value, name: &str) -> Option<u64> {
    container["ports"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
}

fn port_of_addr(addr: &str) -> u64 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr}"))
}

fn server_container(deployment: &Value) -> &Value {
    containers(deployment)
        .find(|c| c["name"] == "server")
        .unwrap_or_else(|| {
            panic!(
                "{} has no container named server",
                deployment["metadata"]["name"]
            )
        })
}

fn grpc_service_of(service: &str) -> &'static str {
    SERVICES
        .iter()
        .find(|(s, _)| *s == service)
        .map(|(_, g)| *g)
        .unwrap()
}

fn callees_of(service: &str) -> &'static [&'static str] {
    CALLS
        .iter()
        .find(|(s, _)| *s == service)
        .map(|(_, c)| *c)
        .unwrap_or(&[])
}

fn labels_of_pods(workload: &Value) -> BTreeMap<String, String> {
    workload["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), str_of(v).to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a label selector (matchLabels and matchExpressions In/NotIn/Exists) selects `labels`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let labels_ok = match_labels
        .into_iter()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten();
    let expressions_ok = expressions.into_iter().all(|e| {
        let value = labels.get(str_of(&e["key"]));
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        match str_of(&e["operator"]) {
            "In" => value.is_some_and(|v| values.contains(&v.as_str())),
            "NotIn" => value.is_none_or(|v| !values.contains(&v.as_str())),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => panic!("unknown selector operator {other}"),
        }
    });
    labels_ok && expressions_ok
}

/// Whether a NetworkPolicy peer list (`from`/`to`) admits a pod of the same namespace with
/// `labels`. Peers with a namespaceSelector or ipBlock name other namespaces or addresses.
fn peers_admit(peers: &Value, labels: &BTreeMap<String, String>) -> bool {
    match peers.as_array() {
        None => true, // no `from`/`to`: every peer
        Some(peers) => peers.iter().any(|peer| {
            peer.get("namespaceSelector").is_none()
                && peer.get("ipBlock").is_none()
                && peer.get("podSelector").is_some_and(|s| selects(s, labels))
        }),
    }
}

fn ports_admit(ports: &Value, port: u64, port_name: &str) -> bool {
    match ports.as_array() {
        None => true,
        Some(ports) => ports
            .iter()
            .any(|p| p["port"].as_u64() == Some(port) || p["port"] == port_name),
    }
}

/// Whether the NetworkPolicies let a pod labelled `from` open a TCP connection to a pod
/// labelled `to` on `port` (named `port_name` on the receiving container).
fn allowed(
    rendered: &Rendered,
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, String>,
    port: u64,
    port_name: &str,
) -> (bool, bool) {
    let policies: Vec<&Value> = rendered.of_kind("NetworkPolicy").collect();
    let has_type = |p: &Value, t: &str| {
        p["spec"]["policyTypes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == t))
    };
    let egress = policies
        .iter()
        .filter(|p| has_type(p, "Egress") && selects(&p["spec"]["podSelector"], from))
        .flat_map(|p| p["spec"]["egress"].as_array().into_iter().flatten())
        .any(|rule| peers_admit(&rule["to"], to) && ports_admit(&rule["ports"], port, port_name));
    let ingress = policies
        .iter()
        .filter(|p| has_type(p, "Ingress") && selects(&p["spec"]["podSelector"], to))
        .flat_map(|p| p["spec"]["ingress"].as_array().into_iter().flatten())
        .any(|rule| {
            peers_admit(&rule["from"], from) && ports_admit(&rule["ports"], port, port_name)
        });
    (egress, ingress)
}

/// The `--help` of a service's debug binary; `None` when the service has no binary yet.
/// Builds it with `cargo build -p csops-<service>` when it is missing.
fn help_of(service: &str) -> Option<&'static str> {
    static HELPS: OnceLock<std::sync::Mutex<BTreeMap<String, Option<&'static str>>>> =
        OnceLock::new();
    let helps = HELPS.get_or_init(Default::default);
    let mut helps = helps.lock().unwrap();
    if let Some(help) = helps.get(service) {
        return *help;
    }
    let help = if repo()
        .join("services")
        .join(service)
        .join("src/main.rs")
        .exists()
    {
        // This test runs as <target>/debug/deps/k8s_manifests-…; the binaries sit in <target>/debug.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let binary = profile_dir.join(format!("csops-{service}"));
        if !binary.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            // Into the same target directory and profile this test was built with.
            let target_dir = profile_dir.parent().unwrap();
            let mut build = Command::new(cargo);
            build
                .args(["build", "-p", &format!("csops-{service}")])
                .arg("--target-dir")
                .arg(target_dir);
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                build.arg("--release");
            }
            let status = build.current_dir(repo()).status().unwrap();
            assert!(status.success(), "cargo build -p csops-{service} failed");
        }
        assert!(
            binary.exists(),
            "{} is missing after cargo build",
            binary.display()
        );
        let output = Command::new(&binary).arg("--help").output().unwrap();
        assert!(
            output.status.success(),
            "{} --help failed",
            binary.display()
        );
        Some(&*String::from_utf8(output.stdout).unwrap().leak())
    } else {
        eprintln!("note: services/{service} has no binary yet; its env names are not checked");
        None
    };
    helps.insert(service.to_owned(), help);
    help
}

fn parse_duration(text: &str) -> Duration {
    humantime::parse_duration(text).unwrap_or_else(|e| panic!("bad duration {text}: {e}"))
}

/// The collector's config as it runs: the file its `--config` flag names, read from the
/// ConfigMap mounted there, with each `${env:NAME}` (or `${env:NAME:-default}`) replaced the
/// way the collector does it: a value that is only the reference takes the variable's YAML
/// type, and a reference inside a longer string is spliced into it.
fn collector_config(rendered: &Rendered) -> Value {
    let deployment = rendered
        .named("Deployment", "otel-collector")
        .unwrap_or_else(|| panic!("{}: no otel-collector Deployment", rendered.name));
    let container = containers(deployment)
        .find(|c| c["name"] == "collector")
        .unwrap_or_else(|| panic!("{}: no collector container", rendered.name));
    let path = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|a| str_of(a).strip_prefix("--config="))
        .unwrap_or_else(|| panic!("{}: the collector has no --config=FILE", rendered.name));
    let (dir, file) = path.rsplit_once('/').unwrap();
    let mount = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mountPath"] == dir)
        .unwrap_or_else(|| panic!("{}: nothing is mounted at {dir}", rendered.name));
    let volume = pod_spec(deployment)["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let config_map = rendered
        .named("ConfigMap", str_of(&volume["configMap"]["name"]))
        .unwrap_or_else(|| panic!("{}: the collector's ConfigMap is missing", rendered.name));
    let text = config_map["data"][file]
        .as_str()
        .unwrap_or_else(|| panic!("{}: the collector's ConfigMap has no {file}", rendered.name));
    let mut config: Value = serde_yaml_ng::from_str(text).unwrap();
    expand_env(&mut config, container, &rendered.name);
    config
}

fn expand_env(value: &mut Value, container: &Value, at: &str) {
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| expand_env(v, container, at)),
        Value::Array(items) => items.iter_mut().for_each(|v| expand_env(v, container, at)),
        Value::String(text) if text.contains("${env:") => {
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${env:") {
                out.push_str(&rest[..start]);
                let (reference, after) = rest[start + 6..]
                    .split_once('}')
                    .unwrap_or_else(|| panic!("{at}: unclosed ${{env: in {text}"));
                let (name, default) = match reference.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (reference, None),
                };
                let resolved = env_value(container, name).or(default).unwrap_or_else(|| {
                    panic!("{at}: the collector reads ${{env:{name}}} but its container does not set it")
                });
                out.push_str(resolved);
                rest = after;
            }
            out.push_str(rest);
            let whole = text.starts_with("${env:")
                && text.ends_with('}')
                && text.matches("${").count() == 1;
            *value = if whole {
                serde_yaml_ng::from_str(&out).unwrap_or(Value::String(out))
            } else {
                Value::String(out)
            };
        }
        _ => {}
    }
}

#[test]
fn every_container_has_probes_limits_and_runs_locked_down() {
    for rendered in renderings() {
        for workload in rendered
            .objects
            .iter()
            .filter(|o| WORKLOADS.contains(&str_of(&o["kind"])))
        {
            let name = format!(
                "{} {}/{}",
                rendered.name,
                workload["kind"],
                str_of(&workload["metadata"]["name"])
            );
            let pod = pod_spec(workload);
            assert_eq!(
                pod["automountServiceAccountToken"], false,
                "{name}: automountServiceAccountToken"
            );
            for container in containers(workload) {
                let at = format!("{name} container {}", container["name"]);
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    assert!(container[probe].is_object(), "{at}: no {probe}");
                }
                for (section, resource) in [
                    ("requests", "cpu"),
                    ("requests", "memory"),
                    ("limits", "cpu"),
                    ("limits", "memory"),
                ] {
                    assert!(
                        !container["resources"][section][resource].is_null(),
                        "{at}: no resources.{section}.{resource}"
                    );
                }
                let security = &container["securityContext"];
                let pod_security = &pod["securityContext"];
                let either = |key: &str| {
                    if security[key].is_null() {
                        &pod_security[key]
                    } else {
                        &security[key]
                    }
                };
                assert_eq!(
                    either("runAsNonRoot"),
                    &Value::Bool(true),
                    "{at}: runAsNonRoot"
                );
                assert!(
                    either("runAsUser").as_u64().is_some_and(|uid| uid > 0),
                    "{at}: numeric non-root runAsUser"
                );
                assert_eq!(
                    security["readOnlyRootFilesystem"], true,
                    "{at}: readOnlyRootFilesystem"
                );
                assert_eq!(
                    security["allowPrivilegeEscalation"], false,
                    "{at}: allowPrivilegeEscalation"
                );
                let drops: Vec<&str> = security["capabilities"]["drop"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(str_of)
                    .collect();
                assert_eq!(drops, ["ALL"], "{at}: capabilities.drop");
                assert!(
                    security["capabilities"]["add"].is_null(),
                    "{at}: adds capabilities"
                );
                assert_eq!(
                    either("seccompProfile")["type"],
                    "RuntimeDefault",
                    "{at}: seccompProfile"
                );
            }
        }
    }
}

#[test]
fn servers_use_native_grpc_probes_on_their_health_service() {
    for rendered in renderings() {
        for (service, deployment) in rendered.servers() {
            let container = server_container(deployment);
            let grpc_port = port_named(container, "grpc").unwrap();
            for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                let grpc = &container[probe]["grpc"];
                let at = format!("{} {service} {probe}", rendered.name);
                assert_eq!(grpc["port"].as_u64(), Some(grpc_port), "{at}: grpc.port");
                let expected = if probe == "livenessProbe" {
                    ""
                } else {
                    grpc_service_of(&service)
                };
                assert_eq!(
                    grpc["service"].as_str(),
                    Some(expected),
                    "{at}: grpc.service"
                );
            }
        }
    }
}

#[test]
fn termination_grace_outlasts_drain_delay_and_shutdown_grace() {
    for rendered in renderings() {
        for (service, deployment) in rendered.servers() {
            let container = server_container(deployment);
            // The binaries' defaults (see --help) when the variables are not set.
            let grace =
                parse_duration(env_value(container, "CSOPS_SHUTDOWN_GRACE").unwrap_or("20s"));
            let drain = parse_duration(env_value(container, "CSOPS_DRAIN_DELAY").unwrap_or("0s"));
            let termination = pod_spec(deployment)["terminationGracePeriodSeconds"]
                .as_u64()
                .unwrap_or(30);
            assert!(
                Duration::from_secs(termination) > grace + drain,
                "{} {service}: terminationGracePeriodSeconds {termination} must exceed drain {drain:?} + grace {grace:?}",
                rendered.name
            );
            assert!(
                drain >= Duration::from_secs(1),
                "{} {service}: set CSOPS_DRAIN_DELAY so callers see NOT_SERVING",
                rendered.name
            );
        }
    }
}

#[test]
fn env_names_and_ports_match_what_the_binaries_read() {
    for rendered in renderings() {
        let servers = rendered.servers();
        for (service, deployment) in &servers {
            let container = server_container(deployment);
            let at = format!("{} {service}", rendered.name);
            let env = env_of(container);

            // Ports: the listen and metrics addresses, the container ports, the probes'
            // port, the Service and the scrape annotation agree.
            let listen = env_value(container, "CSOPS_LISTEN_ADDR")
                .unwrap_or_else(|| panic!("{at}: no CSOPS_LISTEN_ADDR"));
            let metrics = env_value(container, "CSOPS_METRICS_ADDR")
                .unwrap_or_else(|| panic!("{at}: no CSOPS_METRICS_ADDR"));
            assert!(
                listen.starts_with("0.0.0.0:") && metrics.starts_with("0.0.0.0:"),
                "{at}: bind all interfaces in a pod"
            );
            let grpc_port = port_named(container, "grpc").unwrap();
            let metrics_port = port_named(container, "metrics").unwrap();
            assert_eq!(
                port_of_addr(listen),
                grpc_port,
                "{at}: CSOPS_LISTEN_ADDR vs containerPort grpc"
            );
            assert_eq!(
                port_of_addr(metrics),
                metrics_port,
                "{at}: CSOPS_METRICS_ADDR vs containerPort metrics"
            );
            let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
            assert_eq!(
                annotations["prometheus.io/port"],
                metrics_port.to_string(),
                "{at}: prometheus.io/port"
            );
            let svc = rendered
                .named("Service", service)
                .unwrap_or_else(|| panic!("{at}: no Service"));
            assert_eq!(
                svc["spec"]["clusterIP"], "None",
                "{at}: the Service must be headless for per-request balancing"
            );
            let svc_port = |name: &str| {
                svc["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{at}: Service port {name}"))
            };
            assert_eq!(
                svc_port("grpc")["port"].as_u64(),
                Some(grpc_port),
                "{at}: Service grpc port"
            );
            assert_eq!(
                svc_port("metrics")["port"].as_u64(),
                Some(metrics_port),
                "{at}: Service metrics port"
            );

            // Callees by their headless Service name and gRPC port.
            for callee in callees_of(service) {
                let var = format!("CSOPS_{}_URL", callee.to_uppercase());
                let url = env_value(container, &var).unwrap_or_else(|| panic!("{at}: no {var}"));
                let callee_port =
                    SERVICES.iter().position(|(s, _)| s == callee).unwrap() as u64 + 50051;
                assert_eq!(url, format!("http://{callee}:{callee_port}"), "{at}: {var}");
            }

            // Env names: what the binary documents in --help, the OpenTelemetry SDK's, or
            // helpers that another value interpolates as $(NAME).
            let interpolated: BTreeSet<String> = env
                .values()
                .filter_map(|e| e["value"].as_str())
                .flat_map(|v| {
                    v.split("$(")
                        .skip(1)
                        .filter_map(|s| s.split_once(')'))
                        .map(|(n, _)| n.to_owned())
                })
                .collect();
            let Some(help) = help_of(service) else {
                continue;
            };
            let default_listen = format!("[default: 127.0.0.1:{grpc_port}]");
            let default_metrics = format!("[default: 127.0.0.1:{metrics_port}]");
            // clap wraps long help lines wherever the column width falls: compare words.
            let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&default_listen), "{at}: the binary's default listen port differs from the manifest's {grpc_port}:\n{help}");
            assert!(flat.contains(&default_metrics), "{at}: the binary's default metrics port differs from the manifest's {metrics_port}:\n{help}");
            // Whole words only: CSOPS_DB_MAX_CONNECTION must not pass for CSOPS_DB_MAX_CONNECTIONS.
            let help_words: BTreeSet<&str> = help
                .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            for name in env.keys() {
                let known = help_words.contains(name.as_str())
                    || OTEL_SDK_ENV.contains(&name.as_str())
                    || interpolated.contains(name);
                assert!(
                    known,
                    "{at}: env {name} is not read by csops-{service} (not in its --help):\n{help}"
                );
                if name.starts_with("CSOPS_") || name.ends_with("_DATABASE_URL") {
                    assert!(
                        help_words.contains(name.as_str()),
                        "{at}: csops-{service} --help does not name {name}:\n{help}"
                    );
                }
            }
            let database = format!("{}_DATABASE_URL", service.to_uppercase());
            let secret = &env
                .get(&database)
                .unwrap_or_else(|| panic!("{at}: no {database}"))["valueFrom"]["secretKeyRef"];
            assert!(
                secret["name"].is_string() && secret["key"].is_string(),
                "{at}: {database} must come from a Secret"
            );
        }
    }
}

#[test]
fn telemetry_goes_to_the_collector() {
    for rendered in renderings() {
        let collector = rendered
            .named("Service", "otel-collector")
            .unwrap_or_else(|| panic!("{}: no otel-collector Service", rendered.name));
        let has_4317 = collector["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["port"] == 4317);
        assert!(
            has_4317,
            "{}: the collector Service has no OTLP/gRPC port",
            rendered.name
        );
        for (service, deployment) in rendered.servers() {
            let container = server_container(deployment);
            assert_eq!(
                env_value(container, "OTEL_EXPORTER_OTLP_ENDPOINT"),
                Some("http://otel-collector:4317"),
                "{} {service}",
                rendered.name
            );
            assert_eq!(
                env_value(container, "OTEL_SERVICE_NAME"),
                Some(service.as_str()),
                "{} {service}",
                rendered.name
            );
            let labels = labels_of_pods(deployment);
            let collector_pods =
                labels_of_pods(rendered.named("Deployment", "otel-collector").unwrap());
            assert_eq!(
                allowed(rendered, &labels, &collector_pods, 4317, "otlp-grpc"),
                (true, true),
                "{} {service} → collector",
                rendered.name
            );
        }
        let exporter = env_value(
            containers(rendered.named("Deployment", "otel-collector").unwrap())
                .next()
                .unwrap(),
            "OTLP_EXPORT_ENDPOINT",
        )
        .unwrap();
        if rendered.overlay == "dev" {
            assert_eq!(exporter, "jaeger:4317", "dev exports traces to Jaeger");
            assert!(
                rendered.named("Deployment", "jaeger").is_some(),
                "dev runs Jaeger"
            );
            let (egress, ingress) = allowed(
                rendered,
                &labels_of_pods(rendered.named("Deployment", "otel-collector").unwrap()),
                &labels_of_pods(rendered.named("Deployment", "jaeger").unwrap()),
                4317,
                "otlp-grpc",
            );
            assert!(egress && ingress, "dev: collector → Jaeger must be allowed");
        } else {
            assert!(
                !exporter.starts_with("jaeger"),
                "{}: exports to the OTLP backend",
                rendered.name
            );
        }
    }
}

#[test]
fn the_collector_limits_memory_then_tail_samples_then_batches() {
    for rendered in renderings() {
        let config = collector_config(rendered);
        let at = &rendered.name;
        let pipeline: Vec<&str> = config["service"]["pipelines"]["traces"]["processors"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: the traces pipeline has no processors"))
            .iter()
            .map(str_of)
            .collect();
        let position = |name: &str| {
            pipeline.iter().position(|p| *p == name).unwrap_or_else(|| {
                panic!("{at}: {name} is not in the traces pipeline {pipeline:?}")
            })
        };
        assert_eq!(
            position("memory_limiter"),
            0,
            "{at}: memory_limiter comes first, so it refuses data before anything holds it: {pipeline:?}"
        );
        assert!(
            position("tail_sampling") < position("batch"),
            "{at}: tail_sampling before batch: {pipeline:?}"
        );
        for name in &pipeline {
            assert!(
                config["processors"][name].is_object(),
                "{at}: the pipeline names {name}, which processors: does not define"
            );
        }

        // Tail sampling keeps a trace when any policy matches.
        let tail = &config["processors"]["tail_sampling"];
        let policies = tail["policies"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: tail_sampling has no policies"));
        let of_type = |kind: &str| {
            policies
                .iter()
                .find(|p| p["type"] == kind)
                .unwrap_or_else(|| panic!("{at}: no {kind} policy"))
        };
        let errors = &of_type("status_code")["status_code"]["status_codes"];
        assert!(
            errors
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == "ERROR")),
            "{at}: the status_code policy keeps ERROR: {errors}"
        );
        let slow = &of_type("latency")["latency"]["threshold_ms"];
        assert!(
            slow.as_u64().is_some_and(|ms| ms > 0),
            "{at}: the latency policy needs a threshold_ms in whole milliseconds: {slow}"
        );
        let share = &of_type("probabilistic")["probabilistic"]["sampling_percentage"];
        assert!(
            share.as_f64().is_some_and(|p| p > 0.0 && p <= 100.0),
            "{at}: sampling_percentage is a number in (0, 100]: {share}"
        );

        // A trace is decided only after every service has exported its spans...
        let wait = parse_duration(str_of(&tail["decision_wait"]));
        for (service, deployment) in rendered.servers() {
            let export_every = env_value(server_container(deployment), "OTEL_BSP_SCHEDULE_DELAY")
                .map_or(Duration::from_secs(5), |ms| {
                    Duration::from_millis(ms.parse().unwrap())
                });
            assert!(
                wait > export_every,
                "{at}: decision_wait {wait:?} must outlast {service}'s span export interval {export_every:?}"
            );
        }
        // ...and at the expected rate, no trace is evicted before its decision.
        let per_second = tail["expected_new_traces_per_sec"].as_u64().unwrap();
        let held = tail["num_traces"].as_u64().unwrap();
        assert!(
            held >= per_second * wait.as_secs(),
            "{at}: num_traces {held} < {per_second}/s × {wait:?}"
        );

        // All the spans of a trace must reach the same collector.
        let replicas = rendered.named("Deployment", "otel-collector").unwrap()["spec"]["replicas"]
            .as_u64()
            .unwrap_or(1);
        assert_eq!(
            replicas, 1,
            "{at}: tail sampling needs one collector (or a loadbalancing-exporter tier in front)"
        );
    }
}

#[test]
fn servers_leave_sampling_to_the_collector() {
    for rendered in renderings() {
        for (service, deployment) in rendered.servers() {
            assert_eq!(
                env_value(server_container(deployment), "OTEL_TRACES_SAMPLER"),
                Some("parentbased_always_on"),
                "{} {service}: head sampling off, the collector tail-samples",
                rendered.name
            );
        }
    }
}

#[test]
fn dev_keeps_every_trace() {
    for rendered in renderings().iter().filter(|r| r.overlay == "dev") {
        let config = collector_config(rendered);
        let policies = config["processors"]["tail_sampling"]["policies"]
            .as_array()
            .unwrap();
        let share = policies
            .iter()
            .find(|p| p["type"] == "probabilistic")
            .map(|p| p["probabilistic"]["sampling_percentage"].as_f64())
            .unwrap();
        assert_eq!(
            share,
            Some(100.0),
            "{}: developers see every trace in Jaeger",
            rendered.name
        );
    }
}

#[test]
fn network_policies_deny_all_then_allow_each_caller_and_no_one_else() {
    for rendered in renderings() {
        let deny = rendered
            .named("NetworkPolicy", "default-deny-all")
            .unwrap_or_else(|| panic!("{}: no default deny", rendered.name));
        assert_eq!(
            deny["spec"]["podSelector"],
            serde_json::json!({}),
            "{}: default deny selects every pod",
            rendered.name
        );
        assert!(
            deny["spec"]["ingress"].is_null() && deny["spec"]["egress"].is_null(),
            "{}: default deny allows nothing",
            rendered.name
        );
        assert_eq!(
            deny["spec"]["policyTypes"],
            serde_json::json!(["Ingress", "Egress"])
        );

        let servers = rendered.servers();
        for (caller, caller_deployment) in &servers {
            for (callee, callee_deployment) in &servers {
                if caller == callee {
                    continue;
                }
                let port = port_named(server_container(callee_deployment), "grpc").unwrap();
                let (egress, ingress) = allowed(
                    rendered,
                    &labels_of_pods(caller_deployment),
                    &labels_of_pods(callee_deployment),
                    port,
                    "grpc",
                );
                if callees_of(caller).contains(&callee.as_str()) {
                    assert!(
                        egress,
                        "{}: {caller} may not reach {callee}:{port} (egress)",
                        rendered.name
                    );
                    assert!(
                        ingress,
                        "{}: {callee} does not admit {caller} on {port} (ingress)",
                        rendered.name
                    );
                } else {
                    assert!(
                        !ingress,
                        "{}: {callee} admits {caller}, which does not call it",
                        rendered.name
                    );
                }
            }
            // Every server reaches DNS and its database.
            let labels = labels_of_pods(caller_deployment);
            let dns_ok = rendered.of_kind("NetworkPolicy").any(|p| {
                selects(&p["spec"]["podSelector"], &labels)
                    && p["spec"]["egress"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|r| {
                            r["to"].as_array().into_iter().flatten().any(|peer| {
                                peer["podSelector"]["matchLabels"]["k8s-app"] == "kube-dns"
                            }) && ports_admit(&r["ports"], 53, "dns")
                        })
            });
            assert!(dns_ok, "{}: {caller} cannot resolve names", rendered.name);
            let database_pods: BTreeMap<String, String> = if rendered.overlay == "dev" {
                [("app.kubernetes.io/name".to_owned(), "postgres".to_owned())].into()
            } else {
                [("cnpg.io/cluster".to_owned(), "csops-pg".to_owned())].into()
            };
            let (egress, ingress) = allowed(rendered, &labels, &database_pods, 5432, "postgres");
            assert!(
                egress && ingress,
                "{}: {caller} cannot reach PostgreSQL",
                rendered.name
            );
        }
    }
}

#[test]
fn sla_policy_config_map_is_the_libs_sla_preset_and_loads() {
    let preset_path = repo().join("libs/sla/presets/default.toml");
    let preset = std::fs::read(&preset_path).expect("libs/sla/presets/default.toml");
    let copy = std::fs::read(repo().join("k8s/base/sla/default.toml")).unwrap();
    assert!(copy == preset, "k8s/base/sla/default.toml differs: cp libs/sla/presets/default.toml k8s/base/sla/default.toml");
    let preset = String::from_utf8(preset).unwrap();
    if let Err(error) = csops_sla::Policy::from_toml_str(&preset, "default.toml") {
        panic!("the SLA policy in the ConfigMap does not load: {error}");
    }
    for rendered in renderings() {
        let config_map = rendered
            .of_kind("ConfigMap")
            .find(|c| str_of(&c["metadata"]["name"]).starts_with("csops-sla-policy"))
            .unwrap_or_else(|| panic!("{}: no csops-sla-policy ConfigMap", rendered.name));
        assert_eq!(
            config_map["data"]["default.toml"].as_str(),
            Some(preset.as_str()),
            "{}: ConfigMap content",
            rendered.name
        );
        // The services with an SLA file mount this ConfigMap where CSOPS_SLA_POLICY_FILE points.
        for (service, deployment) in rendered.servers() {
            let container = server_container(deployment);
            let Some(file) = env_value(container, "CSOPS_SLA_POLICY_FILE") else {
                continue;
            };
            let mount = container["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| file.starts_with(str_of(&m["mountPath"])) && m["name"] == "sla-policy");
            assert!(
                mount.is_some(),
                "{} {service}: {file} is not on the sla-policy mount",
                rendered.name
            );
            let volume = pod_spec(deployment)["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "sla-policy")
                .unwrap();
            assert_eq!(
                volume["configMap"]["name"], config_map["metadata"]["name"],
                "{} {service}: SLA volume",
                rendered.name
            );
            assert!(
                file.ends_with("/default.toml"),
                "{} {service}: {file}",
                rendered.name
            );
        }
    }
    // complaints, visits and feedback read the policy: with every service on, each mounts it.
    let all = rendering("dev (all services)");
    for service in ["complaints", "visits", "feedback"] {
        assert!(
            env_value(
                server_container(all.servers()[service]),
                "CSOPS_SLA_POLICY_FILE"
            )
            .is_some(),
            "{service} needs the SLA policy"
        );
    }
}

#[test]
fn prod_runs_three_replicas_with_autoscaling_disruption_budgets_and_mtls() {
    for rendered in renderings().iter().filter(|r| r.overlay == "prod") {
        for (service, deployment) in rendered.servers() {
            let at = format!("{} {service}", rendered.name);
            assert!(
                deployment["spec"]["replicas"].as_u64().unwrap() >= 3,
                "{at}: replicas"
            );
            let hpa = rendered
                .of_kind("HorizontalPodAutoscaler")
                .find(|h| {
                    h["spec"]["scaleTargetRef"]["name"] == service.as_str()
                        && h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                })
                .unwrap_or_else(|| panic!("{at}: no HPA"));
            let min = hpa["spec"]["minReplicas"].as_u64().unwrap();
            assert!(
                min >= 3 && hpa["spec"]["maxReplicas"].as_u64().unwrap() >= min,
                "{at}: HPA bounds"
            );
            let labels = labels_of_pods(deployment);
            assert!(
                rendered
                    .of_kind("PodDisruptionBudget")
                    .any(|p| selects(&p["spec"]["selector"], &labels)),
                "{at}: no PDB"
            );
            assert_eq!(
                deployment["spec"]["template"]["metadata"]["annotations"]["linkerd.io/inject"],
                "enabled",
                "{at}: not meshed (mTLS)"
            );
        }
    }
    for rendered in renderings().iter().filter(|r| r.overlay == "dev") {
        for (service, deployment) in rendered.servers() {
            assert_eq!(
                deployment["spec"]["replicas"], 1,
                "{} {service}: dev runs one replica",
                rendered.name
            );
        }
        assert_eq!(
            rendered
                .of_kind("StatefulSet")
                .filter(|s| s["metadata"]["name"] == "postgres")
                .count(),
            1,
            "dev runs one PostgreSQL"
        );
    }
}

#[test]
fn prod_custom_resources_have_the_fields_we_rely_on() {
    for rendered in renderings().iter().filter(|r| r.overlay == "prod") {
        let cluster = rendered
            .of_kind("Cluster")
            .next()
            .unwrap_or_else(|| panic!("{}: no CloudNativePG Cluster", rendered.name));
        assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
        assert_eq!(
            cluster["spec"]["instances"], 3,
            "{}: instances",
            rendered.name
        );
        assert!(
            cluster["spec"]["storage"]["size"].is_string(),
            "{}: storage.size",
            rendered.name
        );
        let cluster_name = str_of(&cluster["metadata"]["name"]);
        let roles = cluster["spec"]["managed"]["roles"].as_array().unwrap();
        for (service, deployment) in rendered.servers() {
            let at = format!("{} {service}", rendered.name);
            let database = rendered
                .of_kind("Database")
                .find(|d| d["spec"]["name"] == service.as_str())
                .unwrap_or_else(|| panic!("{at}: no Database"));
            assert_eq!(database["apiVersion"], "postgresql.cnpg.io/v1");
            assert_eq!(
                database["spec"]["cluster"]["name"], cluster_name,
                "{at}: Database cluster"
            );
            assert_eq!(
                database["spec"]["owner"],
                service.as_str(),
                "{at}: Database owner"
            );
            let role = roles
                .iter()
                .find(|r| r["name"] == service.as_str())
                .unwrap_or_else(|| panic!("{at}: no managed role"));
            assert_eq!(role["login"], true, "{at}: role login");
            let env = env_of(server_container(deployment));
            let url_secret = &env[&format!("{}_DATABASE_URL", service.to_uppercase())]["valueFrom"]
                ["secretKeyRef"]["name"];
            assert_eq!(
                &role["passwordSecret"]["name"], url_secret,
                "{at}: the role's password and the service's URL share a Secret"
            );
        }
        let alerts = rendered
            .of_kind("PrometheusRule")
            .next()
            .unwrap_or_else(|| panic!("{}: no PrometheusRule", rendered.name));
        assert_eq!(alerts["apiVersion"], "monitoring.coreos.com/v1");
        let groups = alerts["spec"]["groups"].as_array().unwrap();
        assert!(!groups.is_empty(), "{}: no alert groups", rendered.name);
        for group in groups {
            assert!(
                !str_of(&group["name"]).is_empty(),
                "an alert group without a name"
            );
            for rule in group["rules"].as_array().unwrap() {
                let at = format!("{}: alert {}", rendered.name, str_of(&rule["alert"]));
                assert!(!str_of(&rule["alert"]).is_empty(), "{at}: no name");
                assert!(!str_of(&rule["expr"]).trim().is_empty(), "{at}: no expr");
                humantime::parse_duration(str_of(&rule["for"]))
                    .unwrap_or_else(|e| panic!("{at}: for: {e}"));
                assert!(
                    ["warning", "critical"].contains(&str_of(&rule["labels"]["severity"])),
                    "{at}: severity is warning or critical"
                );
                assert!(
                    !str_of(&rule["annotations"]["summary"]).is_empty(),
                    "{at}: no summary"
                );
            }
        }
        let monitor = rendered
            .of_kind("ServiceMonitor")
            .next()
            .unwrap_or_else(|| panic!("{}: no ServiceMonitor", rendered.name));
        assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
        assert!(monitor["spec"]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["port"] == "metrics" && e["path"] == "/metrics"));
        for service in rendered.servers().keys() {
            let svc = rendered.named("Service", service).unwrap();
            let labels = svc["metadata"]["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), str_of(v).to_owned()))
                .collect();
            assert!(
                selects(&monitor["spec"]["selector"], &labels),
                "{}: the ServiceMonitor misses {service}",
                rendered.name
            );
        }
    }
}

#[test]
fn dev_secrets_carry_the_database_urls() {
    for rendered in renderings().iter().filter(|r| r.overlay == "dev") {
        for (service, deployment) in rendered.servers() {
            let env = env_of(server_container(deployment));
            let reference = &env[&format!("{}_DATABASE_URL", service.to_uppercase())]["valueFrom"]
                ["secretKeyRef"];
            let secret = rendered
                .named("Secret", str_of(&reference["name"]))
                .unwrap_or_else(|| {
                    panic!(
                        "{} {service}: no Secret {}",
                        rendered.name, reference["name"]
                    )
                });
            assert!(
                secret["data"][str_of(&reference["key"])].is_string(),
                "{} {service}: the Secret has no {}",
                rendered.name,
                reference["key"]
            );
        }
    }
}

/// The Secret volume a container mounts over `file`, and the key it maps to that file.
fn secret_behind(workload: &Value, container: &Value, file: &str) -> (String, String) {
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| file.starts_with(&format!("{}/", str_of(&m["mountPath"]))))
        .unwrap_or_else(|| panic!("{file} is on no mount"));
    assert_eq!(mount["readOnly"], true, "{file}: mounted read-only");
    let volume = pod_spec(workload)["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let secret = &volume["secret"];
    let name = &file[str_of(&mount["mountPath"]).len() + 1..];
    let item = secret["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["path"] == name))
        .unwrap_or_else(|| panic!("{file}: no Secret item maps to it"));
    (
        str_of(&secret["secretName"]).to_owned(),
        str_of(&item["key"]).to_owned(),
    )
}

fn secret_text(rendered: &Rendered, name: &str, key: &str) -> String {
    use base64::Engine as _;
    let secret = rendered
        .named("Secret", name)
        .unwrap_or_else(|| panic!("{}: no Secret {name}", rendered.name));
    let data: String = str_of(&secret["data"][key]).split_whitespace().collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn every_server_checks_tokens_and_presents_its_own() {
    for rendered in renderings() {
        for (service, deployment) in rendered.servers() {
            let at = format!("{} {service}", rendered.name);
            let container = server_container(deployment);
            assert_ne!(
                env_value(container, "CSOPS_AUTH"),
                Some("off"),
                "{at}: authentication switched off"
            );
            let jwks = env_value(container, "CSOPS_AUTH_JWKS")
                .unwrap_or_else(|| panic!("{at}: no CSOPS_AUTH_JWKS"));
            let (jwks_secret, jwks_key) = secret_behind(deployment, container, jwks);
            let env = env_of(container);
            let issuer = &env
                .get("CSOPS_AUTH_ISSUER")
                .unwrap_or_else(|| panic!("{at}: no CSOPS_AUTH_ISSUER"))["valueFrom"]
                ["secretKeyRef"];
            let token_file = env_value(container, "CSOPS_AUTH_TOKEN_FILE")
                .unwrap_or_else(|| panic!("{at}: no CSOPS_AUTH_TOKEN_FILE"));
            let (token_secret, token_key) = secret_behind(deployment, container, token_file);
            if rendered.overlay != "dev" {
                continue;
            }
            // Dev: the generated Secrets hold a key and a service token it verifies.
            let verifier = csops_runtime::auth::Verifier::from_jwks(
                &secret_text(rendered, &jwks_secret, &jwks_key),
                &secret_text(rendered, str_of(&issuer["name"]), str_of(&issuer["key"])),
                csops_runtime::auth::dev::AUDIENCE,
            )
            .unwrap_or_else(|e| panic!("{at}: {e}"));
            let principal = verifier
                .verify(secret_text(rendered, &token_secret, &token_key).trim())
                .unwrap_or_else(|e| panic!("{at}: the service token: {e}"));
            assert!(
                principal.has(csops_runtime::auth::Role::Service),
                "{at}: the token's roles"
            );
            assert_eq!(principal.subject, format!("csops-{service}"), "{at}");
        }
    }
}
