//! `vigil stix`: bundles from every sample source pass the OASIS validator in strict
//! mode, ids are stable across runs, and import keeps valid bundles whole and refuses
//! invalid ones whole.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

/// A path from an environment variable, or `None` after a visible skip (fails in CI).
fn required_env(name: &str, test: &str) -> Option<PathBuf> {
    // Relative paths (the README's `VIGIL_CORPUS=../shared/corpus`) are relative to the
    // repository root, where the test command runs; tests run in the crate's directory.
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os(name).map(|p| repo_root.join(p)).filter(|p| p.exists()) {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => panic!("{name} is unset or missing; {test} needs it"),
        None => {
            eprintln!("skipped: {test}: {name} is unset or missing");
            None
        }
    }
}

fn repo_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

/// Runs `vigil stix build` into `out` and returns the bundle files written.
fn build(corpus: &Path, out: &Path, inputs: &[&str]) -> Vec<PathBuf> {
    let mut cmd = vigil();
    cmd.arg("stix").arg("build").arg("--rules").arg(repo_rules());
    // A few SigmaHQ rule folders so the Linux and Windows samples raise sightings too.
    for extra in ["sigma/rules/linux/process_creation", "sigma/rules/windows/builtin/security"] {
        cmd.arg(corpus.join(extra));
    }
    cmd.arg("--out").arg(out);
    for input in inputs {
        cmd.arg(corpus.join("samples").join(input));
    }
    let output = cmd.output().expect("vigil runs");
    assert!(output.status.success(), "vigil stix build failed: {}", String::from_utf8_lossy(&output.stderr));
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("output directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn objects(files: &[PathBuf]) -> Vec<serde_json::Value> {
    files
        .iter()
        .flat_map(|f| {
            let bundle: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            assert_eq!(bundle["type"], "bundle");
            bundle["objects"].as_array().unwrap().clone()
        })
        .collect()
}

const SOURCES: &[(&str, &[&str])] = &[
    ("tetragon", &["tetragon/testdata_events.jsonl", "tetragon/third-party"]),
    ("kubescape-node-agent", &["kubescape/node-agent"]),
    ("kubescape-scan", &["kubescape/scan-results"]),
    ("falco", &["falco"]),
    ("cowrie-simulated", &["cowrie/bilal05tariq-aws-simulated"]),
    ("cowrie-real", &["cowrie/pol-alvarezzz-aws-2026-real/cowrie.json.2026-03-18.jsonl"]),
    ("k8s-audit", &["k8s-audit"]),
    ("linux-auth", &["linux-auth"]),
    ("otrf-auditd", &["otrf-security-datasets/linux"]),
    (
        "evtx",
        &[
            "evtx/hayabusa-sample-evtx-DeepBlueCLI/password-spray.evtx",
            "evtx/hayabusa-sample-evtx-DeepBlueCLI/new-user-security.evtx",
        ],
    ),
];

#[test]
fn bundles_of_every_source_pass_the_strict_validator() {
    let Some(corpus) = required_env("VIGIL_CORPUS", "stix validation") else { return };
    let Some(python) = required_env("VIGIL_PYTHON", "stix validation") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for (name, inputs) in SOURCES {
        let out = dir.path().join(name);
        let files = build(&corpus, &out, inputs);
        assert!(!files.is_empty(), "{name}: no bundle written");
        // The package has no `__main__`; call its console script's entry point.
        let validation = Command::new(&python)
            .args(["-c", "import sys; from stix2validator.scripts.stix2_validator import main; sys.exit(main())"])
            .arg("--strict")
            .args(&files)
            .output()
            .expect("the validator runs");
        assert!(
            validation.status.success(),
            "{name}: the strict validator rejected the bundles:\n{}\n{}",
            String::from_utf8_lossy(&validation.stdout),
            String::from_utf8_lossy(&validation.stderr)
        );
        let objects = objects(&files);
        assert!(objects.iter().any(|o| o["type"] == "observed-data"), "{name}: no observed-data");
        for bundle in &files {
            let text = std::fs::read_to_string(bundle).unwrap();
            let bundle: serde_json::Value = serde_json::from_str(&text).unwrap();
            let ids: Vec<&str> =
                bundle["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
            let unique: BTreeSet<&str> = ids.iter().copied().collect();
            assert_eq!(ids.len(), unique.len(), "{name}: duplicate ids in {}", bundle["id"]);
            assert!(ids.iter().any(|i| i.starts_with("identity--")), "{name}: a bundle without the producer");
        }
        all.extend(objects);
    }
    for kind in
        ["sighting", "indicator", "attack-pattern", "relationship", "grouping", "process", "ipv4-addr", "user-account"]
    {
        assert!(all.iter().any(|o| o["type"] == kind), "no {kind} in any bundle");
    }
    // Indicators are Sigma rules; attack patterns carry MITRE's references.
    let indicator = all.iter().find(|o| o["type"] == "indicator").unwrap();
    assert_eq!(indicator["pattern_type"], "sigma");
    assert!(indicator["pattern"].as_str().unwrap().contains("detection"));
    let pattern = all.iter().find(|o| o["type"] == "attack-pattern").unwrap();
    assert_eq!(pattern["external_references"][0]["source_name"], "mitre-attack");
}

fn observable_ids(files: &[PathBuf]) -> BTreeSet<String> {
    objects(files)
        .iter()
        .filter(|o| o["type"] != "identity" && !o["id"].as_str().unwrap().starts_with("bundle--"))
        .filter(|o| o.get("created").is_none() || o["type"] == "observed-data")
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_same_input_gives_the_same_ids() {
    let Some(corpus) = required_env("VIGIL_CORPUS", "stix id stability") else { return };
    let dir = tempfile::tempdir().unwrap();
    let inputs = ["tetragon/testdata_events.jsonl", "cowrie/bilal05tariq-aws-simulated"];
    let first = observable_ids(&build(&corpus, &dir.path().join("a"), &inputs));
    let second = observable_ids(&build(&corpus, &dir.path().join("b"), &inputs));
    assert!(first.iter().any(|i| i.starts_with("process--")));
    assert!(first.iter().any(|i| i.starts_with("observed-data--")));
    assert!(first.iter().any(|i| i.starts_with("ipv4-addr--")));
    assert_eq!(first, second);
}

fn stored_count(store: &Path) -> u64 {
    let store = vigil_store::Store::open(store, vigil_store::StoreOptions::default()).unwrap();
    store.stix_object_count().unwrap()
}

#[test]
fn import_keeps_valid_bundles_and_refuses_invalid_ones_whole() {
    let Some(corpus) = required_env("VIGIL_CORPUS", "stix import") else { return };
    let stix = corpus.join("samples/stix");
    let dir = tempfile::tempdir().unwrap();

    let rejected_store = dir.path().join("rejected");
    let mut rejected = 0;
    for entry in std::fs::read_dir(stix.join("examples-k8sstormcenter")).unwrap() {
        let file = entry.unwrap().path();
        let output = vigil().args(["stix", "import", "--store"]).arg(&rejected_store).arg(&file).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{} was not refused: {stderr}", file.display());
        assert!(stderr.contains("invalid STIX: "), "{}: no reason given: {stderr}", file.display());
        eprintln!("refused as expected: {}", stderr.trim());
        rejected += 1;
    }
    assert_eq!(rejected, 5);
    if rejected_store.join("vigil.db").exists() {
        assert_eq!(stored_count(&rejected_store), 0);
    }

    let store = dir.path().join("store");
    let reference = stix.join("reference/reference_bundle.json");
    let output = vigil().args(["stix", "import", "--store"]).arg(&store).arg(&reference).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stored_count(&store), 34);
    // A second import of the same versions adds nothing.
    let output = vigil().args(["stix", "import", "--store"]).arg(&store).arg(&reference).output().unwrap();
    assert!(output.status.success());
    assert_eq!(stored_count(&store), 34);
}
