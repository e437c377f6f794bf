//! Stored events → STIX Cyber-observable objects and one observed-data per event.
//!
//! The OCSF object of every decoder is read generically (process / actor / user / file /
//! endpoints / HTTP request / finding evidences), so every source maps through the same
//! code; Windows events, whose OCSF form is minimal, are read from their raw record.

use std::collections::HashSet;
use std::net::IpAddr;

use base64::Engine;
use serde_json::{json, Map, Value};
use vigil_store::EventRow;

use crate::ids::{process_id, sco_id, timestamp};

/// Nested parent processes followed (OCSF chains can be long; STIX needs only a few).
const MAX_PARENT_DEPTH: usize = 4;
/// Finding evidences mapped per event.
const MAX_EVIDENCES: usize = 16;
/// Raw records larger than this are not embedded as an artifact.
const MAX_ARTIFACT_BYTES: usize = 64 * 1024;
/// Longest text property kept (command lines, paths).
const MAX_TEXT: usize = 8 * 1024;

/// The SCOs of one event, without duplicates, in creation order.
struct Observables<'e> {
    event: &'e EventRow,
    objects: Vec<Value>,
    seen: HashSet<String>,
    /// `account_type` for users of this source (`unix` on Linux sources).
    account_type: Option<&'static str>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s != "-").then(|| cut(s).to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn cut(s: &str) -> &str {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(text)
}

/// A non-negative integer from a number, a decimal string or a `0x` hex string.
fn integer(value: &Value) -> Option<i64> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }?;
    (n >= 0).then_some(n)
}

fn port(value: Option<&Value>) -> Option<i64> {
    value.and_then(integer).filter(|p| (0..=65535).contains(p))
}

/// Last path component, for `/` and `\` separated paths.
fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn parent_dir(path: &str) -> Option<&str> {
    let i = path.rfind(['/', '\\'])?;
    let dir = &path[..i];
    Some(if dir.is_empty() { &path[..1] } else { dir })
}

/// STIX hash names for the algorithm names decoders use, with their hex lengths.
fn hash_name(algorithm: &str) -> Option<(&'static str, usize)> {
    match algorithm.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
        "MD5" => Some(("MD5", 32)),
        "SHA1" => Some(("SHA-1", 40)),
        "SHA256" => Some(("SHA-256", 64)),
        "SHA512" => Some(("SHA-512", 128)),
        _ => None,
    }
}

fn add_hash(hashes: &mut Map<String, Value>, algorithm: &str, value: &str) {
    if let Some((name, len)) = hash_name(algorithm) {
        let value = value.trim();
        if value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            hashes.insert(name.to_owned(), Value::String(value.to_ascii_lowercase()));
        }
    }
}

/// Whether `name` looks like a DNS name (not an IP, at least one dot, legal characters).
fn is_domain_name(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.parse::<IpAddr>().is_err()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && name.bytes().any(|b| b.is_ascii_alphabetic())
}

impl<'e> Observables<'e> {
    fn new(event: &'e EventRow) -> Self {
        let account_type = match event.source.as_str() {
            "tetragon" | "auditd" | "syslog" | "cowrie" | "falco" | "kubescape" => Some("unix"),
            _ => None,
        };
        Observables { event, objects: Vec::new(), seen: HashSet::new(), account_type }
    }

    fn push(&mut self, object: Value) -> String {
        let id = object["id"].as_str().expect("objects are built with an id").to_owned();
        if self.seen.insert(id.clone()) {
            self.objects.push(object);
        }
        id
    }

    fn time_ms(&self) -> i64 {
        if self.event.time_ms > 0 {
            self.event.time_ms
        } else {
            self.event.received_ms
        }
    }

    fn ip(&mut self, address: &str) -> Option<String> {
        let ip: IpAddr = address.trim().trim_start_matches('[').trim_end_matches(']').parse().ok()?;
        let (object_type, value) = match ip {
            IpAddr::V4(v4) => ("ipv4-addr", v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ("ipv4-addr", v4.to_string()),
                None => ("ipv6-addr", v6.to_string()),
            },
        };
        Some(self.push(json!({
            "type": object_type,
            "spec_version": "2.1",
            "id": sco_id(object_type, &json!({"value": value})),
            "value": value,
        })))
    }

    fn domain(&mut self, name: &str) -> Option<String> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if !is_domain_name(&name) {
            return None;
        }
        Some(self.push(json!({
            "type": "domain-name",
            "spec_version": "2.1",
            "id": sco_id("domain-name", &json!({"value": name})),
            "value": name,
        })))
    }

    /// An address object for an OCSF endpoint: its IP, else its host name.
    fn endpoint(&mut self, endpoint: Option<&Value>) -> Option<String> {
        let endpoint = endpoint?;
        field(endpoint, "ip")
            .and_then(|ip| self.ip(&ip))
            .or_else(|| field(endpoint, "hostname").and_then(|h| self.domain(&h)))
            .or_else(|| field(endpoint, "domain").and_then(|h| self.domain(&h)))
    }

    fn directory(&mut self, path: &str) -> String {
        self.push(json!({
            "type": "directory",
            "spec_version": "2.1",
            "id": sco_id("directory", &json!({"path": path})),
            "path": path,
        }))
    }

    /// A file from a path and/or name, with hashes when known.
    fn file(&mut self, path: Option<&str>, name: Option<&str>, hashes: Map<String, Value>) -> Option<String> {
        let name = name.map(str::to_owned).or_else(|| path.map(|p| base_name(p).to_owned())).filter(|n| !n.is_empty());
        if name.is_none() && hashes.is_empty() {
            return None;
        }
        // The directory is only the file's when the path ends in the same name (Cowrie
        // stores downloads under their hash, not their name).
        let directory = path
            .filter(|p| name.as_deref().iter().all(|n| base_name(p) == *n))
            .and_then(parent_dir)
            .map(|d| self.directory(d));
        let mut contributing = Map::new();
        let mut object = json!({"type": "file", "spec_version": "2.1"});
        if !hashes.is_empty() {
            contributing.insert("hashes".into(), Value::Object(hashes.clone()));
            object["hashes"] = Value::Object(hashes);
        }
        if let Some(name) = name {
            contributing.insert("name".into(), json!(name));
            object["name"] = json!(name);
        }
        if let Some(dir) = directory {
            contributing.insert("parent_directory_ref".into(), json!(dir));
            object["parent_directory_ref"] = json!(dir);
        }
        object["id"] = json!(sco_id("file", &Value::Object(contributing)));
        Some(self.push(object))
    }

    /// An OCSF file object.
    fn ocsf_file(&mut self, file: Option<&Value>) -> Option<String> {
        let file = file?;
        let mut hashes = Map::new();
        if let Some(list) = file.get("hashes").and_then(Value::as_array) {
            for h in list {
                if let (Some(a), Some(v)) = (field(h, "algorithm"), field(h, "value")) {
                    add_hash(&mut hashes, &a, &v);
                }
            }
        }
        self.file(field(file, "path").as_deref(), field(file, "name").as_deref(), hashes)
    }

    fn user_account(
        &mut self,
        login: Option<String>,
        user_id: Option<String>,
        account_type: Option<&str>,
    ) -> Option<String> {
        if login.is_none() && user_id.is_none() {
            return None;
        }
        let mut contributing = Map::new();
        if let Some(t) = account_type {
            contributing.insert("account_type".into(), json!(t));
        }
        if let Some(u) = &user_id {
            contributing.insert("user_id".into(), json!(u));
        }
        if let Some(l) = &login {
            contributing.insert("account_login".into(), json!(l));
        }
        let mut object = Value::Object(contributing.clone());
        object["type"] = json!("user-account");
        object["spec_version"] = json!("2.1");
        object["id"] = json!(sco_id("user-account", &Value::Object(contributing)));
        if account_type == Some("unix") && user_id.as_deref() == Some("0") {
            object["is_privileged"] = json!(true);
        }
        Some(self.push(object))
    }

    /// An OCSF user object.
    fn ocsf_user(&mut self, user: Option<&Value>) -> Option<String> {
        let user = user?;
        let account_type = self.account_type;
        self.user_account(field(user, "name"), field(user, "uid"), account_type)
    }

    /// An OCSF process object, its image, user and parents.
    fn ocsf_process(&mut self, process: Option<&Value>, role: &str, depth: usize) -> Option<String> {
        let process = process?.as_object()?;
        let p = Value::Object(process.clone());
        let pid = p.get("pid").and_then(integer);
        let created = p.get("created_time").and_then(integer).filter(|t| *t > 0);
        let command_line = field(&p, "cmd_line");
        let file = p.get("file");
        let image_path = file.and_then(|f| field(f, "path"));
        let name = field(&p, "name");
        if pid.is_none() && command_line.is_none() && image_path.is_none() && name.is_none() {
            return None;
        }
        let host = self.event.host.clone().unwrap_or_default();
        let key = match (field(&p, "uid"), pid, created) {
            (Some(uid), _, _) => format!("uid:{host}:{uid}"),
            (None, Some(pid), Some(created)) => format!("pid:{host}:{pid}:{created}"),
            _ => format!("event:{}:{role}:{depth}", self.event.event_id),
        };
        let mut object = json!({"type": "process", "spec_version": "2.1", "id": process_id(&key)});
        if let Some(pid) = pid {
            object["pid"] = json!(pid);
        }
        if let Some(created) = created {
            object["created_time"] = json!(timestamp(created));
        }
        if let Some(cwd) = field(&p, "cwd") {
            object["cwd"] = json!(cwd);
        }
        if let Some(cl) = &command_line {
            object["command_line"] = json!(cl);
        }
        let image = match file {
            Some(_) => self.ocsf_file(file),
            None => name.as_deref().and_then(|n| self.file(None, Some(n), Map::new())),
        };
        if let Some(image) = image {
            object["image_ref"] = json!(image);
        }
        if let Some(user) = self.ocsf_user(p.get("user")) {
            object["creator_user_ref"] = json!(user);
        }
        if depth < MAX_PARENT_DEPTH {
            if let Some(parent) = self.ocsf_process(p.get("parent_process"), role, depth + 1) {
                object["parent_ref"] = json!(parent);
            }
        }
        Some(self.push(object))
    }

    /// network-traffic between two OCSF endpoints, when at least one has an address.
    fn traffic(
        &mut self,
        src: Option<&Value>,
        dst: Option<&Value>,
        protocol: Option<String>,
        extension: Option<(&str, Value)>,
    ) -> Option<String> {
        let src_ref = self.endpoint(src);
        let dst_ref = self.endpoint(dst);
        let src_port = port(src.and_then(|e| e.get("port")));
        let dst_port = port(dst.and_then(|e| e.get("port")));
        // Strict validation wants both ports on network-traffic; without them the
        // addresses alone are what the event shows.
        let (Some(src_port), Some(dst_port)) = (src_port, dst_port) else { return None };
        if src_ref.is_none() && dst_ref.is_none() {
            return None;
        }
        let network = if [&src_ref, &dst_ref].iter().any(|r| r.as_deref().is_some_and(|r| r.starts_with("ipv6-addr"))) {
            "ipv6"
        } else {
            "ipv4"
        };
        let mut protocols = vec![json!(network)];
        let transport = protocol
            .map(|p| p.to_ascii_lowercase())
            .filter(|p| p.len() <= 32 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        match transport.as_deref() {
            Some("tcp" | "udp" | "icmp" | "sctp") => protocols.push(json!(transport)),
            Some(application) => {
                protocols.push(json!("tcp"));
                protocols.push(json!(application));
            }
            None => {}
        }
        let mut contributing = Map::new();
        contributing.insert("start".into(), json!(timestamp(self.time_ms())));
        if let Some(r) = &src_ref {
            contributing.insert("src_ref".into(), json!(r));
        }
        if let Some(r) = &dst_ref {
            contributing.insert("dst_ref".into(), json!(r));
        }
        contributing.insert("src_port".into(), json!(src_port));
        contributing.insert("dst_port".into(), json!(dst_port));
        contributing.insert("protocols".into(), Value::Array(protocols));
        if let Some((name, ext)) = extension {
            contributing.insert("extensions".into(), json!({ name: ext }));
        }
        let mut object = Value::Object(contributing.clone());
        object["type"] = json!("network-traffic");
        object["spec_version"] = json!("2.1");
        object["id"] = json!(sco_id("network-traffic", &Value::Object(contributing)));
        Some(self.push(object))
    }

    fn artifact(&mut self, raw: &str) -> Option<String> {
        if raw.is_empty() || raw.len() > MAX_ARTIFACT_BYTES {
            return None;
        }
        let payload = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
        let mime = if raw.trim_start().starts_with('{') { "application/json" } else { "text/plain" };
        Some(self.push(json!({
            "type": "artifact",
            "spec_version": "2.1",
            "id": sco_id("artifact", &json!({"payload_bin": payload})),
            "mime_type": mime,
            "payload_bin": payload,
        })))
    }

    fn ocsf(&mut self, ocsf: &Value) {
        self.ocsf_process(ocsf.get("process"), "process", 0);
        let actor = ocsf.get("actor");
        self.ocsf_process(actor.and_then(|a| a.get("process")), "actor", 0);
        self.ocsf_user(actor.and_then(|a| a.get("user")));
        self.ocsf_user(ocsf.get("user"));
        self.ocsf_file(ocsf.get("file"));
        let protocol = ocsf
            .pointer("/connection_info/protocol_name")
            .and_then(text)
            .or_else(|| ocsf.pointer("/service/name").and_then(text))
            .or_else(|| ocsf.get("app_name").and_then(text));
        let src = ocsf.get("src_endpoint");
        let dst = ocsf.get("dst_endpoint");
        let http = ocsf.get("http_request").and_then(|h| http_request_ext(h, ocsf));
        let has_port = [src, dst].iter().any(|e| port(e.and_then(|e| e.get("port"))).is_some());
        if http.is_some() || has_port || ocsf.get("class_uid").and_then(Value::as_i64) == Some(4001) {
            let protocol = if http.is_some() { Some("http".to_owned()) } else { protocol };
            self.traffic(src, dst, protocol, http.map(|h| ("http-request-ext", h)));
        } else {
            self.endpoint(src);
            self.endpoint(dst);
        }
        if let Some(evidences) = ocsf.get("evidences").and_then(Value::as_array) {
            for (i, evidence) in evidences.iter().take(MAX_EVIDENCES).enumerate() {
                let role = format!("evidence{i}");
                self.ocsf_process(evidence.get("process"), &role, 0);
                self.ocsf_file(evidence.get("file"));
                self.ocsf_user(evidence.get("actor").and_then(|a| a.get("user")));
                self.endpoint(evidence.get("src_endpoint"));
                self.endpoint(evidence.get("dst_endpoint"));
            }
        }
    }

    /// Windows records (evtx_dump nested shape or flattened), read from the raw text.
    fn windows(&mut self, raw: &str) {
        let Ok(record) = serde_json::from_str::<Value>(raw) else { return };
        let mut fields = Map::new();
        let system = record.pointer("/Event/System");
        for data in [record.pointer("/Event/EventData"), record.pointer("/Event/UserData")].into_iter().flatten() {
            if let Some(map) = data.as_object() {
                for (k, v) in map {
                    match v {
                        // UserData wraps its fields in one element named after the event.
                        Value::Object(inner) if !k.starts_with('#') => {
                            fields.extend(inner.iter().map(|(k, v)| (k.clone(), v.clone())))
                        }
                        _ => {
                            fields.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        if let Some(flat) = record.as_object().filter(|_| system.is_none()) {
            fields.extend(flat.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let get = |names: &[&str]| names.iter().find_map(|n| fields.get(*n).and_then(text));
        let mut hashes = Map::new();
        if let Some(list) = get(&["Hashes", "Hash"]) {
            for pair in list.split(',') {
                if let Some((a, v)) = pair.split_once('=') {
                    add_hash(&mut hashes, a, v);
                }
            }
        }
        let user = |s: Option<String>| -> Option<(Option<String>, String)> {
            let s = s?;
            match s.split_once('\\') {
                Some((domain, name)) => Some((Some(domain.to_owned()), name.to_owned())),
                None => Some((None, s)),
            }
        };
        let account = |obs: &mut Self, value: Option<String>, sid: Option<String>| -> Option<String> {
            let (_, login) = user(value)?;
            obs.user_account(Some(login), sid.filter(|s| s.starts_with("S-")), None)
        };
        let image = get(&["Image", "NewProcessName", "ProcessName"]);
        let command_line = get(&["CommandLine"]);
        let pid = ["ProcessId", "NewProcessId"].iter().find_map(|n| fields.get(*n).and_then(integer));
        if image.is_some() || command_line.is_some() || pid.is_some() {
            let parent_image = get(&["ParentImage", "ParentProcessName"]);
            let parent_pid = fields.get("ParentProcessId").and_then(integer);
            let process_user = account(self, get(&["User"]), None);
            let mut parent = None;
            if parent_image.is_some() || parent_pid.is_some() {
                let mut p = json!({"pid": parent_pid, "cmd_line": get(&["ParentCommandLine"]), "uid": get(&["ParentProcessGuid"]),
                    "file": parent_image.as_ref().map(|i| json!({"path": i}))});
                strip_nulls(&mut p);
                parent = self.ocsf_process(Some(&p), "windows-parent", 0);
            }
            let mut p = json!({"pid": pid, "cmd_line": command_line, "cwd": get(&["CurrentDirectory"]), "uid": get(&["ProcessGuid"]),
                "file": image.as_ref().map(|i| json!({"path": i}))});
            strip_nulls(&mut p);
            if let Some(id) = self.ocsf_process(Some(&p), "windows", 0) {
                // Windows images carry their hashes; user and parent come from separate fields.
                if !hashes.is_empty() {
                    if let Some(path) = &image {
                        let file = self.file(Some(path), None, hashes.clone());
                        self.set_ref(&id, "image_ref", file);
                    }
                }
                self.set_ref(&id, "creator_user_ref", process_user);
                self.set_ref(&id, "parent_ref", parent);
            }
        }
        account(self, get(&["TargetUserName"]), get(&["TargetUserSid"]));
        account(self, get(&["SubjectUserName"]), get(&["SubjectUserSid"]));
        if let Some(target) = get(&["TargetFilename"]) {
            self.file(Some(&target), None, Map::new());
        }
        if let Some(q) = get(&["QueryName", "DestinationHostname"]) {
            self.domain(&q);
        }
        let src =
            json!({"ip": get(&["SourceIp", "IpAddress", "SourceAddress"]), "port": get(&["SourcePort", "IpPort"])});
        let dst = json!({"ip": get(&["DestinationIp", "DestAddress"]), "port": get(&["DestinationPort", "DestPort"])});
        let protocol = get(&["Protocol"]).filter(|p| !p.bytes().all(|b| b.is_ascii_digit()));
        let has_port = port(src.get("port")).is_some() || port(dst.get("port")).is_some();
        if has_port {
            self.traffic(Some(&src), Some(&dst), protocol, None);
        } else {
            self.endpoint(Some(&src));
            self.endpoint(Some(&dst));
        }
    }

    /// Sets a reference on an object already pushed (when it was built before its
    /// referent).
    fn set_ref(&mut self, id: &str, name: &str, target: Option<String>) {
        let Some(target) = target else { return };
        if let Some(object) = self.objects.iter_mut().find(|o| o["id"] == id) {
            if object.get(name).is_none() {
                object[name] = json!(target);
            }
        }
    }
}

fn strip_nulls(value: &mut Value) {
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
}

/// The HTTP request extension of a Kubernetes API call: verb as method, URL as value.
fn http_request_ext(http: &Value, ocsf: &Value) -> Option<Value> {
    let url = http.get("url")?;
    let mut value = field(url, "path")?;
    if let Some(q) = field(url, "query_string") {
        value.push('?');
        value.push_str(&q);
    }
    let method = field(http, "http_method").or_else(|| {
        let verb = ocsf.pointer("/api/operation").and_then(text)?;
        Some(
            match verb.as_str() {
                "create" => "POST",
                "update" => "PUT",
                "patch" => "PATCH",
                "delete" | "deletecollection" => "DELETE",
                _ => "GET",
            }
            .to_owned(),
        )
    })?;
    let mut ext = json!({"request_method": method, "request_value": value});
    if let Some(agent) = field(http, "user_agent") {
        ext["request_header"] = json!({"User-Agent": agent});
    }
    Some(ext)
}

/// One event's SCOs and its observed-data object (last).
pub(crate) fn event_objects(event: &EventRow) -> Vec<Value> {
    let mut observables = Observables::new(event);
    if event.source == "windows" {
        observables.windows(&event.raw);
    }
    observables.ocsf(&event.ocsf);
    if observables.objects.is_empty() {
        // Nothing recognisable (a compliance finding, a bare message): the record itself.
        observables.artifact(&event.raw);
    }
    if observables.objects.is_empty() {
        observables.artifact(&format!("{} event {}", event.source, event.event_id));
    }
    let time = timestamp(observables.time_ms());
    let refs: Vec<Value> = observables.objects.iter().map(|o| o["id"].clone()).collect();
    let mut objects = observables.objects;
    objects.push(json!({
        "type": "observed-data",
        "spec_version": "2.1",
        "id": crate::observed_data_id(&event.event_id),
        "created_by_ref": crate::producer_identity_id(),
        "created": time,
        "modified": time,
        "first_observed": time,
        "last_observed": time,
        "number_observed": 1,
        "object_refs": refs,
    }));
    objects
}
