//! The pure parts of the pipeline — compile reports → status, compiled config → children — from
//! the YAML fixtures in `tests/fixtures/`, with no API server.

#![allow(clippy::unwrap_used)] // fixtures are ours: a malformed one should fail loudly

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use toolyard_compile::gateway::{CompileContext, Compiled, ResolvedRefs, TargetReport, compile};
use toolyard_crds::gateway::GatewayStatus;
use toolyard_crds::{Gateway, GatewayConfig, GatewayTarget};
use toolyard_operator::pods::{Fault, PodState};
use toolyard_operator::render::{self, DESIRED_HASH_ANNOTATION, Names, Settings};
use toolyard_operator::status::{
    self, Desired, GatewayOutcome, Replicas, condition, merge_conditions,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn gateway(name: &str) -> Gateway {
    serde_yaml::from_str(&fixture(name)).unwrap()
}

fn targets() -> Vec<GatewayTarget> {
    serde_yaml::Deserializer::from_str(&fixture("targets.yaml"))
        .map(|d| GatewayTarget::deserialize(d).unwrap())
        .collect()
}

fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn compiled(gw: &Gateway) -> Compiled {
    let refs = ResolvedRefs {
        secrets: BTreeSet::from([("users-key".to_string(), "token".to_string())]),
        ..Default::default()
    };
    let name = gw.metadata.name.clone().unwrap();
    let ns = gw.metadata.namespace.clone().unwrap();
    let ctx = CompileContext {
        extra_allowed_hosts: render::service_hosts(&name, &ns),
        credentials_secret: Some(Names::of(&name).secret),
    };
    compile(gw, &targets(), &refs, &ctx).unwrap()
}

fn report<'a>(c: &'a Compiled, name: &str) -> &'a TargetReport {
    c.targets.iter().find(|r| r.name == name).unwrap()
}

fn credentials() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("users-key.token".to_string(), b"s3cret".to_vec())])
}

#[test]
fn minimal_gateway_renders_every_child_with_owner_and_labels() {
    let gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let children = render::render(&gw, &c.config, &credentials(), &Settings::default()).unwrap();

    let metas = [
        &children.config_map.metadata,
        &children.secret.metadata,
        &children.service_account.metadata,
        &children.role.metadata,
        &children.role_binding.metadata,
        &children.deployment.metadata,
        &children.service.metadata,
    ];
    for m in metas {
        assert_eq!(m.namespace.as_deref(), Some("default"));
        let owner = &m.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("Gateway", "demo", Some(true))
        );
        assert_eq!(owner.uid, "0a0a0a0a-1111-2222-3333-444455556666");
        let labels = m.labels.as_ref().unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "toolyard-operator");
        assert_eq!(labels["app.kubernetes.io/instance"], "demo");
        assert!(
            m.annotations
                .as_ref()
                .unwrap()
                .contains_key(DESIRED_HASH_ANNOTATION)
        );
    }
    assert_eq!(
        children.config_map.metadata.name.as_deref(),
        Some("demo-toolyard-config")
    );
    assert_eq!(
        children.secret.metadata.name.as_deref(),
        Some("demo-toolyard-credentials")
    );
    assert_eq!(children.deployment.metadata.name.as_deref(), Some("demo"));
    assert_eq!(children.service.metadata.name.as_deref(), Some("demo"));
    assert!(children.pod_disruption_budget.is_none());

    // The ConfigMap holds the config and no secret value; the Secret only the referenced value.
    let text = children.config_map.data.as_ref().unwrap()["config.json"].clone();
    assert!(!text.contains("s3cret"));
    let back: GatewayConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, c.config);
    assert_eq!(
        render::decode_config_text(&children.config_map, &children.config_parts).unwrap(),
        text
    );
    assert_eq!(
        children.config_map.metadata.annotations.as_ref().unwrap()
            [render::CONFIG_REVISION_ANNOTATION],
        c.config.revision
    );
    let data = children.secret.data.as_ref().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data["users-key.token"].0, b"s3cret");

    // The Role: its own ConfigMap, the names its parts may have (get only) and Secret, by name.
    let rules = children.role.rules.as_ref().unwrap();
    assert_eq!(rules.len(), 3);
    for rule in rules {
        let names = rule.resource_names.as_ref().unwrap();
        if names.len() == 16 {
            assert_eq!(rule.verbs, ["get"]);
            assert!(names.iter().all(|n| n.starts_with("demo-toolyard-config-")));
            continue;
        }
        assert_eq!(names.len(), 1);
        assert!(names[0] == "demo-toolyard-config" || names[0] == "demo-toolyard-credentials");
        assert!(
            !rule
                .verbs
                .iter()
                .any(|v| v == "create" || v == "delete" || v == "update")
        );
    }
    let secret_rule = rules
        .iter()
        .find(|r| r.resources.as_ref().unwrap()[0] == "secrets")
        .unwrap();
    assert_eq!(secret_rule.verbs, ["get", "list", "watch"]);
    let subject = &children.role_binding.subjects.as_ref().unwrap()[0];
    assert_eq!(
        (subject.kind.as_str(), subject.name.as_str()),
        ("ServiceAccount", "demo-toolyard")
    );

    // The Deployment: defaults, in-cluster args, probes on the admin port, hardened.
    let spec = children.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("demo-toolyard"));
    let sc = pod.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some(Settings::default().gateway_image.as_str())
    );
    assert_eq!(container.image_pull_policy, None);
    let args = container.args.as_ref().unwrap().join(" ");
    assert!(args.contains("--kube-config-map demo-toolyard-config --kube-secret demo-toolyard-credentials --namespace default"), "{args}");
    let readiness = container
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(readiness.path.as_deref(), Some("/readyz"));
    let liveness = container
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(liveness.path.as_deref(), Some("/healthz"));
    let csc = container.security_context.as_ref().unwrap();
    assert_eq!(
        (
            csc.read_only_root_filesystem,
            csc.allow_privilege_escalation
        ),
        (Some(true), Some(false))
    );
    assert_eq!(
        csc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(),
        &["ALL".to_string()]
    );
    let resources = container.resources.as_ref().unwrap();
    assert!(resources.limits.as_ref().unwrap().contains_key("memory"));

    // The Service: port 80 to the container's http port.
    let port = &children
        .service
        .spec
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()[0];
    assert_eq!(port.port, 80);
    assert_eq!(serde_json::to_value(&port.target_port).unwrap(), "http");
    // The URL and Host names follow the Service.
    assert_eq!(
        render::url("demo", "default"),
        "http://demo.default.svc.cluster.local/mcp"
    );
    assert!(
        c.config
            .gateway
            .allowed_hosts
            .contains(&"demo.default.svc.cluster.local".to_string())
    );
}

#[test]
fn deployment_and_service_settings_are_honoured() {
    let gw = gateway("gateway-full.yaml");
    let c = compiled(&gw);
    let settings = Settings {
        gateway_image: "ignored:1".into(),
        image_pull_policy: Some("IfNotPresent".into()),
    };
    let children = render::render(&gw, &c.config, &BTreeMap::new(), &settings).unwrap();
    let spec = children.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let template = &spec.template;
    let meta = template.metadata.as_ref().unwrap();
    assert_eq!(meta.labels.as_ref().unwrap()["team"], "support");
    assert_eq!(
        meta.annotations.as_ref().unwrap()["prometheus.io/scrape"],
        "true"
    );
    let pod = template.spec.as_ref().unwrap();
    assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "tools");
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/toolyard-gateway:custom")
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
    let env = container.env.as_ref().unwrap();
    assert_eq!(
        env.iter()
            .find(|e| e.name == "RUST_LOG")
            .and_then(|e| e.value.as_deref()),
        Some("debug")
    );
    let requests = container
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap();
    assert_eq!(requests["cpu"].0, "100m");
    // A volume the user brings (a model directory) joins the gateway's own two.
    let volumes: Vec<&str> = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(volumes, ["tmp", "session-key", "models"]);
    let models = &pod.volumes.as_ref().unwrap()[2];
    assert_eq!(
        models
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("embedding-models")
    );
    let mount = container
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.name == "models")
        .unwrap();
    assert_eq!(
        (mount.mount_path.as_str(), mount.read_only),
        ("/models", Some(true))
    );

    let service = children.service.spec.as_ref().unwrap();
    assert_eq!(service.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(service.ports.as_ref().unwrap()[0].port, 8081);
    assert_eq!(
        children.service.metadata.annotations.as_ref().unwrap()["lb.example.com/internal"],
        "true"
    );

    let pdb = children.pod_disruption_budget.unwrap();
    assert_eq!(
        serde_json::to_value(pdb.spec.unwrap().min_available).unwrap(),
        1
    );
    assert_eq!(children.secret.data.as_ref().map(BTreeMap::len), Some(0));
}

#[test]
fn gateway_pods_terminate_gracefully() {
    let mut gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let pod_of = |gw: &Gateway| {
        let children = render::render(gw, &c.config, &credentials(), &Settings::default()).unwrap();
        serde_json::to_value(&children.deployment).unwrap()["spec"]["template"]["spec"].clone()
    };
    let arg_after = |container: &serde_json::Value, flag: &str| {
        let args = container["args"].as_array().unwrap();
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1].as_str().unwrap().to_string()
    };

    // Defaults: the kubelet's sleep action (no shell in the image), then the gateway's drain,
    // then in-flight calls within the grace period.
    let pod = pod_of(&gw);
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    let container = &pod["containers"][0];
    assert_eq!(
        container["lifecycle"],
        serde_json::json!({"preStop": {"sleep": {"seconds": 5}}})
    );
    assert_eq!(arg_after(container, "--drain-seconds"), "3");
    assert_eq!(arg_after(container, "--shutdown-timeout-seconds"), "20");
    // Readiness is what the gateway fails on SIGTERM; liveness stays up while it drains.
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["startupProbe"]["httpGet"]["path"], "/healthz");

    // Configured.
    let d = gw.spec.deployment.get_or_insert_with(Default::default);
    d.pre_stop_delay_seconds = Some(10);
    d.termination_grace_period_seconds = Some(60);
    let pod = pod_of(&gw);
    assert_eq!(pod["terminationGracePeriodSeconds"], 60);
    let container = &pod["containers"][0];
    assert_eq!(container["lifecycle"]["preStop"]["sleep"]["seconds"], 10);
    assert_eq!(arg_after(container, "--shutdown-timeout-seconds"), "45");

    // No delay: no preStop hook at all.
    let d = gw.spec.deployment.get_or_insert_with(Default::default);
    d.pre_stop_delay_seconds = Some(0);
    let pod = pod_of(&gw);
    assert!(pod["containers"][0].get("lifecycle").is_none());
    assert_eq!(
        arg_after(&pod["containers"][0], "--shutdown-timeout-seconds"),
        "55"
    );

    // A short grace period shortens the default delay so the drain still fits.
    let d = gw.spec.deployment.get_or_insert_with(Default::default);
    d.pre_stop_delay_seconds = None;
    d.termination_grace_period_seconds = Some(8);
    let t = render::Termination::of(d);
    assert_eq!(
        (t.pre_stop_seconds, t.grace_seconds, t.in_flight_seconds),
        (3, 8, 1)
    );
}

#[test]
fn autoscaling_renders_an_hpa_and_leaves_replicas_to_it() {
    let mut gw = gateway("gateway-full.yaml");
    let c = compiled(&gw);
    let settings = Settings::default();
    // Without autoscaling: no HPA, the Deployment owns its replica count.
    let plain = render::render(&gw, &c.config, &BTreeMap::new(), &settings).unwrap();
    assert!(plain.autoscaler.is_none());
    let plain_deployment = serde_json::to_value(&plain.deployment).unwrap();
    assert_eq!(plain_deployment["spec"]["replicas"], 2);

    let deployment = gw.spec.deployment.as_mut().unwrap();
    deployment.autoscaling = serde_json::from_value(serde_json::json!({
        "minReplicas": 2, "maxReplicas": 10, "targetCpuUtilization": 65
    }))
    .unwrap();
    let children = render::render(&gw, &c.config, &BTreeMap::new(), &settings).unwrap();
    let hpa = serde_json::to_value(children.autoscaler.as_ref().unwrap()).unwrap();
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["metadata"]["name"], "orders");
    assert_eq!(hpa["metadata"]["ownerReferences"][0]["kind"], "Gateway");
    assert_eq!(hpa["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        hpa["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        render::MANAGED_BY
    );
    assert!(hpa["metadata"]["annotations"][DESIRED_HASH_ANNOTATION].is_string());
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders"})
    );
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"],
        serde_json::json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}})
    );
    // The replica count is not applied at all, so server-side apply never resets the HPA's.
    let d = serde_json::to_value(&children.deployment).unwrap();
    assert!(d["spec"].get("replicas").is_none(), "{}", d["spec"]);
    assert_ne!(
        plain.deployment.metadata.annotations.as_ref().unwrap()[DESIRED_HASH_ANNOTATION],
        children.deployment.metadata.annotations.as_ref().unwrap()[DESIRED_HASH_ANNOTATION]
    );

    // Defaults: min 1, 80 % CPU.
    gw.spec.deployment.as_mut().unwrap().autoscaling =
        serde_json::from_value(serde_json::json!({"maxReplicas": 3})).unwrap();
    let children = render::render(&gw, &c.config, &BTreeMap::new(), &settings).unwrap();
    let hpa = serde_json::to_value(children.autoscaler.unwrap()).unwrap();
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
}

#[test]
fn tracing_settings_become_otel_environment_variables() {
    let mut gw = gateway("gateway-full.yaml");
    let c = compiled(&gw);
    let env_of = |gw: &Gateway| -> BTreeMap<String, String> {
        let children =
            render::render(gw, &c.config, &BTreeMap::new(), &Settings::default()).unwrap();
        let pod = children.deployment.spec.unwrap().template.spec.unwrap();
        pod.containers[0]
            .env
            .clone()
            .unwrap()
            .into_iter()
            .filter_map(|e| e.value.map(|v| (e.name, v)))
            .collect()
    };
    // Off by default: no OTEL_* variable at all.
    assert!(!env_of(&gw).keys().any(|k| k.starts_with("OTEL_")));

    gw.spec.deployment.as_mut().unwrap().tracing = serde_json::from_value(serde_json::json!({
        "otlpEndpoint": "http://otel-collector.observability:4318", "samplingRatio": 0.25
    }))
    .unwrap();
    let env = env_of(&gw);
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_ENDPOINT"],
        "http://otel-collector.observability:4318"
    );
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf");
    assert_eq!(env["OTEL_SERVICE_NAME"], "toolyard-gateway/orders");
    assert_eq!(env["OTEL_TRACES_SAMPLER"], "parentbased_traceidratio");
    assert_eq!(env["OTEL_TRACES_SAMPLER_ARG"], "0.25");
    assert!(env["OTEL_RESOURCE_ATTRIBUTES"].contains("k8s.namespace.name="));

    gw.spec.deployment.as_mut().unwrap().tracing = serde_json::from_value(serde_json::json!({
        "otlpEndpoint": "http://collector:4318"
    }))
    .unwrap();
    let env = env_of(&gw);
    assert!(!env.contains_key("OTEL_TRACES_SAMPLER"));
}

#[test]
fn content_hashes_change_only_with_content_and_never_cover_secret_values() {
    let gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let hash = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.annotations.as_ref().unwrap()[DESIRED_HASH_ANNOTATION].clone()
    };
    let a = render::render(&gw, &c.config, &credentials(), &Settings::default()).unwrap();
    let b = render::render(&gw, &c.config, &credentials(), &Settings::default()).unwrap();
    assert_eq!(hash(&a.config_map.metadata), hash(&b.config_map.metadata));
    assert_eq!(hash(&a.deployment.metadata), hash(&b.deployment.metadata));

    let rotated = BTreeMap::from([("users-key.token".to_string(), b"other".to_vec())]);
    let r = render::render(&gw, &c.config, &rotated, &Settings::default()).unwrap();
    assert_eq!(
        hash(&a.secret.metadata),
        hash(&r.secret.metadata),
        "the hash must not depend on secret values"
    );
    assert_ne!(a.secret.data, r.secret.data);

    let mut changed = c.config.clone();
    changed.gateway.instructions = Some("new".into());
    let d = render::render(&gw, &changed, &credentials(), &Settings::default()).unwrap();
    assert_ne!(hash(&a.config_map.metadata), hash(&d.config_map.metadata));
    assert_eq!(
        hash(&a.deployment.metadata),
        hash(&d.deployment.metadata),
        "a config change must not roll the pods"
    );
}

/// Deterministic, poorly compressible text.
fn noise(bytes: usize) -> String {
    let mut out = String::new();
    let mut state: u64 = 0x9e3779b97f4a7c15;
    while out.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(&format!("{state:016x}"));
    }
    out
}

#[test]
fn large_configs_are_gzipped_then_split_into_parts_and_too_large_ones_refused() {
    let gw = gateway("gateway-minimal.yaml");
    let mut config = compiled(&gw).config;
    config.gateway.description = Some("a".repeat(2 << 20));
    let children = render::render(&gw, &config, &BTreeMap::new(), &Settings::default()).unwrap();
    assert!(children.config_map.data.is_none());
    let gz = &children.config_map.binary_data.as_ref().unwrap()[render::CONFIG_GZ_KEY];
    assert!(gz.0.len() < 100 << 10);
    let text = render::decode_config_text(&children.config_map, &children.config_parts).unwrap();
    assert_eq!(
        serde_json::from_str::<GatewayConfig>(&text).unwrap(),
        config
    );

    assert!(children.config_parts.is_empty());

    // 4 MiB of hex noise gzips to about 2.2 MB: three parts and a manifest.
    config.gateway.description = Some(noise(4 << 20));
    let children = render::render(&gw, &config, &BTreeMap::new(), &Settings::default()).unwrap();
    assert_eq!(children.config_parts.len(), 3);
    let manifest = &children.config_map.data.as_ref().unwrap()[toolyard_crds::shards::MANIFEST_KEY];
    let manifest: toolyard_crds::shards::ShardManifest = serde_json::from_str(manifest).unwrap();
    assert_eq!(manifest.revision, config.revision);
    for (i, part) in children.config_parts.iter().enumerate() {
        assert_eq!(
            part.metadata.name.as_deref(),
            Some(format!("demo-toolyard-config-{}", i + 1).as_str())
        );
        assert_eq!(
            part.metadata.owner_references.as_ref().map(Vec::len),
            Some(1)
        );
        let bytes = &part.binary_data.as_ref().unwrap()[toolyard_crds::shards::PART_KEY];
        assert!(bytes.0.len() <= toolyard_crds::shards::PART_BYTES);
    }
    let text = render::decode_config_text(&children.config_map, &children.config_parts).unwrap();
    assert_eq!(
        serde_json::from_str::<GatewayConfig>(&text).unwrap(),
        config
    );
    // The gateway may read exactly the possible part names.
    let rules = children.role.rules.as_ref().unwrap();
    assert!(rules.iter().any(|r| {
        r.resource_names
            .as_ref()
            .is_some_and(|n| n.len() == 16 && n[15] == "demo-toolyard-config-16")
    }));

    // More than 16 parts is refused, saying what to do.
    let too_much = vec![0u8; 17 * toolyard_crds::shards::PART_BYTES];
    let err = render::split("demo-toolyard-config", "r", &too_much).unwrap_err();
    assert!(matches!(err, render::Error::ConfigTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("split the targets"), "{err}");
}

#[test]
fn target_status_explains_each_outcome_with_the_field_path() {
    let gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let now = at(1_000);

    let users = status::target_status(None, Some(2), "demo", report(&c, "users"), false, &now);
    assert_eq!(users.tool_names, ["users___getUser"]);
    assert_eq!(users.tools, Some(1));
    assert_eq!(users.observed_generation, Some(2));
    assert_eq!(
        condition(&users.conditions, "Accepted").unwrap().status,
        "True"
    );
    assert_eq!(
        condition(&users.conditions, "ResolvedRefs").unwrap().status,
        "True"
    );
    let ready = condition(&users.conditions, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Pending")
    );
    let served = status::target_status(
        Some(&users),
        Some(2),
        "demo",
        report(&c, "users"),
        true,
        &at(2_000),
    );
    let ready = condition(&served.conditions, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Ready")
    );
    assert_eq!(ready.last_transition_time, at(2_000));
    assert_eq!(
        condition(&served.conditions, "Accepted")
            .unwrap()
            .last_transition_time,
        at(1_000)
    );

    let broken = status::target_status(None, Some(1), "demo", report(&c, "broken"), true, &now);
    let rr = condition(&broken.conditions, "ResolvedRefs").unwrap();
    assert_eq!(
        (rr.status.as_str(), rr.reason.as_str()),
        ("False", "ConfigMapNotFound")
    );
    assert!(
        rr.message.starts_with("spec.openApi.schema.configMapRef:"),
        "{}",
        rr.message
    );
    assert_eq!(
        condition(&broken.conditions, "Accepted").unwrap().status,
        "True"
    );
    assert_eq!(
        condition(&broken.conditions, "Ready").unwrap().reason,
        "ConfigMapNotFound"
    );
    assert_eq!(broken.tools, Some(0));

    let nokey = status::target_status(None, Some(1), "demo", report(&c, "nokey"), true, &now);
    let rr = condition(&nokey.conditions, "ResolvedRefs").unwrap();
    assert_eq!(rr.reason, "SecretNotFound");
    assert!(
        rr.message.contains("spec.credentials.apiKey.secretRef"),
        "{}",
        rr.message
    );
    assert!(rr.message.contains("absent"));

    // Only the good target's tools are in the config.
    assert_eq!(c.config.tool_count(), 1);
}

#[test]
fn mcp_targets_report_their_listing_mode() {
    let yaml = r#"
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: discovered, namespace: default, generation: 1}
spec:
  gatewayRef: {name: demo}
  mcpServer: {url: "http://search.tools.svc.cluster.local/mcp"}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: declared, namespace: default, generation: 1}
spec:
  gatewayRef: {name: demo}
  mcpServer:
    url: http://search.tools.svc.cluster.local/mcp
    toolSchema: {inline: [{name: search, inputSchema: {type: object}}]}
---
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata: {name: contradictory, namespace: default, generation: 1}
spec:
  gatewayRef: {name: demo}
  mcpServer:
    url: http://search.tools.svc.cluster.local/mcp
    listingMode: Static
"#;
    let targets: Vec<GatewayTarget> = serde_yaml::Deserializer::from_str(yaml)
        .map(|d| GatewayTarget::deserialize(d).unwrap())
        .collect();
    let gw = gateway("gateway-minimal.yaml");
    let c = compile(
        &gw,
        &targets,
        &ResolvedRefs::default(),
        &CompileContext::default(),
    )
    .unwrap();
    let status_of =
        |name: &str| status::target_status(None, Some(1), "demo", report(&c, name), true, &at(0));
    use toolyard_crds::target::ListingMode;
    assert_eq!(
        status_of("discovered").listing_mode,
        Some(ListingMode::Cached)
    );
    let declared = status_of("declared");
    assert_eq!(declared.listing_mode, Some(ListingMode::Static));
    assert_eq!(declared.tool_names, ["declared___search"]);
    let contradictory = status_of("contradictory");
    assert_eq!(contradictory.listing_mode, None);
    let accepted = condition(&contradictory.conditions, "Accepted").unwrap();
    assert_eq!(
        (accepted.status.as_str(), accepted.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(
        accepted.message.starts_with(
            "spec.mcpServer.listingMode: Static serves the tools declared in toolSchema"
        ),
        "{}",
        accepted.message
    );
    // The field is serialized as the spec spells the mode.
    let json = serde_json::to_value(&declared).unwrap();
    assert_eq!(json["listingMode"], "Static");
}

#[test]
fn an_invalid_spec_is_not_accepted() {
    let mut bad = targets().remove(0);
    bad.spec.timeout = Some("forever".into());
    let gw = gateway("gateway-minimal.yaml");
    let c = compile(
        &gw,
        &[bad],
        &ResolvedRefs::default(),
        &CompileContext::default(),
    )
    .unwrap();
    let s = status::target_status(None, Some(1), "demo", &c.targets[0], true, &at(0));
    let accepted = condition(&s.conditions, "Accepted").unwrap();
    assert_eq!(
        (accepted.status.as_str(), accepted.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(
        accepted.message.starts_with("spec.timeout:"),
        "{}",
        accepted.message
    );
    assert_eq!(
        condition(&s.conditions, "ResolvedRefs").unwrap().status,
        "True"
    );
}

#[test]
fn gateway_status_is_programmed_only_when_the_gateway_serves_the_revision() {
    let gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let nobody = Replicas::default();
    let one = Replicas {
        reports: [("local".to_string(), c.config.revision.clone())].into(),
        pods: vec![pod("local", true, None)],
    };
    let pending = status::gateway_status(
        None,
        "demo",
        "default",
        Some(1),
        GatewayOutcome::Applied {
            config: &c.config,
            failed_targets: 2,
            replicas: &nobody,
        },
        &at(10),
    );
    assert_eq!(
        pending.url.as_deref(),
        Some("http://demo.default.svc.cluster.local/mcp")
    );
    assert_eq!((pending.targets, pending.tools), (Some(1), Some(1)));
    assert_eq!(
        pending.config_revision.as_deref(),
        Some(c.config.revision.as_str())
    );
    let programmed = condition(&pending.conditions, "Programmed").unwrap();
    assert_eq!(
        (programmed.status.as_str(), programmed.reason.as_str()),
        ("False", "Pending")
    );
    assert!(
        condition(&pending.conditions, "Ready")
            .unwrap()
            .message
            .contains("2 GatewayTarget(s) left out")
    );

    let serving = status::gateway_status(
        Some(&pending),
        "demo",
        "default",
        Some(1),
        GatewayOutcome::Applied {
            config: &c.config,
            failed_targets: 2,
            replicas: &one,
        },
        &at(20),
    );
    for type_ in ["Programmed", "Ready"] {
        let cond = condition(&serving.conditions, type_).unwrap();
        assert_eq!(
            (cond.status.as_str(), &cond.last_transition_time),
            ("True", &at(20))
        );
    }
    assert_eq!(serving.served_config_revision, serving.config_revision);

    // The same outcome later computes an equal status: nothing to write.
    let again = status::gateway_status(
        Some(&serving),
        "demo",
        "default",
        Some(1),
        GatewayOutcome::Applied {
            config: &c.config,
            failed_targets: 2,
            replicas: &one,
        },
        &at(99),
    );
    assert_eq!(again, serving);

    // A broken spec keeps the last counts and says why.
    let failed = status::gateway_status(
        Some(&serving),
        "demo",
        "default",
        Some(2),
        GatewayOutcome::Failed {
            reason: "InvalidSpec",
            message: "spec.inboundAuth: set exactly one",
        },
        &at(30),
    );
    let ready = condition(&failed.conditions, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(ready.message.starts_with("spec.inboundAuth"));
    assert_eq!(failed.tools, serving.tools);
    assert_eq!(failed.observed_generation, Some(2));
    let _: GatewayStatus = failed;
}

#[test]
fn condition_transition_times_are_kept_while_the_status_holds() {
    let first = merge_conditions(
        &[],
        &[Desired {
            type_: "Ready",
            status: false,
            reason: "Pending".into(),
            message: "a".into(),
        }],
        Some(1),
        &at(1),
    );
    // Same status, new reason and message: the transition time stays.
    let second = merge_conditions(
        &first,
        &[Desired {
            type_: "Ready",
            status: false,
            reason: "ConfigMapNotFound".into(),
            message: "b".into(),
        }],
        Some(2),
        &at(2),
    );
    assert_eq!(second[0].last_transition_time, at(1));
    assert_eq!(
        (second[0].reason.as_str(), second[0].observed_generation),
        ("ConfigMapNotFound", Some(2))
    );
    let third = merge_conditions(
        &second,
        &[Desired {
            type_: "Ready",
            status: true,
            reason: "Ready".into(),
            message: "c".into(),
        }],
        Some(2),
        &at(3),
    );
    assert_eq!(third[0].last_transition_time, at(3));
    // Long messages are cut to fit.
    let long = merge_conditions(
        &[],
        &[Desired {
            type_: "Ready",
            status: true,
            reason: "Ready".into(),
            message: "é".repeat(2000),
        }],
        None,
        &at(0),
    );
    assert!(long[0].message.len() <= 1024);
}

#[test]
fn targets_of_a_missing_gateway_say_so() {
    let s = status::blocked_target_status(
        None,
        Some(4),
        None,
        "GatewayNotFound",
        "spec.gatewayRef.name: no Gateway named x",
        &at(5),
    );
    let accepted = condition(&s.conditions, "Accepted").unwrap();
    assert_eq!(
        (accepted.status.as_str(), accepted.reason.as_str()),
        ("False", "GatewayNotFound")
    );
    assert_eq!(condition(&s.conditions, "Ready").unwrap().status, "False");
    assert_eq!(s.tools, Some(0));
    let again = status::blocked_target_status(
        Some(&s),
        Some(4),
        None,
        "GatewayNotFound",
        "spec.gatewayRef.name: no Gateway named x",
        &at(50),
    );
    assert_eq!(again, s);
}

/// A current pod of the gateway's Deployment.
fn pod(name: &str, ready: bool, fault: Option<(&str, &str)>) -> PodState {
    PodState {
        name: name.to_string(),
        key: name.to_string(),
        ready,
        fault: fault.map(|(reason, message)| Fault {
            reason: reason.to_string(),
            message: message.to_string(),
        }),
    }
}

fn reports(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn programmed_counts_every_ready_replica() {
    // Two ready pods, one serves the new revision: pending, naming the other.
    let half = Replicas {
        reports: reports(&[("gw-a", "r2"), ("gw-b", "r1")]),
        pods: vec![pod("gw-a", true, None), pod("gw-b", true, None)],
    }
    .serving("r2");
    assert!(!half.programmed);
    assert_eq!(half.reason, "Pending");
    assert_eq!(
        half.message,
        "1 of 2 ready replicas serve config revision r2; waiting for gw-b"
    );
    assert_eq!(half.served_revision.as_deref(), Some("r1"));

    // Both serve it; the report of a pod that is gone does not count.
    let all = Replicas {
        reports: reports(&[("gw-a", "r2"), ("gw-b", "r2"), ("gone", "r0")]),
        pods: vec![pod("gw-a", true, None), pod("gw-b", true, None)],
    }
    .serving("r2");
    assert!(all.programmed);
    assert_eq!(all.reason, "Programmed");
    assert_eq!(all.message, "all 2 ready replicas serve config revision r2");
    assert_eq!(all.served_revision.as_deref(), Some("r2"));

    // A ready pod that has not reported yet keeps it pending.
    let silent = Replicas {
        reports: reports(&[("gw-a", "r2")]),
        pods: vec![pod("gw-a", true, None), pod("gw-new", true, None)],
    }
    .serving("r2");
    assert!(!silent.programmed);
    assert!(
        silent.message.ends_with("waiting for gw-new"),
        "{}",
        silent.message
    );

    // A pod that is not ready takes no traffic: it neither counts nor blocks, and is mentioned.
    let one_starting = Replicas {
        reports: reports(&[("gw-a", "r2"), ("gw-b", "r1")]),
        pods: vec![pod("gw-a", true, None), pod("gw-b", false, None)],
    }
    .serving("r2");
    assert!(one_starting.programmed);
    assert_eq!(
        one_starting.message,
        "all 1 ready replicas serve config revision r2; 1 pod(s) not ready"
    );
}

#[test]
fn programmed_needs_a_ready_pod() {
    // Reports without any ready pod (the pods are Pending, or gateways run outside the
    // Deployment): not programmed, whatever they report.
    let pending = Replicas {
        reports: reports(&[("gw-a", "r2"), ("laptop", "r2")]),
        pods: vec![pod("gw-a", false, None), pod("gw-b", false, None)],
    }
    .serving("r2");
    assert!(!pending.programmed);
    assert_eq!(pending.reason, "Pending");
    assert_eq!(
        pending.message,
        "waiting for a pod of the gateway's Deployment to be ready to serve config revision r2 (2 not ready: gw-a, gw-b)"
    );
    assert_eq!(pending.served_revision, None);

    let no_pod = Replicas {
        reports: reports(&[("laptop", "r2")]),
        pods: vec![],
    }
    .serving("r2");
    assert!(!no_pod.programmed);
    assert!(
        no_pod.message.contains("no current pod yet"),
        "{}",
        no_pod.message
    );
}

#[test]
fn pod_faults_are_the_reason_when_no_pod_is_ready() {
    let pull = "pod gw-a container gateway: ImagePullBackOff: Back-off pulling image \"nope:1\"";
    let crash = "pod gw-b container gateway: CrashLoopBackOff (restarted 3 times; last exit: Error, exit code 1)";
    let broken = Replicas {
        reports: BTreeMap::new(),
        pods: vec![
            pod("gw-a", false, Some(("ImagePullBackOff", pull))),
            pod("gw-b", false, Some(("CrashLoopBackOff", crash))),
        ],
    };
    let s = broken.serving("r2");
    assert!(!s.programmed);
    assert_eq!(s.reason, "ImagePullBackOff");
    assert_eq!(
        s.message,
        format!("no gateway pod is ready: {pull}; {crash}")
    );

    // Through the Gateway status: both conditions carry the reason.
    let gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let status = status::gateway_status(
        None,
        "demo",
        "default",
        Some(1),
        GatewayOutcome::Applied {
            config: &c.config,
            failed_targets: 0,
            replicas: &broken,
        },
        &at(10),
    );
    for type_ in ["Programmed", "Ready"] {
        let cond = condition(&status.conditions, type_).unwrap();
        assert_eq!(
            (cond.status.as_str(), cond.reason.as_str()),
            ("False", "ImagePullBackOff"),
            "{type_}"
        );
    }
    assert!(
        condition(&status.conditions, "Programmed")
            .unwrap()
            .message
            .contains("container gateway: ImagePullBackOff"),
    );

    // One ready pod serving, another crash-looping: programmed, and the fault is in the message.
    let degraded = Replicas {
        reports: reports(&[("gw-a", "r2")]),
        pods: vec![
            pod("gw-a", true, None),
            pod("gw-b", false, Some(("CrashLoopBackOff", crash))),
        ],
    }
    .serving("r2");
    assert!(degraded.programmed);
    assert_eq!(
        degraded.message,
        format!("all 1 ready replicas serve config revision r2; 1 pod(s) not ready: {crash}")
    );
}

#[test]
fn the_session_key_secret_is_mounted_into_every_replica() {
    let gw = gateway("gateway-minimal.yaml");
    let c = compiled(&gw);
    let children = render::render(&gw, &c.config, &credentials(), &Settings::default()).unwrap();
    // Rendered without a value: the controller creates it once with a random key.
    let key = &children.session_key;
    assert_eq!(
        key.metadata.name.as_deref(),
        Some("demo-toolyard-session-key")
    );
    assert!(key.data.is_none());
    assert_eq!(
        key.metadata.owner_references.as_ref().unwrap()[0].name,
        "demo"
    );
    let pod =
        serde_json::to_value(&children.deployment).unwrap()["spec"]["template"]["spec"].clone();
    let container = &pod["containers"][0];
    let env: Vec<&serde_json::Value> = container["env"].as_array().unwrap().iter().collect();
    assert!(
        env.iter().any(|e| e["name"] == "TOOLYARD_SESSION_KEY_FILE"
            && e["value"] == format!("{}/key", render::SESSION_KEY_DIR)),
        "{env:?}"
    );
    assert!(
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "session-key" && m["readOnly"] == true),
        "{container}"
    );
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["secret"]["secretName"] == "demo-toolyard-session-key"),
        "{pod}"
    );
}
